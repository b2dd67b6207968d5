package backupstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
)

// BucketAPI is the S3 client as the bucket checks need it.
type BucketAPI interface {
	HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	GetBucketVersioning(context.Context, *s3.GetBucketVersioningInput, ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	GetObjectLockConfiguration(context.Context, *s3.GetObjectLockConfigurationInput, ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error)
}

// regioner is a client that knows a bucket's region (awsx.Buckets).
type regioner interface {
	Region(ctx context.Context, bucket string) (string, error)
}

// Bucket is what Lifeboat found out about a backup bucket before a backup,
// recorded in the backup's manifest.
type Bucket struct {
	Region string `json:"region,omitempty"`
	// Owner is the account that owns the bucket when it is another
	// account than the worker's (the location's role's, or --bucket-owner);
	// DynamoDB exports and imports name it (S3BucketOwner), as AWS requires
	// for a bucket of another account.
	Owner string `json:"owner,omitempty"`
	// Role is the role assumed for the bucket's S3 calls, if any.
	Role string `json:"role,omitempty"`
	// Versioning is GetBucketVersioning's status: Enabled, Suspended, or
	// "Off" for a bucket on which it was never enabled.
	Versioning string `json:"versioning"`
	// AllowUnversioned records that the request accepted a bucket without
	// versioning (--allow-unversioned).
	AllowUnversioned bool        `json:"allowUnversioned,omitempty"`
	ObjectLock       *ObjectLock `json:"objectLock,omitempty"`
}

// OwnerOrEmpty is the bucket's owner, "" when unknown (or b is nil: a
// target validated before buckets were recorded).
func (b *Bucket) OwnerOrEmpty() string {
	if b == nil {
		return ""
	}
	return b.Owner
}

// VersioningOff is Bucket.Versioning for a bucket that never had it.
const VersioningOff = "Off"

// Versioned reports whether the bucket keeps every version of an object.
func (b *Bucket) Versioned() bool {
	return b != nil && b.Versioning == string(types.BucketVersioningStatusEnabled)
}

// ObjectLock is a bucket's Object Lock configuration.
type ObjectLock struct {
	Enabled bool `json:"enabled"`
	// Mode, Days and Years are the default retention applied to new
	// objects (GOVERNANCE or COMPLIANCE), when the bucket has one.
	Mode  string `json:"mode,omitempty"`
	Days  int32  `json:"days,omitempty"`
	Years int32  `json:"years,omitempty"`
}

// String is the lock as `backup list` shows it.
func (l *ObjectLock) String() string {
	switch {
	case l == nil || !l.Enabled:
		return "none"
	case l.Mode == "":
		return "enabled, no default retention"
	case l.Years > 0:
		return fmt.Sprintf("%s %dy", l.Mode, l.Years)
	}
	return fmt.Sprintf("%s %dd", l.Mode, l.Days)
}

// UnversionedError refuses a bucket without versioning: a backup there can
// be overwritten or deleted for good.
type UnversionedError struct {
	Bucket string
	Status string
}

func (e *UnversionedError) Error() string {
	state := "versioning off"
	if e.Status == string(types.BucketVersioningStatusSuspended) {
		state = "versioning suspended"
	}
	return fmt.Sprintf("bucket %s has %s: a backup there can be overwritten or deleted for good; enable it with "+
		"`aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled`, or pass --allow-unversioned",
		e.Bucket, state, e.Bucket)
}

// CheckBucket reads a backup bucket's region (when the client knows it),
// versioning and Object Lock configuration. A bucket that does not exist
// is a NoBucketError. It does not judge: Require does.
func CheckBucket(ctx context.Context, api BucketAPI, loc Location) (*Bucket, error) {
	ctx = loc.WithRole(ctx)
	if _, err := api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(loc.Bucket)}); err != nil {
		if IsNotFound(err) {
			return nil, &NoBucketError{Location: loc}
		}
		var ar *awsx.AssumeRoleError
		if errors.As(err, &ar) {
			return nil, ar
		}
		if IsAccessDenied(err) {
			return nil, &BucketAccessError{Location: loc, Err: err}
		}
		return nil, fmt.Errorf("check bucket %s: %w", loc.Bucket, err)
	}
	b := &Bucket{Owner: loc.Owner(), Role: loc.RoleARN}
	if r, ok := api.(regioner); ok {
		region, err := r.Region(ctx, loc.Bucket)
		if err != nil {
			return nil, err
		}
		b.Region = region
	}
	v, err := api.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(loc.Bucket)})
	if IsAccessDenied(err) {
		return nil, &BucketAccessError{Location: loc, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("read versioning of bucket %s: %w", loc.Bucket, err)
	}
	b.Versioning = string(v.Status)
	if b.Versioning == "" {
		b.Versioning = VersioningOff
	}
	ol, err := api.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(loc.Bucket)})
	switch {
	case errorCode(err) == "ObjectLockConfigurationNotFoundError":
	case err != nil:
		return nil, fmt.Errorf("read Object Lock configuration of bucket %s: %w", loc.Bucket, err)
	case ol.ObjectLockConfiguration != nil && ol.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled:
		lock := &ObjectLock{Enabled: true}
		if r := ol.ObjectLockConfiguration.Rule; r != nil && r.DefaultRetention != nil {
			lock.Mode = string(r.DefaultRetention.Mode)
			lock.Days = aws.ToInt32(r.DefaultRetention.Days)
			lock.Years = aws.ToInt32(r.DefaultRetention.Years)
		}
		b.ObjectLock = lock
	}
	return b, nil
}

// BucketAccessError says the credentials of a location (its role's, or
// the worker's own) may not use its bucket: bad input, fixed by a bucket
// policy or the role's policy, never by retrying.
type BucketAccessError struct {
	Location Location
	Err      error
}

func (e *BucketAccessError) Error() string {
	who := "the worker's credentials"
	if e.Location.RoleARN != "" {
		who = "role " + e.Location.RoleARN
	}
	// Name the IAM action refused, as for the worker's own credentials: the
	// grant to add is the role's (a HEAD's Forbidden is S3's AccessDenied).
	why := errorCode(e.Err)
	if action, ok := awsx.DeniedAction(e.Err); ok {
		why = "AccessDenied: " + action
	}
	return fmt.Sprintf("backup location %s: %s may not use bucket %s (%s): see README, Backups in another account",
		e.Location, who, e.Location.Bucket, why)
}

func (e *BucketAccessError) Unwrap() error { return e.Err }

// IsAccessDenied recognises S3's refusals (AccessDenied; HEAD answers carry
// no body, so the SDK names them by their status, Forbidden).
func IsAccessDenied(err error) bool {
	switch errorCode(err) {
	case "AccessDenied", "Forbidden", "AllAccessDisabled":
		return true
	}
	return false
}

// Require refuses an unversioned bucket unless allowUnversioned, and
// records the choice.
func (b *Bucket) Require(bucket string, allowUnversioned bool) error {
	if b.Versioned() {
		return nil
	}
	if !allowUnversioned {
		return &UnversionedError{Bucket: bucket, Status: b.Versioning}
	}
	b.AllowUnversioned = true
	return nil
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Describe is a bucket's one-line summary for listings.
func (b *Bucket) Describe() string {
	if b == nil {
		return ""
	}
	parts := []string{}
	if b.Owner != "" {
		parts = append(parts, "account "+b.Owner)
	}
	if b.Region != "" {
		parts = append(parts, b.Region)
	}
	v := "versioning " + strings.ToLower(b.Versioning)
	if b.AllowUnversioned {
		v += " (allowed)"
	}
	parts = append(parts, v, "object lock "+b.ObjectLock.String())
	return strings.Join(parts, ", ")
}
