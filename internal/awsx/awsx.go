// Package awsx builds the AWS clients Lifeboat uses. With no endpoint set it
// talks to real AWS through the default credential chain; with
// AWS_ENDPOINT_URL (or a service-specific AWS_ENDPOINT_URL_*) set, as for moto
// server, it keeps the SDK's endpoint handling and switches S3 to path-style
// addressing, which emulators need.
package awsx

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Clients are the AWS service clients shared by activities and the CLI.
type Clients struct {
	Config   aws.Config
	DynamoDB *dynamodb.Client
	// S3 is the client of the configuration's region. Calls on a backup
	// location's bucket go through Buckets, which may live elsewhere.
	S3 *s3.Client
	// Buckets sends each call to a client of its bucket's region.
	Buckets *Buckets

	ec2Mu sync.Mutex
	ec2   map[string]*ec2.Client
	ec2As map[Role]map[string]*ec2.Client
	kms   map[string]*kms.Client

	accountMu sync.Mutex
	account   string
}

// Load reads the AWS configuration from the environment and builds the clients.
func Load(ctx context.Context) (*Clients, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("load AWS configuration: no region set (set AWS_REGION)")
	}
	return New(cfg), nil
}

// New builds the clients from an existing configuration.
func New(cfg aws.Config) *Clients {
	pathStyle := os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != "" || cfg.BaseEndpoint != nil
	s3opts := func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		// Emulators answer without checksums; the SDK would log a line per GetObject.
		o.DisableLogOutputChecksumValidationSkipped = true
	}
	home := s3.NewFromConfig(cfg, s3opts)
	return &Clients{
		Config:   cfg,
		DynamoDB: dynamodb.NewFromConfig(cfg),
		S3:       home,
		Buckets:  NewBuckets(cfg, home, s3opts),
	}
}

// EC2RetryMaxAttempts is how many times the EC2 client tries a call: the SDK
// retries throttling (RequestLimitExceeded) and transient errors with
// exponential backoff before an activity retry takes over. That is safe for
// reads, tags, deletes, attaches and CreateVolume (which gets a
// deterministic client token) only: the creates without a client token
// (CreateSnapshots, CopySnapshot) are sent with RetryMaxAttempts 1 per call
// and retried by the EBS activities, which look for what a lost response
// may have made before sending again.
const EC2RetryMaxAttempts = 8

// EC2 returns the EC2 client for a region, built once and shared. EBS
// snapshots live in many regions, so unlike DynamoDB and S3 the region is
// chosen per call; endpoint and credentials are the configuration's.
func (c *Clients) EC2(region string) *ec2.Client {
	c.ec2Mu.Lock()
	defer c.ec2Mu.Unlock()
	if cl, ok := c.ec2[region]; ok {
		return cl
	}
	if c.ec2 == nil {
		c.ec2 = map[string]*ec2.Client{}
	}
	cl := ec2.NewFromConfig(c.Config, func(o *ec2.Options) {
		o.Region = region
		o.RetryMaxAttempts = EC2RetryMaxAttempts
	})
	c.ec2[region] = cl
	return cl
}

// KMS returns the KMS client for a region, built once and shared (an
// encrypted snapshot's key lives in the snapshot's region).
func (c *Clients) KMS(region string) *kms.Client {
	c.ec2Mu.Lock()
	defer c.ec2Mu.Unlock()
	if cl, ok := c.kms[region]; ok {
		return cl
	}
	if c.kms == nil {
		c.kms = map[string]*kms.Client{}
	}
	cl := kms.NewFromConfig(c.Config, func(o *kms.Options) { o.Region = region })
	c.kms[region] = cl
	return cl
}

// Account returns the account id of the configuration's credentials
// (STS GetCallerIdentity, which needs no permission), asked once.
func (c *Clients) Account(ctx context.Context) (string, error) {
	c.accountMu.Lock()
	defer c.accountMu.Unlock()
	if c.account != "" {
		return c.account, nil
	}
	out, err := sts.NewFromConfig(c.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("sts GetCallerIdentity: %w", err)
	}
	c.account = aws.ToString(out.Account)
	return c.account, nil
}

// EC2As returns the EC2 client for a region acting as an assumed role (in
// another account, for EBS copies there), built once and shared; the
// role's credentials are refreshed before they expire.
func (c *Clients) EC2As(role Role, region string) *ec2.Client {
	c.ec2Mu.Lock()
	defer c.ec2Mu.Unlock()
	if cl, ok := c.ec2As[role][region]; ok {
		return cl
	}
	if c.ec2As == nil {
		c.ec2As = map[Role]map[string]*ec2.Client{}
	}
	if c.ec2As[role] == nil {
		c.ec2As[role] = map[string]*ec2.Client{}
	}
	creds := newRoleCredentials(c.Config, role)
	cl := ec2.NewFromConfig(c.Config, func(o *ec2.Options) {
		o.Region = region
		o.RetryMaxAttempts = EC2RetryMaxAttempts
		o.Credentials = creds
	})
	c.ec2As[role][region] = cl
	return cl
}
