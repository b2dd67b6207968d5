package activities

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// BackupFiles reads and writes backup objects and manifests in S3, and
// deletes backups retention lets go.
type BackupFiles struct {
	S3 backupstore.DeleteAPI
}

// WriteManifestInput describes a finished export to record.
type WriteManifestInput struct {
	Target       BackupTarget `json:"target"`
	BackupID     string       `json:"backupId"`
	CutTime      time.Time    `json:"cutTime"`
	PausedWrites bool         `json:"pausedWrites"`
	ExportArn    string       `json:"exportArn"`
	ExportPrefix string       `json:"exportPrefix"`
	// ExportedItems is DynamoDB's own count, checked against the files.
	ExportedItems int64 `json:"exportedItems"`
}

// WriteManifestResult is the written manifest's place and totals.
type WriteManifestResult struct {
	ManifestURL string `json:"manifestUrl"`
	ItemCount   int64  `json:"itemCount"`
	Bytes       int64  `json:"bytes"`
	Objects     int    `json:"objects"`
}

// WriteManifest checksums every exported data object, checks the item count
// against DynamoDB's, and writes the manifest beside the data, last, so that
// only a complete backup has one.
func (a *BackupFiles) WriteManifest(ctx context.Context, in WriteManifestInput) (*WriteManifestResult, error) {
	loc := in.Target.Location
	objs, err := backupstore.List(ctx, a.S3, loc.Bucket, in.ExportPrefix+"/")
	if err != nil {
		return nil, err
	}
	m := &backupstore.Manifest{
		Format: backupstore.ManifestFormat, Tool: "lifeboat", BackupID: in.BackupID,
		WorkflowID: activity.GetInfo(ctx).WorkflowExecution.ID, CutTime: in.CutTime.UTC(), PausedWrites: in.PausedWrites,
		EnvironmentID: in.Target.EnvID, StoreID: in.Target.StoreID, DatasetID: in.Target.DatasetID,
		TableName: in.Target.TableName, ExportArn: in.ExportArn, CreatedAt: time.Now().UTC(),
	}
	for _, o := range objs {
		key := aws.ToString(o.Key)
		// DynamoDB writes data under .../AWSDynamoDB/<export id>/data/ and its
		// own manifests beside that folder; only the data is imported.
		if path.Base(path.Dir(key)) != "data" {
			continue
		}
		d, err := backupstore.Digest(ctx, a.S3, loc.Bucket, key)
		if err != nil {
			return nil, err
		}
		m.Objects = append(m.Objects, d)
		m.ItemCount += d.Items
		m.Bytes += d.Size
		m.DataPrefix = path.Dir(key) + "/"
		activity.RecordHeartbeat(ctx, fmt.Sprintf("checksummed %d objects, %d items", len(m.Objects), m.ItemCount))
	}
	if m.ItemCount != in.ExportedItems {
		return nil, corrupt(fmt.Errorf("export of %s: data files hold %d items, DynamoDB reported %d", in.Target.TableName, m.ItemCount, in.ExportedItems))
	}
	if m.DataPrefix == "" {
		// An empty table exports no data file; keep a prefix that exists.
		m.DataPrefix = in.ExportPrefix + "/"
	} else {
		// DynamoDB's own files of this export sit beside its data folder,
		// in a folder named after the export id.
		exportDir := path.Dir(strings.TrimSuffix(m.DataPrefix, "/"))
		for _, o := range objs {
			if key := aws.ToString(o.Key); path.Dir(key) == exportDir {
				m.ExportFiles = append(m.ExportFiles, key)
			}
		}
	}
	for _, o := range m.Objects {
		if !strings.HasPrefix(o.Key, m.DataPrefix) {
			return nil, corrupt(fmt.Errorf("export of %s wrote data under more than one folder (%s)", in.Target.TableName, o.Key))
		}
	}
	key := path.Join(path.Dir(in.ExportPrefix), backupstore.ManifestName)
	if err := backupstore.WriteManifest(ctx, a.S3, loc.Bucket, key, m); err != nil {
		return nil, err
	}
	return &WriteManifestResult{
		ManifestURL: "s3://" + loc.Bucket + "/" + key, ItemCount: m.ItemCount, Bytes: m.Bytes, Objects: len(m.Objects),
	}, nil
}

// VerifyBackupInput names a backup to check before restoring it.
type VerifyBackupInput struct {
	Location    backupstore.Location `json:"location"`
	ManifestKey string               `json:"manifestKey"`
}

// VerifyBackupResult is a verified backup's data.
type VerifyBackupResult struct {
	DataPrefix string `json:"dataPrefix"`
	ItemCount  int64  `json:"itemCount"`
	Objects    int    `json:"objects"`
	Bytes      int64  `json:"bytes,omitempty"`
}

// VerifyBackup re-reads every data object of a backup and checks its size,
// item count and SHA-256 against the manifest, and that the data folder
// holds nothing else an import would pick up.
func (a *BackupFiles) VerifyBackup(ctx context.Context, in VerifyBackupInput) (*VerifyBackupResult, error) {
	m, err := backupstore.ReadManifest(ctx, a.S3, in.Location.Bucket, in.ManifestKey)
	if err != nil {
		if backupstore.IsNotFound(err) {
			return nil, invalid(err)
		}
		return nil, corrupt(err)
	}
	present, err := backupstore.List(ctx, a.S3, in.Location.Bucket, m.DataPrefix)
	if err != nil {
		return nil, err
	}
	want := map[string]backupstore.ObjectDigest{}
	for _, o := range m.Objects {
		want[o.Key] = o
	}
	for _, o := range present {
		if _, ok := want[aws.ToString(o.Key)]; !ok {
			return nil, corrupt(fmt.Errorf("backup %s: s3://%s/%s is not in the manifest", m.BackupID, in.Location.Bucket, aws.ToString(o.Key)))
		}
	}
	for i, o := range m.Objects {
		got, err := backupstore.Digest(ctx, a.S3, in.Location.Bucket, o.Key)
		if err != nil {
			if backupstore.IsNotFound(err) {
				return nil, corrupt(fmt.Errorf("backup %s: object missing: %w", m.BackupID, err))
			}
			return nil, err
		}
		if got != o {
			return nil, corrupt(fmt.Errorf("backup %s: s3://%s/%s does not match the manifest (sha256 %s, want %s)",
				m.BackupID, in.Location.Bucket, o.Key, got.SHA256, o.SHA256))
		}
		activity.RecordHeartbeat(ctx, fmt.Sprintf("verified %d/%d objects", i+1, len(m.Objects)))
	}
	return &VerifyBackupResult{DataPrefix: m.DataPrefix, ItemCount: m.ItemCount, Objects: len(m.Objects), Bytes: m.Bytes}, nil
}

// ApplyRetentionInput is one dataset's retention run under one backup root.
type ApplyRetentionInput struct {
	Location  backupstore.Location  `json:"location"`
	EnvID     string                `json:"envId"`
	DatasetID string                `json:"datasetId"`
	Policy    backupstore.Retention `json:"policy"`
	// Now is the run's time: backups are aged from it, so a retry decides
	// the same way.
	Now time.Time `json:"now"`
	// Protect names backups never to delete (the run's own).
	Protect []string `json:"protect,omitempty"`
}

// maxRetentionNotes bounds the notes a result carries into workflow history.
const maxRetentionNotes = 20

// ApplyRetentionResult is what a retention run deleted and left.
type ApplyRetentionResult struct {
	Deleted []string `json:"deleted"` // backup ids
	Objects int      `json:"objects"` // objects deleted
	Kept    int      `json:"kept"`    // complete backups kept
	// Left lists what was left alone and why (folders without a manifest,
	// objects Lifeboat did not write).
	Left []string `json:"left,omitempty"`
}

// ApplyRetention deletes a dataset's backups that the policy no longer
// keeps, heartbeating per object. A retry plans again from what is left and
// finishes the job: backups are deleted manifest last, and deleting an
// object already gone succeeds.
func (a *BackupFiles) ApplyRetention(ctx context.Context, in ApplyRetentionInput) (*ApplyRetentionResult, error) {
	if err := in.Policy.Validate(); err != nil {
		return nil, invalid(err)
	}
	deleted := 0
	run, err := backupstore.ApplyRetention(ctx, a.S3, in.Location, in.EnvID, in.DatasetID, in.Policy, in.Now, in.Protect, false,
		func(b backupstore.Backup, _ string) {
			deleted++
			activity.RecordHeartbeat(ctx, fmt.Sprintf("deleting backup %s: %d objects deleted", b.Name(), deleted))
		})
	if err != nil {
		var nb *backupstore.NoBucketError
		if errors.As(err, &nb) {
			return nil, invalid(fmt.Errorf("retention of %s/%s: %w", in.EnvID, in.DatasetID, err))
		}
		return nil, fmt.Errorf("retention of %s/%s under %s: %w", in.EnvID, in.DatasetID, in.Location, err)
	}
	left := run.Plan.Left
	if len(left) > maxRetentionNotes {
		left = append(left[:maxRetentionNotes:maxRetentionNotes], fmt.Sprintf("and %d more", len(run.Plan.Left)-maxRetentionNotes))
	}
	out := &ApplyRetentionResult{Objects: run.Objects, Kept: len(run.Plan.Keep), Left: left, Deleted: []string{}}
	for _, v := range run.Deleted {
		out.Deleted = append(out.Deleted, v.Backup.ID)
	}
	return out, nil
}
