package backupstore

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Retention says which of a dataset's backups to keep: the newest Count
// and/or those younger than Days days. A backup is kept when any enabled
// rule keeps it; a zero rule is off, and at least one must be on.
type Retention struct {
	Count int `json:"count,omitempty"`
	Days  int `json:"days,omitempty"`
}

// Validate refuses negative rules and a policy with no rule on (it would
// keep nothing but the newest backup, which is never what was meant).
func (r Retention) Validate() error {
	switch {
	case r.Count < 0:
		return fmt.Errorf("retention count %d is negative", r.Count)
	case r.Days < 0:
		return fmt.Errorf("retention days %d is negative", r.Days)
	case r.Count == 0 && r.Days == 0:
		return errors.New("retention policy keeps neither a count nor days: give a count, days or both")
	}
	return nil
}

func (r Retention) String() string {
	var parts []string
	if r.Count > 0 {
		parts = append(parts, fmt.Sprintf("the newest %d", r.Count))
	}
	if r.Days > 0 {
		parts = append(parts, fmt.Sprintf("those younger than %d days", r.Days))
	}
	return "keep " + strings.Join(parts, " and ")
}

// Verdict is what retention decides for one complete backup.
type Verdict struct {
	Backup Backup
	// Reason says why it is kept, or why it goes.
	Reason string
	// Keys are the objects deleting it removes: those its manifest lists
	// that lie inside its folder, then the manifest itself, last.
	Keys []string
}

// RetentionPlan is retention's decision for one dataset under one location.
type RetentionPlan struct {
	Keep   []Verdict // complete backups kept, newest first
	Delete []Verdict // complete backups to delete, newest first
	// Left lists what is left alone and why: folders without a readable
	// manifest, and objects Lifeboat did not write inside folders of
	// backups being deleted.
	Left []string
}

// PlanRetention decides which of a dataset's backups go. Only complete
// backups (a manifest that reads and matches its folder) are ranked and
// deleted; everything else is left alone and reported. The newest complete
// backup, backups marked keep and the backups named in protect (a run's own
// new backup) are never deleted. Ages are measured from now to each
// backup's cut time, so the same inputs always give the same plan.
func PlanRetention(found *DatasetBackups, r Retention, now time.Time, protect ...string) RetentionPlan {
	var plan RetentionPlan
	var complete []Backup
	for _, b := range found.Backups {
		if b.Complete() {
			complete = append(complete, b)
			continue
		}
		plan.Left = append(plan.Left, fmt.Sprintf("%s: %s: left alone (%s)", b.Name(), b.Problem, objects(len(b.Keys))))
	}
	for _, k := range found.Stray {
		plan.Left = append(plan.Left, fmt.Sprintf("s3://%s/%s: not inside a backup folder: left alone", found.Location.Bucket, k))
	}
	SortNewestFirst(complete)
	protected := map[string]bool{}
	for _, id := range protect {
		protected[id] = true
	}
	maxAge := time.Duration(r.Days) * 24 * time.Hour
	for i, b := range complete {
		var keep []string
		switch {
		case i == 0:
			keep = append(keep, "newest complete backup")
		case r.Count > 0 && i < r.Count:
			keep = append(keep, fmt.Sprintf("among the newest %d", r.Count))
		}
		if r.Days > 0 && now.Sub(b.Manifest.CutTime) < maxAge {
			keep = append(keep, fmt.Sprintf("younger than %d days", r.Days))
		}
		if b.Kept {
			keep = append(keep, "marked keep")
		}
		if protected[b.ID] {
			keep = append(keep, "this run's backup")
		}
		if len(keep) > 0 {
			plan.Keep = append(plan.Keep, Verdict{Backup: b, Reason: strings.Join(keep, ", ")})
			continue
		}
		var why []string
		if r.Count > 0 {
			why = append(why, fmt.Sprintf("not among the newest %d", r.Count))
		}
		if r.Days > 0 {
			why = append(why, fmt.Sprintf("%d days old or more", r.Days))
		}
		keys, left := deletable(b)
		plan.Delete = append(plan.Delete, Verdict{Backup: b, Reason: strings.Join(why, ", "), Keys: keys})
		if len(left) > 0 {
			urls := make([]string, len(left))
			for i, k := range left {
				urls[i] = "s3://" + found.Location.Bucket + "/" + k
			}
			plan.Left = append(plan.Left, fmt.Sprintf("%s: %s Lifeboat did not write left in place: %s",
				b.Name(), objects(len(left)), sample(urls, 3)))
		}
	}
	return plan
}

// IsRecordKey says whether key is one of the records Lifeboat writes in a
// backup's folder after the backup (verified.json, restore-test.json,
// keep.json): they go with the backup, or its folder would outlive it and
// list as a backup with no manifest.
func IsRecordKey(folder, key string) bool {
	switch key {
	case path.Join(folder, VerifiedName), path.Join(folder, RestoreTestName), path.Join(folder, KeepMarkerName):
		return true
	}
	return false
}

// deletable splits a complete backup's objects into those Lifeboat wrote
// (listed in its manifest, inside its folder, and its records; the
// manifest last) and the rest, which retention leaves. A keep marker never reaches here: a backup
// that has one is kept.
func deletable(b Backup) (keys, left []string) {
	owned := map[string]bool{}
	inside := func(k string) bool { return strings.HasPrefix(k, b.Folder+"/") }
	for _, o := range b.Manifest.Objects {
		if inside(o.Key) {
			owned[o.Key] = true
		}
	}
	for _, k := range b.Manifest.ExportFiles {
		if inside(k) {
			owned[k] = true
		}
	}
	manifest := path.Join(b.Folder, ManifestName)
	for _, k := range b.Keys {
		switch {
		case k == manifest:
		case owned[k] || IsRecordKey(b.Folder, k):
			keys = append(keys, k)
		default:
			left = append(left, k)
		}
	}
	return append(keys, manifest), left
}

// SortNewestFirst orders backups by cut time (complete ones) or by the time
// their id names (others), newest first; ids break ties.
func SortNewestFirst(bs []Backup) {
	sort.SliceStable(bs, func(i, j int) bool {
		ti, tj := bs[i].Time(), bs[j].Time()
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		if bs[i].ID != bs[j].ID {
			return bs[i].ID > bs[j].ID
		}
		return bs[i].StoreID < bs[j].StoreID
	})
}

func objects(n int) string {
	if n == 1 {
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}

func sample(keys []string, n int) string {
	if len(keys) > n {
		return strings.Join(keys[:n], ", ") + fmt.Sprintf(" and %d more", len(keys)-n)
	}
	return strings.Join(keys, ", ")
}
