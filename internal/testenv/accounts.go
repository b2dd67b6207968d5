package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// LifeboatAccount is the account of the workers' credentials (moto's
// default); BackupAccount is a second account for backups in another
// account. moto keeps S3 buckets per account and, as the emulator runs it,
// refuses another account's bucket (AccessDenied), as S3 does without a
// bucket policy granting it; AssumeRole into a role of another account
// returns credentials of that account.
const (
	LifeboatAccount = "123456789012"
	BackupAccount   = "222233334444"
)

// EBSCopyRoleName is the role the test workers' --ebs-copy-role names in
// each destination account.
const (
	EBSCopyRoleName   = "lifeboat-ebs-copy"
	EBSCopyExternalID = "lifeboat-ebs"
)

// accountClients are IAM and S3 clients acting as an account's
// administrator: moto takes the account from the x-moto-account-id header.
func (e *Env) accountClients(account string) (*iam.Client, *s3.Client) {
	header := smithyhttp.AddHeaderValue("x-moto-account-id", account)
	i := iam.NewFromConfig(e.AWS.Config, func(o *iam.Options) { o.APIOptions = append(o.APIOptions, header) })
	s := s3.NewFromConfig(e.AWS.Config, func(o *s3.Options) {
		o.UsePathStyle = true
		o.APIOptions = append(o.APIOptions, header)
	})
	return i, s
}

// CreateBackupRole creates, in account, a role the Lifeboat account may
// assume with externalID (as deploy/iam/assume-role-trust-policy.json has
// it) and returns its ARN. A role of that name already there is kept.
func (e *Env) CreateBackupRole(tb testing.TB, account, name, externalID string) string {
	tb.Helper()
	trust, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]string{"AWS": "arn:aws:iam::" + LifeboatAccount + ":root"},
			"Action":    "sts:AssumeRole",
			"Condition": map[string]any{"StringEquals": map[string]string{"sts:ExternalId": externalID}},
		}},
	})
	ic, _ := e.accountClients(account)
	out, err := ic.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(string(trust))})
	var exists *iamtypes.EntityAlreadyExistsException
	if errors.As(err, &exists) {
		// Tests sharing an Env share the account's role.
		return "arn:aws:iam::" + account + ":role/" + name
	}
	if err != nil {
		tb.Fatalf("create role %s in account %s: %v", name, account, err)
	}
	return aws.ToString(out.Role.Arn)
}

// NewBackupLocationInAccount creates a versioned bucket owned by account
// and returns s3://<bucket>/backups.
func (e *Env) NewBackupLocationInAccount(tb testing.TB, account string) string {
	tb.Helper()
	ctx := context.Background()
	_, sc := e.accountClients(account)
	bucket := e.ID("lbtest-acct")
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		tb.Fatalf("create bucket %s in account %s: %v", bucket, account, err)
	}
	if _, err := sc.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
	}); err != nil {
		tb.Fatalf("enable versioning on %s: %v", bucket, err)
	}
	return "s3://" + bucket + "/backups"
}

// EC2InAccount is an EC2 client of a region acting as account's
// administrator (moto's x-moto-account-id header).
func (e *Env) EC2InAccount(account, region string) *ec2.Client {
	header := smithyhttp.AddHeaderValue("x-moto-account-id", account)
	return ec2.NewFromConfig(e.AWS.Config, func(o *ec2.Options) {
		o.Region = region
		o.APIOptions = append(o.APIOptions, header)
	})
}
