package backupstore

import (
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/ids"
)

var day0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// complete makes a complete backup cut daysAgo days before day0, with one
// data object and one DynamoDB export file.
func complete(daysAgo int, kept bool) Backup {
	cut := day0.Add(-time.Duration(daysAgo) * 24 * time.Hour)
	id := ids.BackupID(cut)
	folder := "root/e/initial/d/" + id
	data := folder + "/export/AWSDynamoDB/01/data/a.json.gz"
	meta := folder + "/export/AWSDynamoDB/01/manifest-summary.json"
	keys := []string{data, meta, folder + "/" + ManifestName}
	if kept {
		keys = append(keys, folder+"/"+KeepMarkerName)
	}
	slices.Sort(keys)
	return Backup{
		ID: id, StoreID: "initial", Folder: folder, Kept: kept, Keys: keys,
		Manifest: &Manifest{
			Format: ManifestFormat, BackupID: id, CutTime: cut, EnvironmentID: "e", StoreID: "initial", DatasetID: "d",
			DataPrefix: path.Dir(data) + "/", Objects: []ObjectDigest{{Key: data, Size: 10, Items: 1}}, ExportFiles: []string{meta},
		},
	}
}

func incomplete(daysAgo int) Backup {
	id := ids.BackupID(day0.Add(-time.Duration(daysAgo) * 24 * time.Hour))
	folder := "root/e/initial/d/" + id
	return Backup{ID: id, StoreID: "initial", Folder: folder, Problem: "no manifest.json (in progress or failed)",
		Keys: []string{folder + "/export/AWSDynamoDB/01/data/a.json.gz"}}
}

func daysAgo(v []Verdict) []int {
	out := []int{}
	for _, x := range v {
		out = append(out, int(day0.Sub(x.Backup.Manifest.CutTime)/(24*time.Hour)))
	}
	return out
}

func TestPlanRetention(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		backups    []Backup
		r          Retention
		now        time.Time
		protect    []string
		keep, gone []int // days ago, newest first
		left       int
	}{
		{
			name:    "count keeps the newest N",
			backups: []Backup{complete(5, false), complete(4, false), complete(3, false), complete(2, false), complete(1, false)},
			r:       Retention{Count: 2}, now: day0,
			keep: []int{1, 2}, gone: []int{3, 4, 5},
		},
		{
			name:    "newest kept even with count 1 and days only",
			backups: []Backup{complete(30, false), complete(20, false), complete(10, false)},
			r:       Retention{Days: 7}, now: day0,
			keep: []int{10}, gone: []int{20, 30},
		},
		{
			name:    "all old, days only: the newest complete backup stays",
			backups: []Backup{complete(400, false), complete(300, false)},
			r:       Retention{Days: 1}, now: day0,
			keep: []int{300}, gone: []int{400},
		},
		{
			name:    "kept markers are never deleted and do not take a count slot",
			backups: []Backup{complete(5, true), complete(4, false), complete(3, true), complete(2, false), complete(1, false)},
			r:       Retention{Count: 2}, now: day0,
			keep: []int{1, 2, 3, 5}, gone: []int{4},
		},
		{
			name:    "days and count combined: kept if either keeps it",
			backups: []Backup{complete(9, false), complete(6, false), complete(5, false), complete(4, false), complete(1, false)},
			r:       Retention{Count: 2, Days: 6}, now: day0,
			keep: []int{1, 4, 5}, gone: []int{6, 9},
		},
		{
			name:    "the clock decides: the same backups a week later",
			backups: []Backup{complete(9, false), complete(6, false), complete(5, false), complete(4, false), complete(1, false)},
			r:       Retention{Days: 6}, now: day0.Add(7 * 24 * time.Hour),
			keep: []int{1}, gone: []int{4, 5, 6, 9},
		},
		{
			name:    "no complete backup: nothing deleted, folders reported",
			backups: []Backup{incomplete(3), incomplete(2)},
			r:       Retention{Count: 1}, now: day0,
			keep: []int{}, gone: []int{}, left: 2,
		},
		{
			name:    "incomplete folders neither count nor go",
			backups: []Backup{complete(3, false), complete(2, false), incomplete(1)},
			r:       Retention{Count: 1}, now: day0,
			keep: []int{2}, gone: []int{3}, left: 1,
		},
		{
			name:    "a protected backup (the run's own, cut earlier by PITR) stays",
			backups: []Backup{complete(10, false), complete(3, false), complete(2, false)},
			r:       Retention{Count: 1}, now: day0, protect: []string{ids.BackupID(day0.Add(-10 * 24 * time.Hour))},
			keep: []int{2, 10}, gone: []int{3},
		},
		{
			name: "no backups at all",
			r:    Retention{Count: 3}, now: day0,
			keep: []int{}, gone: []int{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			plan := PlanRetention(&DatasetBackups{Backups: c.backups}, c.r, c.now, c.protect...)
			if got := daysAgo(plan.Keep); !slices.Equal(got, c.keep) {
				t.Errorf("kept (days ago) %v, want %v", got, c.keep)
			}
			if got := daysAgo(plan.Delete); !slices.Equal(got, c.gone) {
				t.Errorf("deleted (days ago) %v, want %v", got, c.gone)
			}
			if len(plan.Left) != c.left {
				t.Errorf("left %q, want %d notes", plan.Left, c.left)
			}
		})
	}
}

func TestPlanRetentionDeletesOnlyWhatLifeboatWrote(t *testing.T) {
	t.Parallel()
	old, newest := complete(3, false), complete(1, false)
	foreign := old.Folder + "/notes.txt"
	outside := "root/e/other/thing.gz"
	old.Keys = append(old.Keys, foreign)
	old.Manifest.Objects = append(old.Manifest.Objects, ObjectDigest{Key: outside})
	plan := PlanRetention(&DatasetBackups{Backups: []Backup{old, newest}, Stray: []string{"root/e/initial/d/readme"}}, Retention{Count: 1}, day0)
	if len(plan.Delete) != 1 {
		t.Fatalf("plan deletes %d backups, want 1", len(plan.Delete))
	}
	keys := plan.Delete[0].Keys
	want := []string{
		old.Folder + "/export/AWSDynamoDB/01/data/a.json.gz",
		old.Folder + "/export/AWSDynamoDB/01/manifest-summary.json",
		old.Folder + "/" + ManifestName, // last
	}
	if !slices.Equal(keys, want) {
		t.Errorf("keys to delete %q, want %q", keys, want)
	}
	notes := strings.Join(plan.Left, "\n")
	for _, w := range []string{foreign, "root/e/initial/d/readme"} {
		if !strings.Contains(notes, w) {
			t.Errorf("left notes lack %s:\n%s", w, notes)
		}
	}
	if slices.Contains(keys, outside) {
		t.Errorf("an object outside the backup folder would be deleted")
	}
}

func TestRetentionValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r  Retention
		ok bool
	}{
		{Retention{Count: 2}, true},
		{Retention{Days: 7}, true},
		{Retention{Count: 1, Days: 1}, true},
		{Retention{}, false},
		{Retention{Count: -1}, false},
		{Retention{Count: 3, Days: -2}, false},
	} {
		if err := c.r.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", c.r, err, c.ok)
		}
	}
}

// TestRetentionDeletesTheRecordsBesideABackup: verified.json and
// restore-test.json, written after the backup, go with it (before the
// manifest); left behind, the folder would list as a backup with no
// manifest.
func TestRetentionDeletesTheRecordsBesideABackup(t *testing.T) {
	t.Parallel()
	old, newest := complete(3, false), complete(1, false)
	verified, tested := old.Folder+"/"+VerifiedName, old.Folder+"/"+RestoreTestName
	old.Keys = append(old.Keys, verified, tested)
	plan := PlanRetention(&DatasetBackups{Backups: []Backup{old, newest}}, Retention{Count: 1}, day0)
	if len(plan.Delete) != 1 {
		t.Fatalf("plan deletes %d backups, want 1", len(plan.Delete))
	}
	keys := plan.Delete[0].Keys
	for _, k := range []string{verified, tested} {
		if !slices.Contains(keys, k) {
			t.Errorf("keys to delete %q lack %s", keys, k)
		}
	}
	if keys[len(keys)-1] != old.Folder+"/"+ManifestName {
		t.Errorf("keys to delete %q: the manifest is not last", keys)
	}
	if len(plan.Left) != 0 {
		t.Errorf("left notes: %q, want none", plan.Left)
	}
}

// TestWrittenPlanOnAVersionedBucket: the versions a backup wrote inside its
// write window go, its records' versions written later go too, and a
// version someone else wrote (another key, or before the backup) stays.
func TestWrittenPlanOnAVersionedBucket(t *testing.T) {
	t.Parallel()
	folder := "root/e/initial/d/20261120T030000.000Z"
	start := day0
	data, manifest := folder+"/export/a.json.gz", folder+"/"+ManifestName
	verified := folder + "/" + VerifiedName
	w := Written{Name: "b", Folder: folder, Manifest: manifest, Keys: []string{data, manifest}, Start: start}
	at := func(d time.Duration) time.Time { return start.Add(d) }
	all := []version{
		{Key: data, ID: "d1", Modified: at(time.Minute)},
		{Key: manifest, ID: "m1", Modified: at(2 * time.Minute)},
		{Key: verified, ID: "v1", Modified: at(48 * time.Hour)},           // a verify two days later
		{Key: verified, ID: "v0", Modified: at(-48 * time.Hour)},          // before the backup: not ours
		{Key: data, ID: "d2", Modified: at(72 * time.Hour)},               // rewritten after the manifest: not ours
		{Key: folder + "/notes.txt", ID: "n1", Modified: at(time.Minute)}, // another key: not ours
	}
	del, left, ok := writtenPlan(w, all)
	if !ok {
		t.Fatal("no manifest version found")
	}
	ids := func(vs []version) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.ID)
		}
		slices.Sort(out)
		return out
	}
	if got, want := ids(del), []string{"d1", "m1", "v1"}; !slices.Equal(got, want) {
		t.Errorf("deleted %v, want %v", got, want)
	}
	if got, want := ids(left), []string{"d2", "n1", "v0"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if del[len(del)-1].Key != manifest {
		t.Errorf("the manifest's version is not deleted last: %v", del)
	}
}
