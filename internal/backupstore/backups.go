package backupstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// DeleteAPI is the S3 client as retention and keep markers need it.
type DeleteAPI interface {
	API
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// KeepMarkerName is the object, beside a backup's manifest, that marks the
// backup keep: retention never deletes it.
//
// A marker object rather than an S3 tag on the manifest: it needs only the
// Put/Delete permissions backups already use (tags need Get/PutObjectTagging
// and one extra call per backup on every retention run, while the marker
// shows up in the folder listing retention makes anyway), it works on any
// S3-compatible store, it is visible in `aws s3 ls`, and it travels with
// the backup when the folder is copied (tags are not copied by default).
const KeepMarkerName = "keep.json"

// KeepMarker is the content of a keep marker. Only its presence counts.
type KeepMarker struct {
	Tool     string    `json:"tool"`
	BackupID string    `json:"backupId"`
	KeptAt   time.Time `json:"keptAt"`
	Reason   string    `json:"reason,omitempty"`
}

// Backup is one backup folder of a dataset:
// <prefix>/<env>/<store>/<dataset>/<backup id>/.
type Backup struct {
	ID      string `json:"id"`
	StoreID string `json:"storeId"`
	Folder  string `json:"folder"` // key prefix, without the trailing slash
	// Manifest is nil when the folder has no manifest or one that does not
	// read, parse or match its folder (Problem says which).
	Manifest *Manifest `json:"manifest,omitempty"`
	Problem  string    `json:"problem,omitempty"`
	Kept     bool      `json:"kept"`
	// Keys is every object in the folder, in key order.
	Keys []string `json:"keys"`
}

// Complete reports whether the backup has a good manifest: it was finished.
func (b Backup) Complete() bool { return b.Manifest != nil }

// Name is how reports name a backup: <store>/<backup id>.
func (b Backup) Name() string { return b.StoreID + "/" + b.ID }

// Time is the backup's cut time, or for a folder without a good manifest
// the time its id names (zero if it names none).
func (b Backup) Time() time.Time {
	if b.Manifest != nil {
		return b.Manifest.CutTime
	}
	t, _ := time.Parse("20060102T150405.000Z", b.ID)
	return t
}

// DatasetBackups is every backup folder of one dataset under a location.
type DatasetBackups struct {
	Location Location
	EnvID    string
	Dataset  string
	Backups  []Backup // by id, then store
	// Stray are objects in the dataset's folders but in no backup folder.
	Stray []string
}

// NoBucketError says a backup location's bucket does not exist.
type NoBucketError struct{ Location Location }

func (e *NoBucketError) Error() string {
	return fmt.Sprintf("backup location %s: bucket %q does not exist", e.Location, e.Location.Bucket)
}

// ListBackups finds every backup folder of an environment's dataset under
// a backup root, in every store, and reads their manifests.
func ListBackups(ctx context.Context, api API, loc Location, env, dataset string) (*DatasetBackups, error) {
	ctx = loc.WithRole(ctx)
	out := &DatasetBackups{Location: loc, EnvID: env, Dataset: dataset}
	envPrefix := loc.Key(env) + "/"
	stores, err := listFolders(ctx, api, loc.Bucket, envPrefix)
	if err != nil {
		if IsNotFound(err) {
			return nil, &NoBucketError{Location: loc}
		}
		return nil, err
	}
	for _, store := range stores {
		dsPrefix := envPrefix + store + "/" + dataset + "/"
		objs, err := List(ctx, api, loc.Bucket, dsPrefix)
		if err != nil {
			return nil, err
		}
		folders := map[string][]string{}
		var order []string
		for _, o := range objs {
			key := aws.ToString(o.Key)
			id, _, ok := strings.Cut(strings.TrimPrefix(key, dsPrefix), "/")
			if !ok || id == "" {
				out.Stray = append(out.Stray, key)
				continue
			}
			if _, seen := folders[id]; !seen {
				order = append(order, id)
			}
			folders[id] = append(folders[id], key)
		}
		for _, id := range order {
			b, err := readBackup(ctx, api, loc.Bucket, env, store, dataset, id, dsPrefix+id, folders[id])
			if err != nil {
				return nil, err
			}
			out.Backups = append(out.Backups, b)
		}
	}
	sort.SliceStable(out.Backups, func(i, j int) bool {
		if out.Backups[i].ID != out.Backups[j].ID {
			return out.Backups[i].ID < out.Backups[j].ID
		}
		return out.Backups[i].StoreID < out.Backups[j].StoreID
	})
	return out, nil
}

// readBackup describes one backup folder from its keys and manifest. Only
// S3 errors other than a missing manifest are returned as errors.
func readBackup(ctx context.Context, api API, bucket, env, store, dataset, id, folder string, keys []string) (Backup, error) {
	b := Backup{ID: id, StoreID: store, Folder: folder, Keys: keys}
	manifestKey, markerKey := path.Join(folder, ManifestName), path.Join(folder, KeepMarkerName)
	hasManifest := false
	for _, k := range keys {
		hasManifest = hasManifest || k == manifestKey
		b.Kept = b.Kept || k == markerKey
	}
	if !hasManifest {
		b.Problem = "no " + ManifestName + " (in progress or failed)"
		return b, nil
	}
	m, err := ReadManifest(ctx, api, bucket, manifestKey)
	var bad *BadManifestError
	switch {
	case err != nil && IsNotFound(err):
		b.Problem = "no " + ManifestName + " (in progress or failed)"
		return b, nil
	case err != nil && errors.As(err, &bad):
		b.Problem = "unreadable manifest: " + err.Error()
		return b, nil
	case err != nil:
		return Backup{}, err
	}
	if m.BackupID != id || m.DatasetID != dataset || m.EnvironmentID != env || m.StoreID != store {
		b.Problem = fmt.Sprintf("manifest describes %s/%s/%s/%s, not this folder", m.EnvironmentID, m.StoreID, m.DatasetID, m.BackupID)
		return b, nil
	}
	b.Manifest = m
	return b, nil
}

// listFolders lists the folder names directly under prefix.
func listFolders(ctx context.Context, api API, bucket, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if name != "" {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// FindBackups returns the complete backups with the given id (normally one;
// one per store if several stores have a backup with that id), or a
// *NoBackupError.
func FindBackups(ctx context.Context, api API, loc Location, env, dataset, backupID string) ([]Backup, error) {
	all, err := ListBackups(ctx, api, loc, env, dataset)
	if err != nil {
		return nil, err
	}
	var out []Backup
	for _, b := range all.Backups {
		if b.ID == backupID && b.Complete() {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, &NoBackupError{Location: loc, Dataset: env + "/" + dataset, BackupID: backupID}
	}
	return out, nil
}

// MarkKeep writes a backup's keep marker (again, if it has one).
func MarkKeep(ctx context.Context, api API, bucket string, b Backup, reason string, now time.Time) error {
	body, err := json.MarshalIndent(KeepMarker{Tool: "lifeboat", BackupID: b.ID, KeptAt: now.UTC(), Reason: reason}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode keep marker: %w", err)
	}
	key := path.Join(b.Folder, KeepMarkerName)
	_, err = api.PutObject(ctx, &s3.PutObjectInput{
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, // Object Lock buckets refuse a put without a checksum
		Bucket:            aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("write keep marker s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// Unkeep removes a backup's keep marker; removing none is not an error.
func Unkeep(ctx context.Context, api DeleteAPI, bucket string, b Backup) error {
	key := path.Join(b.Folder, KeepMarkerName)
	if _, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete keep marker s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// RetentionRun is what ApplyRetention did.
type RetentionRun struct {
	Plan RetentionPlan
	// Deleted are the backups deleted (all of Plan.Delete unless one was
	// marked keep meanwhile), and Objects the objects removed.
	Deleted []Verdict
	Objects int
}

// ApplyRetention lists a dataset's backups, plans retention and, unless
// dryRun, deletes the planned backups' objects. It is safe to run again
// after a failure: a backup is deleted manifest last, so one interrupted
// half way is still complete, planned again and its remaining objects
// deleted; deleting an object already gone succeeds. onDeleted, if set, is
// called after each deleted object (activities heartbeat there).
func ApplyRetention(ctx context.Context, api DeleteAPI, loc Location, env, dataset string, r Retention, now time.Time,
	protect []string, dryRun bool, onDeleted func(backup Backup, key string)) (*RetentionRun, error) {
	ctx = loc.WithRole(ctx)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	found, err := ListBackups(ctx, api, loc, env, dataset)
	if err != nil {
		return nil, err
	}
	run := &RetentionRun{Plan: PlanRetention(found, r, now, protect...)}
	if dryRun || len(run.Plan.Delete) == 0 {
		return run, nil
	}
	locked, err := ObjectLockEnabled(ctx, api, loc.Bucket)
	if err != nil {
		return run, err
	}
	for _, v := range run.Plan.Delete {
		n, kept, notes, err := deleteBackup(ctx, api, loc.Bucket, v, locked, now, onDeleted)
		run.Objects += n
		run.Plan.Left = append(run.Plan.Left, notes...)
		var le *LockedError
		if errors.As(err, &le) {
			run.Plan.Left = append(run.Plan.Left, v.Backup.Name()+": "+le.Error()+": kept")
			continue
		}
		if err != nil {
			return run, err
		}
		if kept {
			run.Plan.Left = append(run.Plan.Left, v.Backup.Name()+": marked keep while retention ran: kept")
			continue
		}
		run.Deleted = append(run.Deleted, v)
	}
	return run, nil
}

// deleteBackup deletes a planned backup's objects, the manifest last. It
// looks at the folder once more first: a backup marked keep since the plan
// was made is left (kept). On a versioned bucket it deletes the versions
// Lifeboat wrote (versionPlan), never one under Object Lock (a LockedError
// names the date the backup becomes deletable), and notes what it left.
func deleteBackup(ctx context.Context, api DeleteAPI, bucket string, v Verdict, locked bool, now time.Time,
	onDeleted func(Backup, string)) (deleted int, kept bool, notes []string, err error) {
	marker := path.Join(v.Backup.Folder, KeepMarkerName)
	current, err := List(ctx, api, bucket, v.Backup.Folder+"/")
	if err != nil {
		return 0, false, nil, err
	}
	for _, o := range current {
		if aws.ToString(o.Key) == marker {
			return 0, true, nil, nil
		}
	}
	if vapi, ok := api.(VersionsAPI); ok {
		start := v.Backup.Manifest.CutTime
		if v.Backup.Manifest.StartedAt != nil {
			start = *v.Backup.Manifest.StartedAt
		}
		w := Written{Name: v.Backup.Name(), Folder: v.Backup.Folder, Manifest: path.Join(v.Backup.Folder, ManifestName), Keys: v.Keys, Start: start}
		n, versioned, notes, err := DeleteWritten(ctx, vapi, bucket, w, locked, now, func(key string) {
			if onDeleted != nil {
				onDeleted(v.Backup, key)
			}
		})
		if versioned || err != nil {
			return n, false, notes, err
		}
	}
	for _, key := range v.Keys {
		if _, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
			return deleted, false, notes, fmt.Errorf("delete s3://%s/%s: %w", bucket, key, err)
		}
		deleted++
		if onDeleted != nil {
			onDeleted(v.Backup, key)
		}
	}
	return deleted, false, notes, nil
}

// hasVersionIDs reports whether a listing shows real version ids: an
// unversioned bucket lists every object as version "null", deleted by key.
func hasVersionIDs(vs []version) bool {
	for _, v := range vs {
		if v.ID != "" && v.ID != "null" {
			return true
		}
	}
	return false
}
