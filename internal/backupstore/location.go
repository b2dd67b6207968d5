// Package backupstore describes where and how Lifeboat lays out backups in S3:
// the s3:// location users give, the per-backup folder and the manifest that
// marks a backup complete.
package backupstore

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
)

// Location is a parsed s3://bucket/prefix URL, and how to reach it: a
// bucket in another account names the role to assume there (its S3 calls
// use that role's credentials) and its owner, which DynamoDB's exports and
// imports must name.
type Location struct {
	Bucket string
	Prefix string // without leading or trailing slash; may be empty

	RoleARN    string `json:"roleArn,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
	// BucketOwner is the bucket's account when it is not the role's.
	BucketOwner string `json:"bucketOwner,omitempty"`
}

// Access is how a location is reached, as the user gave it: a role to
// assume (with its external id) and the bucket owner's account, each
// optional.
type Access struct {
	RoleARN     string `json:"roleArn,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
	BucketOwner string `json:"bucketOwner,omitempty"`
}

// Validate checks the role ARN's and the owner's shape.
func (a Access) Validate() error {
	if err := (awsx.Role{ARN: a.RoleARN, ExternalID: a.ExternalID}).Validate(); err != nil {
		return err
	}
	if a.BucketOwner != "" && !accountPattern.MatchString(a.BucketOwner) {
		return fmt.Errorf("bucket owner %q is not a 12-digit AWS account id", a.BucketOwner)
	}
	return nil
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// ParseLocationWith parses s3://bucket[/prefix] reached with access.
func ParseLocationWith(raw string, a Access) (Location, error) {
	loc, err := ParseLocation(raw)
	if err != nil {
		return Location{}, err
	}
	if err := a.Validate(); err != nil {
		return Location{}, &InvalidLocationError{URL: raw, Reason: err.Error()}
	}
	loc.RoleARN, loc.ExternalID, loc.BucketOwner = a.RoleARN, a.ExternalID, a.BucketOwner
	return loc, nil
}

// Role is the role the location's S3 calls assume (zero: none).
func (l Location) Role() awsx.Role { return awsx.Role{ARN: l.RoleARN, ExternalID: l.ExternalID} }

// Owner is the bucket's account when it is known to be another one: the
// explicit owner, else the role's account; "" for the worker's own.
func (l Location) Owner() string {
	if l.BucketOwner != "" {
		return l.BucketOwner
	}
	return l.Role().Account()
}

// WithRole makes S3 calls under the returned context use the location's
// role; a location without one leaves ctx as it is.
func (l Location) WithRole(ctx context.Context) context.Context {
	if l.RoleARN == "" {
		return ctx
	}
	return awsx.WithRole(ctx, l.Role())
}

// InvalidLocationError says a backup location is not a usable s3:// URL.
type InvalidLocationError struct {
	URL    string
	Reason string
}

func (e *InvalidLocationError) Error() string {
	return fmt.Sprintf("invalid backup location %q: %s", e.URL, e.Reason)
}

var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseLocation parses s3://bucket[/prefix].
func ParseLocation(raw string) (Location, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, &InvalidLocationError{URL: raw, Reason: err.Error()}
	}
	if u.Scheme != "s3" {
		return Location{}, &InvalidLocationError{URL: raw, Reason: "must start with s3://"}
	}
	if !bucketPattern.MatchString(u.Host) {
		return Location{}, &InvalidLocationError{URL: raw, Reason: fmt.Sprintf("%q is not a valid bucket name", u.Host)}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Location{}, &InvalidLocationError{URL: raw, Reason: "must not have a query or fragment"}
	}
	prefix := strings.Trim(u.Path, "/")
	if strings.Contains(prefix, "//") {
		return Location{}, &InvalidLocationError{URL: raw, Reason: "prefix has an empty path segment"}
	}
	return Location{Bucket: u.Host, Prefix: prefix}, nil
}

// String gives the location back as an s3:// URL.
func (l Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// Key joins the location's prefix with more path segments into an object key.
func (l Location) Key(parts ...string) string {
	return strings.TrimPrefix(path.Join(append([]string{l.Prefix}, parts...)...), "/")
}

// BackupFolder is where one dataset's backup lives:
// <prefix>/<env>/<store>/<dataset>/<backup id>, after the seed's layout of
// environment, then store, then dataset.
func (l Location) BackupFolder(env, store, dataset, backupID string) string {
	return l.Key(env, store, dataset, backupID)
}

// ManifestName is the object, beside a backup's data, that marks it complete.
const ManifestName = "manifest.json"

// ExportFolder is the prefix handed to DynamoDB's export inside a backup folder.
func ExportFolder(backupFolder string) string { return backupFolder + "/export" }

// ManifestRef names a manifest found under a location.
type ManifestRef struct {
	Key      string
	Env      string // "" when the key is too short to hold one
	Dataset  string
	BackupID string
}

// ParseManifestKey recognises <...>/<dataset>/<backup id>/manifest.json keys,
// so a restore can be pointed at the backup root or at any folder below it.
func ParseManifestKey(key string) (ManifestRef, bool) {
	parts := strings.Split(key, "/")
	if len(parts) < 3 || parts[len(parts)-1] != ManifestName {
		return ManifestRef{}, false
	}
	ref := ManifestRef{Key: key, Dataset: parts[len(parts)-3], BackupID: parts[len(parts)-2]}
	if len(parts) >= 5 { // <env>/<store>/<dataset>/<backup id>/manifest.json
		ref.Env = parts[len(parts)-5]
	}
	return ref, true
}
