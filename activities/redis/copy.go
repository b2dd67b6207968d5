package redis

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// Copies copies complete cluster backups to other locations, object by
// object through backupstore.Copier, as the datasets' copies do.
type Copies struct {
	S3 backupstore.CopyAPI
	// PartSize is the multipart threshold and part size (default
	// backupstore.DefaultCopyPartSize); tests make it small.
	PartSize int64
}

// CopyRedisBackupInput names one complete cluster backup and where to copy it.
type CopyRedisBackupInput struct {
	Source   backupstore.Location `json:"source"`
	Dest     backupstore.Location `json:"dest"`
	Cluster  string               `json:"cluster"`
	BackupID string               `json:"backupId"`
	// AllowUnversioned accepts an unversioned destination bucket, as the
	// backup's run accepted one for its primary.
	AllowUnversioned bool `json:"allowUnversioned,omitempty"`
}

// CopyRedisBackupResult is a finished copy.
type CopyRedisBackupResult struct {
	ManifestURL string `json:"manifestUrl"`
	Objects     int    `json:"objects"`
	Bytes       int64  `json:"bytes"`
	// Skipped objects were already at the destination (a retry).
	Skipped int `json:"skipped,omitempty"`
}

// CopyRedisBackup copies every node file of a complete backup to the same
// layout under the destination (each checked there), then the cluster
// manifest with its keys rewritten for the destination, last: an
// unfinished copy has no manifest and is no backup. Objects already copied
// are skipped, so a retry carries on.
func (a *Copies) CopyRedisBackup(ctx context.Context, in CopyRedisBackupInput) (*CopyRedisBackupResult, error) {
	srcCtx, dstCtx := in.Source.WithRole(ctx), in.Dest.WithRole(ctx)
	srcFolder := redisbackup.BackupFolder(in.Source, in.Cluster, in.BackupID)
	dstFolder := redisbackup.BackupFolder(in.Dest, in.Cluster, in.BackupID)
	if in.Source.Bucket == in.Dest.Bucket && srcFolder == dstFolder {
		return nil, activities.Invalid(fmt.Errorf("copy destination %s is the backup's own location", in.Dest))
	}
	m, err := redisbackup.ReadManifest(srcCtx, a.S3, in.Source.Bucket, redisbackup.ManifestKey(in.Source, in.Cluster, in.BackupID))
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
	if err := bucket.Require(in.Dest.Bucket, in.AllowUnversioned); err != nil {
		return nil, activities.Invalid(err)
	}

	total := 0
	for _, n := range m.Nodes {
		total += len(n.Files)
	}
	var done, bytes atomic.Int64
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, func() any {
		return fmt.Sprintf("copied %d of %d files, %d bytes", done.Load(), total, bytes.Load())
	})
	defer hb.Stop()

	copier := &backupstore.Copier{S3: a.S3, PartSize: a.PartSize}
	out := &CopyRedisBackupResult{}
	dm := *m
	dm.Nodes = make([]redisbackup.Node, len(m.Nodes))
	for i, n := range m.Nodes {
		dn := n
		dn.Files = make([]redisbackup.File, len(n.Files))
		for j, f := range n.Files {
			if !strings.HasPrefix(f.Key, srcFolder+"/") {
				return nil, activities.Corrupt(fmt.Errorf("backup %s: node %s's file s3://%s/%s is outside the backup folder", m.BackupID, n.Node, in.Source.Bucket, f.Key))
			}
			dstKey := dstFolder + strings.TrimPrefix(f.Key, srcFolder)
			c, err := copier.CopyObject(srcCtx, dstCtx, in.Source.Bucket, f.Key, in.Dest.Bucket, dstKey, &bytes)
			if err != nil {
				return nil, activities.CopyError(in.Dest, err)
			}
			if c.Size != f.Size {
				return nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s has %d bytes, the manifest says %d", m.BackupID, in.Source.Bucket, f.Key, c.Size, f.Size))
			}
			if c.Skipped {
				out.Skipped++
			}
			f.Key = dstKey
			dn.Files[j] = f
			out.Objects++
			out.Bytes += c.Size
			done.Add(1)
		}
		dm.Nodes[i] = dn
	}
	key := redisbackup.ManifestKey(in.Dest, in.Cluster, in.BackupID)
	if err := redisbackup.WriteManifest(dstCtx, a.S3, in.Dest.Bucket, key, &dm); err != nil {
		return nil, err
	}
	out.Objects++
	out.ManifestURL = "s3://" + in.Dest.Bucket + "/" + key
	return out, nil
}
