// Package backupstore describes where and how Lifeboat lays out backups in S3:
// the s3:// location users give, the per-backup folder and the manifest that
// marks a backup complete.
package backupstore

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// Location is a parsed s3://bucket/prefix URL.
type Location struct {
	Bucket string
	Prefix string // without leading or trailing slash; may be empty
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
