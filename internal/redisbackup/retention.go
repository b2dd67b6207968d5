package redisbackup

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// Retention of a cluster's backups follows the datasets' rules
// (backupstore.Retention: the newest Count, those younger than Days days,
// the newest complete backup always), over the folders that hold a cluster
// manifest. A folder without one (a backup in progress, or one that failed)
// is never touched.

// Verdict is retention's decision on one complete backup.
type Verdict struct {
	BackupID string `json:"backupId"`
	// Reason says why it is kept, or why it goes.
	Reason string `json:"reason"`
	// Keys are the objects deleting it removes: the files its manifest
	// lists inside its folder, then the manifest, last.
	Keys []string `json:"keys,omitempty"`
	// StartedAt is when the backup began writing (its manifest's), the
	// start of the window its object versions were written in.
	StartedAt time.Time `json:"startedAt,omitempty"`
}

// RetentionPlan is retention's decision for one cluster under one location.
type RetentionPlan struct {
	Keep   []Verdict // newest first
	Delete []Verdict // newest first
	// Left says what is left alone and why: folders without a manifest,
	// unreadable manifests, objects Lifeboat did not write.
	Left []string
}

// Rank decides which complete backups (ids, any order) a policy keeps.
// Backup ids are start times, so ages are measured from them to now; the
// newest and the ids in protect (a run's own backup) are always kept.
func Rank(complete []string, r backupstore.Retention, now time.Time, protect ...string) (keep, drop []Verdict) {
	ids := append([]string(nil), complete...)
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	maxAge := time.Duration(r.Days) * 24 * time.Hour
	for i, id := range ids {
		var why []string
		switch {
		case i == 0:
			why = append(why, "newest complete backup")
		case r.Count > 0 && i < r.Count:
			why = append(why, fmt.Sprintf("among the newest %d", r.Count))
		}
		if t, err := ParseBackupID(id); r.Days > 0 && err == nil && now.Sub(t) < maxAge {
			why = append(why, fmt.Sprintf("younger than %d days", r.Days))
		}
		for _, p := range protect {
			if p == id {
				why = append(why, "this run's backup")
			}
		}
		if len(why) > 0 {
			keep = append(keep, Verdict{BackupID: id, Reason: strings.Join(why, ", ")})
			continue
		}
		var gone []string
		if r.Count > 0 {
			gone = append(gone, fmt.Sprintf("not among the newest %d", r.Count))
		}
		if r.Days > 0 {
			gone = append(gone, fmt.Sprintf("%d days old or more", r.Days))
		}
		drop = append(drop, Verdict{BackupID: id, Reason: strings.Join(gone, ", ")})
	}
	return keep, drop
}

// PlanRetention lists a cluster's backup folders (one listing of the
// cluster's prefix) and decides which backups go. It reads the manifest
// of each backup to delete, to delete only the files it lists.
func PlanRetention(ctx context.Context, api backupstore.API, loc backupstore.Location, cluster string, r backupstore.Retention, now time.Time, protect ...string) (*RetentionPlan, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	prefix := ClusterPrefix(loc, cluster)
	objs, err := backupstore.List(ctx, api, loc.Bucket, prefix)
	if err != nil {
		return nil, err
	}
	folders := map[string][]string{}
	for _, o := range objs {
		key := aws.ToString(o.Key)
		id, _, ok := strings.Cut(strings.TrimPrefix(key, prefix), "/")
		if _, err := ParseBackupID(id); !ok || err != nil {
			continue // not inside a backup folder: not retention's
		}
		folders[id] = append(folders[id], key)
	}
	plan := &RetentionPlan{}
	var complete []string
	for id, keys := range folders {
		manifest := ManifestKey(loc, cluster, id)
		if slices.Contains(keys, manifest) {
			complete = append(complete, id)
		} else {
			plan.Left = append(plan.Left, fmt.Sprintf("%s: no %s (in progress or failed): left alone (%d objects)", id, ManifestName, len(keys)))
		}
	}
	sort.Strings(plan.Left)
	keep, drop := Rank(complete, r, now, protect...)
	plan.Keep = keep
	for _, v := range drop {
		manifest := ManifestKey(loc, cluster, v.BackupID)
		m, err := ReadManifest(ctx, api, loc.Bucket, manifest)
		if err != nil {
			plan.Left = append(plan.Left, fmt.Sprintf("%s: unreadable manifest, left alone: %v", v.BackupID, err))
			continue
		}
		v.StartedAt = m.StartedAt
		if t, err := ParseBackupID(v.BackupID); err == nil && (v.StartedAt.IsZero() || t.Before(v.StartedAt)) {
			v.StartedAt = t // the id is the backup's start time
		}
		listed := map[string]bool{}
		for _, n := range m.Nodes {
			for _, f := range n.Files {
				listed[f.Key] = true
			}
		}
		folder := BackupFolder(loc, cluster, v.BackupID) + "/"
		var others []string
		for _, k := range folders[v.BackupID] {
			switch {
			case k == manifest:
			case listed[k] && strings.HasPrefix(k, folder), backupstore.IsRecordKey(strings.TrimSuffix(folder, "/"), k):
				v.Keys = append(v.Keys, k)
			default:
				others = append(others, path.Base(k))
			}
		}
		sort.Strings(v.Keys)
		v.Keys = append(v.Keys, manifest)
		if len(others) > 0 {
			plan.Left = append(plan.Left, fmt.Sprintf("%s: %d objects Lifeboat did not write left in place", v.BackupID, len(others)))
		}
		plan.Delete = append(plan.Delete, v)
	}
	return plan, nil
}

// RetentionRun is what ApplyRetention decided and did.
type RetentionRun struct {
	Plan    *RetentionPlan
	Deleted []string // backup ids, newest first
	Objects int      // objects deleted
}

// ApplyRetention deletes the backups a policy no longer keeps (with dryRun,
// only plans). Each backup's files go first and its manifest last, so a
// run interrupted half-way leaves a backup that the next run plans again;
// deleting an object already gone succeeds. onDeleted is called per object.
//
// On a versioned bucket deleting a key only adds a delete marker and frees
// nothing: there the versions the backup wrote are deleted by id
// (backupstore.DeleteWritten), never a version someone else wrote (noted in
// Left), and under Object Lock nothing of a backup still retained (noted
// with the date it becomes deletable, and not counted as deleted).
func ApplyRetention(ctx context.Context, api backupstore.DeleteAPI, loc backupstore.Location, cluster string, r backupstore.Retention, now time.Time,
	protect []string, dryRun bool, onDeleted func(backupID, key string)) (*RetentionRun, error) {
	plan, err := PlanRetention(ctx, api, loc, cluster, r, now, protect...)
	if err != nil {
		return nil, err
	}
	run := &RetentionRun{Plan: plan, Deleted: []string{}}
	if dryRun || len(plan.Delete) == 0 {
		return run, nil
	}
	locked, err := backupstore.ObjectLockEnabled(ctx, api, loc.Bucket)
	if err != nil {
		return run, err
	}
	for _, v := range plan.Delete {
		if vapi, ok := api.(backupstore.VersionsAPI); ok {
			w := backupstore.Written{Name: v.BackupID, Folder: BackupFolder(loc, cluster, v.BackupID),
				Manifest: ManifestKey(loc, cluster, v.BackupID), Keys: v.Keys, Start: v.StartedAt}
			n, versioned, notes, err := backupstore.DeleteWritten(ctx, vapi, loc.Bucket, w, locked, now, func(key string) {
				if onDeleted != nil {
					onDeleted(v.BackupID, key)
				}
			})
			run.Objects += n
			plan.Left = append(plan.Left, notes...)
			var le *backupstore.LockedError
			if errors.As(err, &le) {
				plan.Left = append(plan.Left, v.BackupID+": "+le.Error()+": kept")
				continue
			}
			if err != nil {
				return run, err
			}
			if versioned {
				run.Deleted = append(run.Deleted, v.BackupID)
				continue
			}
		}
		for _, key := range v.Keys {
			if _, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(key)}); err != nil {
				return run, fmt.Errorf("delete s3://%s/%s: %w", loc.Bucket, key, err)
			}
			run.Objects++
			if onDeleted != nil {
				onDeleted(v.BackupID, key)
			}
		}
		run.Deleted = append(run.Deleted, v.BackupID)
	}
	return run, nil
}
