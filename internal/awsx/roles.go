package awsx

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Role is an IAM role to assume for a backup location, typically in the
// account that owns its bucket. The zero Role means the worker's own
// credentials. ExternalID is not a secret (AWS: it guards against the
// confused deputy), so it may travel in workflow inputs.
type Role struct {
	ARN        string `json:"roleArn,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
}

// IsZero reports whether r names no role.
func (r Role) IsZero() bool { return r.ARN == "" }

var (
	roleNamePattern   = regexp.MustCompile(`^role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)
	accountPattern    = regexp.MustCompile(`^[0-9]{12}$`)
	externalIDPattern = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// Validate checks the ARN's shape (arn:PARTITION:iam::ACCOUNT:role/NAME)
// and the external id's characters, as STS would, before anything runs.
func (r Role) Validate() error {
	if r.IsZero() {
		if r.ExternalID != "" {
			return fmt.Errorf("an external id needs a role ARN (--role-arn)")
		}
		return nil
	}
	a, err := arn.Parse(r.ARN)
	if err != nil || a.Service != "iam" || a.Region != "" || !accountPattern.MatchString(a.AccountID) || !roleNamePattern.MatchString(a.Resource) {
		return fmt.Errorf("role ARN %q is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", r.ARN)
	}
	if r.ExternalID != "" && (len(r.ExternalID) < 2 || len(r.ExternalID) > 1224 || !externalIDPattern.MatchString(r.ExternalID)) {
		return fmt.Errorf("external id %q: 2 to 1224 characters of letters, digits and +=,.@:/-_", r.ExternalID)
	}
	return nil
}

// Account is the account id in the role's ARN, "" for the zero Role or a
// malformed ARN.
func (r Role) Account() string {
	a, err := arn.Parse(r.ARN)
	if err != nil {
		return ""
	}
	return a.AccountID
}

// AssumeRoleError says a role could not be assumed (STS refused it, or it
// does not exist): bad input, not a transient failure.
type AssumeRoleError struct {
	Role Role
	Err  error
}

func (e *AssumeRoleError) Error() string {
	return fmt.Sprintf("cannot assume role %s: %v", e.Role.ARN, e.Err)
}

func (e *AssumeRoleError) Unwrap() error { return e.Err }

type roleKey struct{}

// WithRole makes the S3 calls Buckets sends under ctx use the role's
// credentials. The role travels with the backup location, so each activity
// sets it from its input; the zero Role leaves the worker's own.
func WithRole(ctx context.Context, r Role) context.Context {
	return context.WithValue(ctx, roleKey{}, r)
}

// RoleFrom is the role WithRole put in ctx, or the zero Role.
func RoleFrom(ctx context.Context) Role {
	r, _ := ctx.Value(roleKey{}).(Role)
	return r
}

// SessionName names Lifeboat's sessions in the bucket account's CloudTrail.
const SessionName = "lifeboat"

// roleCredentials is an assume-role provider whose failures are typed.
type roleCredentials struct {
	role Role
	p    *stscreds.AssumeRoleProvider
}

func (c roleCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := c.p.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &AssumeRoleError{Role: c.role, Err: err}
	}
	return creds, nil
}

// How assumed-role credentials are kept fresh. A session lasts
// RoleSessionDuration (STS's default, which every role's maximum allows);
// the cache assumes the role again when a session has less than the expiry
// window left: RoleExpiryWindow less up to half of it at random, so
// workers sharing a role do not all call STS at once. Every S3 call
// retrieves from the cache, so a call made hours into a long activity
// (a download, a copy) signs with credentials minutes from their expiry at
// the least, never with expired ones.
const (
	RoleSessionDuration = 15 * time.Minute
	RoleExpiryWindow    = 5 * time.Minute
	roleExpiryJitter    = 0.5
)

// roleExpiryWindow is RoleExpiryWindow, shortened by a test that cannot
// wait minutes.
var roleExpiryWindow = RoleExpiryWindow

// newRoleCredentials assumes the role with cfg's credentials, refreshed
// before they expire (see RoleExpiryWindow).
func newRoleCredentials(cfg aws.Config, r Role) *aws.CredentialsCache {
	p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), r.ARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = SessionName
		o.Duration = RoleSessionDuration
		if r.ExternalID != "" {
			o.ExternalID = aws.String(r.ExternalID)
		}
	})
	return aws.NewCredentialsCache(roleCredentials{role: r, p: p}, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = roleExpiryWindow
		o.ExpiryWindowJitterFrac = roleExpiryJitter
	})
}
