package dataset

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// CopyAPI is the S3 client as a backup copy needs it.
type CopyAPI = backupstore.CopyAPI

// Copies copies finished backups to other locations, object by object
// through backupstore.Copier (which says why it streams rather than copies
// server-side).
type Copies struct {
	S3 CopyAPI
	// PartSize is the multipart threshold and part size (default
	// backupstore.DefaultCopyPartSize); tests make it small.
	PartSize int64
}

// CopyBackupInput names one finished backup and where to copy it.
type CopyBackupInput struct {
	Source    backupstore.Location `json:"source"`
	Dest      backupstore.Location `json:"dest"`
	EnvID     string               `json:"envId"`
	StoreID   string               `json:"storeId"`
	DatasetID string               `json:"datasetId"`
	BackupID  string               `json:"backupId"`
}

// CopyBackupResult is a finished copy.
type CopyBackupResult struct {
	ManifestURL string `json:"manifestUrl"`
	Objects     int    `json:"objects"`
	Bytes       int64  `json:"bytes"`
	// Skipped objects were already at the destination (a retry).
	Skipped int `json:"skipped,omitempty"`
}

// CopyBackup copies every object of a backup's folder to the same relative
// layout under the destination, checks each copied object's size and
// checksum there, and writes the manifest (its keys and ETags rewritten for
// the destination) last, so that an unfinished copy has none and is never
// listed as a backup. It is idempotent: objects already copied are skipped.
func (a *Copies) CopyBackup(ctx context.Context, in CopyBackupInput) (*CopyBackupResult, error) {
	srcCtx, dstCtx := in.Source.WithRole(ctx), in.Dest.WithRole(ctx)
	srcFolder := in.Source.BackupFolder(in.EnvID, in.StoreID, in.DatasetID, in.BackupID)
	dstFolder := in.Dest.BackupFolder(in.EnvID, in.StoreID, in.DatasetID, in.BackupID)
	if in.Source.Bucket == in.Dest.Bucket && srcFolder == dstFolder {
		return nil, activities.Invalid(fmt.Errorf("copy destination %s is the backup's own location", in.Dest))
	}
	m, err := backupstore.ReadManifest(srcCtx, a.S3, in.Source.Bucket, path.Join(srcFolder, backupstore.ManifestName))
	if err != nil {
		return nil, err
	}
	bucket, err := backupstore.CheckBucket(dstCtx, a.S3, in.Dest)
	if err != nil {
		if e := activities.InvalidAccess(in.Dest, err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("copy destination %s: %w", in.Dest, err)
	}
	if err := bucket.Require(in.Dest.Bucket, m.Bucket != nil && m.Bucket.AllowUnversioned); err != nil {
		return nil, activities.Invalid(err)
	}
	objects, err := backupstore.List(srcCtx, a.S3, in.Source.Bucket, srcFolder+"/")
	if err != nil {
		return nil, err
	}
	var done, bytes atomic.Int64
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, func() any {
		return fmt.Sprintf("copied %d of %d objects, %d bytes", done.Load(), len(objects), bytes.Load())
	})
	defer hb.Stop()

	copier := &backupstore.Copier{S3: a.S3, PartSize: a.PartSize}
	out := &CopyBackupResult{}
	etags := map[string]string{} // destination key -> its ETag
	var started time.Time
	manifestKey := path.Join(srcFolder, backupstore.ManifestName)
	for _, o := range objects {
		key := aws.ToString(o.Key)
		if key == manifestKey {
			continue // rewritten and written last
		}
		dstKey := dstFolder + strings.TrimPrefix(key, srcFolder)
		c, err := copier.CopyObject(srcCtx, dstCtx, in.Source.Bucket, key, in.Dest.Bucket, dstKey, &bytes)
		if err != nil {
			return nil, activities.CopyError(in.Dest, err)
		}
		etags[dstKey] = c.ETag
		if started.IsZero() || c.Modified.Before(started) {
			started = c.Modified
		}
		if c.Skipped {
			out.Skipped++
		}
		out.Objects++
		out.Bytes += c.Size
		done.Add(1)
	}

	moved := func(k string) string { return dstFolder + strings.TrimPrefix(k, srcFolder) }
	dm := *m
	dm.DataPrefix = moved(m.DataPrefix)
	if m.ExportManifest != "" {
		dm.ExportManifest = moved(m.ExportManifest)
	}
	dm.Objects = make([]backupstore.ObjectDigest, len(m.Objects))
	for i, o := range m.Objects {
		o.Key = moved(o.Key)
		if _, ok := etags[o.Key]; !ok {
			return nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s is in the manifest but not in the backup folder", m.BackupID, in.Source.Bucket, m.Objects[i].Key))
		}
		if o.ETag != "" {
			o.ETag = etags[o.Key] // a multipart upload has its own ETag
		}
		dm.Objects[i] = o
	}
	dm.ExportFiles = make([]string, len(m.ExportFiles))
	for i, k := range m.ExportFiles {
		dm.ExportFiles[i] = moved(k)
	}
	if started.IsZero() {
		started = time.Now().UTC()
	}
	dm.StartedAt, dm.CreatedAt, dm.Bucket = &started, time.Now().UTC(), bucket
	// The source's key belongs to the source account: the copy is encrypted
	// as the destination bucket's default says.
	dm.KMSKeyID = ""
	dstManifest := path.Join(dstFolder, backupstore.ManifestName)
	if err := backupstore.WriteManifest(dstCtx, a.S3, in.Dest.Bucket, dstManifest, &dm); err != nil {
		return nil, err
	}
	out.ManifestURL = "s3://" + in.Dest.Bucket + "/" + dstManifest
	return out, nil
}
