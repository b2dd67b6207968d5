package dataset

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/activities"
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
	// ExportManifest is the export's manifest-summary.json key, as
	// DescribeExport gives it (found by listing when empty).
	ExportManifest string `json:"exportManifest,omitempty"`
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

// WriteManifest records a finished export as a backup. It reads what
// DynamoDB already counted and checksummed (manifest-summary.json and
// manifest-files.json: each data file's item count and MD5) and one listing
// of the export's folder (each file's size and S3 ETag, checked against
// DynamoDB's), never the data itself, and writes the manifest beside the
// export, last, so that only a complete backup has one. The deep check that
// downloads every file is VerifyBackup.
func (a *BackupFiles) WriteManifest(ctx context.Context, in WriteManifestInput) (*WriteManifestResult, error) {
	loc := in.Target.Location
	ctx = loc.WithRole(ctx)
	exp, err := backupstore.ReadExport(ctx, a.S3, loc.Bucket, in.ExportPrefix, in.ExportManifest, func(listed int) {
		activity.RecordHeartbeat(ctx, fmt.Sprintf("listed %d objects of the export", listed))
	})
	if err != nil {
		if backupstore.IsBadExport(err) {
			return nil, activities.Corrupt(fmt.Errorf("export of %s: %w", in.Target.TableName, err))
		}
		return nil, err
	}
	if exp.Items != in.ExportedItems {
		return nil, activities.Corrupt(fmt.Errorf("export of %s: data files hold %d items, DynamoDB reported %d", in.Target.TableName, exp.Items, in.ExportedItems))
	}
	m := &backupstore.Manifest{
		Format: backupstore.ManifestFormat, Tool: "lifeboat", BackupID: in.BackupID,
		WorkflowID: activity.GetInfo(ctx).WorkflowExecution.ID, CutTime: in.CutTime.UTC(), PausedWrites: in.PausedWrites,
		EnvironmentID: in.Target.EnvID, StoreID: in.Target.StoreID, DatasetID: in.Target.DatasetID,
		TableName: in.Target.TableName, ExportArn: in.ExportArn, ExportManifest: exp.SummaryKey,
		ItemCount: exp.Items, Bytes: exp.Bytes, DataPrefix: exp.DataPrefix, Objects: exp.Objects, ExportFiles: exp.OwnFiles,
		CreatedAt: time.Now().UTC(), Bucket: in.Target.Bucket, KMSKeyID: in.Target.KMSKeyID,
	}
	if m.Objects == nil {
		m.Objects = []backupstore.ObjectDigest{}
	}
	key := path.Join(path.Dir(in.ExportPrefix), backupstore.ManifestName)
	if err := backupstore.WriteManifest(ctx, a.S3, loc.Bucket, key, m); err != nil {
		return nil, err
	}
	return &WriteManifestResult{
		ManifestURL: "s3://" + loc.Bucket + "/" + key, ItemCount: m.ItemCount, Bytes: m.Bytes, Objects: len(m.Objects),
	}, nil
}

// VerifyBackupInput names a backup to check.
type VerifyBackupInput struct {
	Location    backupstore.Location `json:"location"`
	ManifestKey string               `json:"manifestKey"`
	// Record has VerifyBackup write its verdict beside the manifest
	// (verified.json), as DatasetVerify does.
	Record bool `json:"record,omitempty"`
}

// VerifyBackupResult is a checked backup's data.
type VerifyBackupResult struct {
	DataPrefix string `json:"dataPrefix"`
	ItemCount  int64  `json:"itemCount"`
	Objects    int    `json:"objects"`
	Bytes      int64  `json:"bytes,omitempty"`
	// Deep is true when every object was downloaded, counted and
	// checksummed (VerifyBackup), false for CheckBackup's metadata check.
	Deep bool `json:"deep,omitempty"`
}

// CheckBackup checks a backup before a restore without reading its data:
// the manifest reads and adds up, and one listing of the data folder shows
// exactly the manifest's objects, each with the recorded size and (format 2)
// S3 ETag. Nothing else may sit in the data folder: ImportTable would load
// it.
func (a *BackupFiles) CheckBackup(ctx context.Context, in VerifyBackupInput) (*VerifyBackupResult, error) {
	ctx = in.Location.WithRole(ctx)
	_, out, err := a.checkBackup(ctx, in)
	return out, err
}

// checkBackup is CheckBackup, also returning the manifest it read.
func (a *BackupFiles) checkBackup(ctx context.Context, in VerifyBackupInput) (*backupstore.Manifest, *VerifyBackupResult, error) {
	m, err := a.readManifest(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	present, err := backupstore.List(ctx, a.S3, in.Location.Bucket, m.DataPrefix)
	if err != nil {
		return nil, nil, err
	}
	want := map[string]backupstore.ObjectDigest{}
	for _, o := range m.Objects {
		want[o.Key] = o
	}
	for _, o := range present {
		key := aws.ToString(o.Key)
		w, ok := want[key]
		if !ok {
			return nil, nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s is not in the manifest", m.BackupID, in.Location.Bucket, key))
		}
		delete(want, key)
		etag := strings.Trim(aws.ToString(o.ETag), `"`)
		switch {
		case aws.ToInt64(o.Size) != w.Size:
			return nil, nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s has %d bytes, the manifest says %d", m.BackupID, in.Location.Bucket, key, aws.ToInt64(o.Size), w.Size))
		case w.ETag != "" && etag != "" && etag != w.ETag:
			return nil, nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s was changed (ETag %s, the manifest says %s)", m.BackupID, in.Location.Bucket, key, etag, w.ETag))
		}
	}
	for _, o := range m.Objects {
		if _, missing := want[o.Key]; missing {
			return nil, nil, activities.Corrupt(fmt.Errorf("backup %s: object missing: s3://%s/%s", m.BackupID, in.Location.Bucket, o.Key))
		}
	}
	return m, &VerifyBackupResult{DataPrefix: m.DataPrefix, ItemCount: m.ItemCount, Objects: len(m.Objects), Bytes: m.Bytes}, nil
}

func (a *BackupFiles) readManifest(ctx context.Context, in VerifyBackupInput) (*backupstore.Manifest, error) {
	m, err := backupstore.ReadManifest(ctx, a.S3, in.Location.Bucket, in.ManifestKey)
	if err != nil {
		if backupstore.IsNotFound(err) {
			return nil, activities.Invalid(err)
		}
		var bad *backupstore.BadManifestError
		if errors.As(err, &bad) {
			return nil, activities.Corrupt(err)
		}
		return nil, err
	}
	return m, nil
}

// VerifyProgress is VerifyBackup's heartbeat: how far it got, so a retry
// resumes after the last object checked.
type VerifyProgress struct {
	Done    int   `json:"done"` // objects checked
	Objects int   `json:"objects"`
	Items   int64 `json:"items"` // items counted in the checked objects
	Bytes   int64 `json:"bytes"` // bytes read, this object included
}

// VerifyBackup is the deep check: CheckBackup's, then every data object is
// downloaded, its items counted and its checksum computed and compared with
// the manifest (MD5 as DynamoDB recorded it; SHA-256 for format 1). It
// heartbeats as it reads and resumes after the last object it finished.
func (a *BackupFiles) VerifyBackup(ctx context.Context, in VerifyBackupInput) (*VerifyBackupResult, error) {
	ctx = in.Location.WithRole(ctx)
	out, err := a.verifyBackup(ctx, in)
	if in.Record {
		if rerr := a.recordVerification(ctx, in, out, err); rerr != nil && err == nil {
			return nil, rerr
		}
	}
	return out, err
}

func (a *BackupFiles) verifyBackup(ctx context.Context, in VerifyBackupInput) (*VerifyBackupResult, error) {
	m, out, err := a.checkBackup(ctx, in)
	if err != nil {
		return nil, err
	}
	var p VerifyProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
		if p.Done > len(m.Objects) {
			p = VerifyProgress{}
		}
	}
	p.Objects = len(m.Objects)
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	for i := p.Done; i < len(m.Objects); i++ {
		o := m.Objects[i]
		base := p.Bytes
		hb.Record(p)
		got, err := backupstore.Digest(ctx, a.S3, in.Location.Bucket, o.Key, func(n int64) {
			cur := p
			cur.Bytes = base + n
			hb.Record(cur)
		})
		if err != nil {
			var bad *backupstore.BadDataError
			switch {
			case backupstore.IsNotFound(err):
				return nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s is missing: %w", m.BackupID, in.Location.Bucket, o.Key, err))
			case errors.As(err, &bad):
				return nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s", m.BackupID, in.Location.Bucket, err))
			}
			return nil, err
		}
		if why := o.Matches(got, m.Format); why != "" {
			return nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s does not match the manifest: %s", m.BackupID, in.Location.Bucket, o.Key, why))
		}
		p.Done, p.Items, p.Bytes = i+1, p.Items+got.Items, base+got.Size
		hb.Record(p)
		activity.RecordHeartbeat(ctx, p)
	}
	if p.Items != m.ItemCount {
		return nil, activities.Corrupt(fmt.Errorf("backup %s: data files hold %d items, the manifest says %d", m.BackupID, p.Items, m.ItemCount))
	}
	out.Deep = true
	return out, nil
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
		return nil, activities.Invalid(err)
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
			return nil, activities.Invalid(fmt.Errorf("retention of %s/%s: %w", in.EnvID, in.DatasetID, err))
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
