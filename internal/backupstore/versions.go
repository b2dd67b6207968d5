package backupstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// VersionsAPI is what retention needs on a versioned bucket: deleting a
// key there only adds a delete marker, so storage is freed only by deleting
// each version by id.
type VersionsAPI interface {
	ListObjectVersions(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// maxDeleteBatch is DeleteObjects' limit of keys per request.
const maxDeleteBatch = 1000

// clockSlack widens a backup's write window at its start: the cut time is
// the worker's clock, LastModified S3's.
const clockSlack = time.Minute

// version is one object version or delete marker under a backup folder.
type version struct {
	Key, ID  string
	Modified time.Time
	Marker   bool
}

// LockedError says a backup cannot be deleted yet: Object Lock retains
// some of its versions until Until.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("locked by Object Lock until %s: deletable from then", e.Until.UTC().Format(time.RFC3339))
}

// Written names the object versions one backup wrote: the keys it wrote
// inside Folder (Manifest among them), from Start (less a minute of clock
// slack) to the first write of Manifest.
type Written struct {
	Name     string // the backup, as notes name it
	Folder   string // without a trailing slash
	Manifest string
	Keys     []string
	Start    time.Time
}

// writtenPlan splits the versions under a backup's folder into those
// Lifeboat wrote (to delete) and the rest (left, reported).
//
// The rule: a version is Lifeboat's when its key is one the backup wrote
// (the manifest's objects and export files inside the folder, and the
// manifest) and its LastModified lies in the backup's write window: from
// the backup's start (StartedAt, else its cut time, less a minute of clock
// slack) to the write of the manifest (its oldest version's LastModified).
// Lifeboat writes the manifest last, so anything written after it, or
// under another key, is someone else's, except the records Lifeboat writes
// beside a backup later (IsRecordKey), which are its own from the backup's
// start on. A delete marker on one of those
// keys is removed with them unless a foreign version of the key is kept
// (removing the marker would bring that version back).
func writtenPlan(w Written, all []version) (del []version, left []version, ok bool) {
	owned := map[string]bool{}
	for _, k := range w.Keys {
		owned[k] = true
	}
	manifest := w.Manifest
	var end time.Time
	for _, v := range all {
		if v.Key == manifest && !v.Marker && (end.IsZero() || v.Modified.Before(end)) {
			end = v.Modified
		}
	}
	if end.IsZero() {
		return nil, nil, false
	}
	start := w.Start.Add(-clockSlack)
	foreignKey := map[string]bool{}
	var markers []version
	for _, v := range all {
		switch {
		case v.Marker:
			markers = append(markers, v)
		case owned[v.Key] && !v.Modified.Before(start) && !v.Modified.After(end):
			del = append(del, v)
		case IsRecordKey(w.Folder, v.Key) && !v.Modified.Before(start):
			// A record (verified.json, restore-test.json, keep.json) is
			// written after the manifest, whenever a check runs.
			del = append(del, v)
		default:
			left = append(left, v)
			foreignKey[v.Key] = true
		}
	}
	for _, m := range markers {
		if (owned[m.Key] || IsRecordKey(w.Folder, m.Key)) && !foreignKey[m.Key] {
			del = append(del, m)
		} else {
			left = append(left, m)
		}
	}
	// The manifest's versions go last: an interrupted run leaves a backup
	// that is still complete, planned again next time.
	sort.SliceStable(del, func(i, j int) bool { return del[i].Key != manifest && del[j].Key == manifest })
	return del, left, true
}

// listVersions lists every version and delete marker under prefix.
func listVersions(ctx context.Context, api VersionsAPI, bucket, prefix string) ([]version, error) {
	var out []version
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	for {
		page, err := api.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list versions under s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, v := range page.Versions {
			out = append(out, version{Key: aws.ToString(v.Key), ID: aws.ToString(v.VersionId), Modified: aws.ToTime(v.LastModified)})
		}
		for _, m := range page.DeleteMarkers {
			out = append(out, version{Key: aws.ToString(m.Key), ID: aws.ToString(m.VersionId), Modified: aws.ToTime(m.LastModified), Marker: true})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
}

// lockedUntil is the latest future retain-until date among versions, or
// zero when none is locked. Delete markers carry no retention.
func lockedUntil(ctx context.Context, api VersionsAPI, bucket string, vs []version, now time.Time) (time.Time, error) {
	var until time.Time
	for _, v := range vs {
		if v.Marker {
			continue
		}
		h, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(v.Key), VersionId: aws.String(v.ID)})
		if err != nil {
			return time.Time{}, fmt.Errorf("read retention of s3://%s/%s version %s: %w", bucket, v.Key, v.ID, err)
		}
		if t := aws.ToTime(h.ObjectLockRetainUntilDate); t.After(now) && t.After(until) {
			until = t
		}
		if h.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn && until.IsZero() {
			until = now.Add(100 * 365 * 24 * time.Hour) // held until the hold is lifted
		}
	}
	return until, nil
}

// deleteVersions deletes versions by id, in DeleteObjects batches of at
// most 1000, in order.
func deleteVersions(ctx context.Context, api VersionsAPI, bucket string, vs []version, onDeleted func(key string)) (int, error) {
	n := 0
	for len(vs) > 0 {
		batch := vs[:min(len(vs), maxDeleteBatch)]
		vs = vs[len(batch):]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, v := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(v.Key), VersionId: aws.String(v.ID)}
		}
		out, err := api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, // required with Object Lock, like Content-MD5
		})
		if err != nil {
			return n, fmt.Errorf("delete %d object versions in s3://%s: %w", len(batch), bucket, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return n, fmt.Errorf("delete s3://%s/%s version %s (and %d more errors): %w", bucket, aws.ToString(e.Key),
				aws.ToString(e.VersionId), len(out.Errors)-1, batchError(e))
		}
		for _, v := range batch {
			n++
			if onDeleted != nil {
				onDeleted(v.Key)
			}
		}
	}
	return n, nil
}

// DeleteWritten deletes, on a versioned bucket, every version the backup w
// wrote (writtenPlan): never a version someone else wrote (each noted), and
// under Object Lock (locked) nothing while any of them is retained (a
// LockedError names the date the backup becomes deletable). versioned is
// false, and nothing is done, when the bucket lists no version ids or the
// manifest has no version: the caller deletes by key.
func DeleteWritten(ctx context.Context, api VersionsAPI, bucket string, w Written, locked bool, now time.Time,
	onDeleted func(key string)) (deleted int, versioned bool, notes []string, err error) {
	all, err := listVersions(ctx, api, bucket, w.Folder+"/")
	if err != nil {
		return 0, false, nil, err
	}
	if !hasVersionIDs(all) {
		return 0, false, nil, nil
	}
	del, left, ok := writtenPlan(w, all)
	if !ok {
		return 0, false, nil, nil
	}
	if len(left) > 0 {
		ks := make([]string, len(left))
		for i, l := range left {
			ks[i] = "s3://" + bucket + "/" + l.Key + "?versionId=" + l.ID
		}
		notes = append(notes, fmt.Sprintf("%s: %d object versions Lifeboat did not write left in place: %s", w.Name, len(left), sample(ks, 3)))
	}
	if locked {
		until, err := lockedUntil(ctx, api, bucket, del, now)
		if err != nil {
			return 0, true, notes, err
		}
		if !until.IsZero() {
			return 0, true, notes, &LockedError{Until: until}
		}
	}
	n, err := deleteVersions(ctx, api, bucket, del, onDeleted)
	return n, true, notes, err
}

// ObjectLockEnabled reads whether a bucket has Object Lock on. A client
// that cannot ask (no BucketAPI) is taken to mean no.
func ObjectLockEnabled(ctx context.Context, api any, bucket string) (bool, error) {
	b, ok := api.(BucketAPI)
	if !ok {
		return false, nil
	}
	ol, err := b.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(bucket)})
	switch {
	case errorCode(err) == "ObjectLockConfigurationNotFoundError":
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read Object Lock configuration of bucket %s: %w", bucket, err)
	}
	return ol.ObjectLockConfiguration != nil && ol.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled, nil
}

// batchError is one key's error in a DeleteObjects answer. S3 answers
// such a request 200 and names each key's error in the body, so the SDK
// raises none. A refusal becomes an API error naming s3:DeleteObjectVersion,
// the permission deleting a version needs
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html),
// so that it is recognised as one (awsx.DeniedAction) and fails at once
// naming what to grant, instead of being retried. A version Object Lock
// protects is refused as AccessDenied too ("object protected by object
// lock"), which no grant helps: that, like any other code, stays S3's words.
func batchError(e types.Error) error {
	code, msg := aws.ToString(e.Code), aws.ToString(e.Message)
	if code == "AccessDenied" && !strings.Contains(strings.ToLower(msg), "object lock") {
		return &smithy.GenericAPIError{Code: code, Message: "not authorized to perform: s3:DeleteObjectVersion (" + msg + ")"}
	}
	return fmt.Errorf("%s: %s", code, msg)
}
