package backupstore

import (
	"context"
	"path"
	"strings"
	"testing"
)

// The texts below reach users as they are (retention summaries, error lines),
// so they are checked word for word.

func TestRetentionStringNamesEveryRuleOn(t *testing.T) {
	t.Parallel()
	for r, want := range map[Retention]string{
		{Count: 3}:          "keep the newest 3",
		{Days: 7}:           "keep those younger than 7 days",
		{Count: 3, Days: 7}: "keep the newest 3 and those younger than 7 days",
	} {
		if got := r.String(); got != want {
			t.Errorf("%+v: %q, want %q", r, got, want)
		}
	}
}

func TestLocationStringGivesTheURLBack(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"s3://bucket", "s3://bucket/root", "s3://bucket/a/b"} {
		loc, err := ParseLocation(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got := loc.String(); got != raw {
			t.Errorf("ParseLocation(%q).String() = %q", raw, got)
		}
	}
}

func TestNoBackupErrorSaysWhatIsMissing(t *testing.T) {
	t.Parallel()
	loc := Location{Bucket: "b", Prefix: "root"}
	named := (&NoBackupError{Location: loc, Dataset: "d", BackupID: "20261122T030000.000Z"}).Error()
	if named != `no backup 20261122T030000.000Z of dataset "d" under s3://b/root` {
		t.Errorf("with a backup id: %q", named)
	}
	latest := (&NoBackupError{Location: loc, Dataset: "d"}).Error()
	if latest != `no complete backup of dataset "d" under s3://b/root (no manifest.json found)` {
		t.Errorf("without: %q", latest)
	}
}

// A backup folder holding many objects Lifeboat did not write is reported
// with three of them and a count of the rest, not with every key.
func TestPlanRetentionNamesAFewForeignObjects(t *testing.T) {
	t.Parallel()
	old := complete(10, false)
	for _, name := range []string{"x1", "x2", "x3", "x4", "x5"} {
		old.Keys = append(old.Keys, old.Folder+"/"+name)
	}
	found := &DatasetBackups{Location: Location{Bucket: "b", Prefix: "root"}, Backups: []Backup{complete(0, false), old}}
	plan := PlanRetention(found, Retention{Count: 1}, day0)
	if len(plan.Delete) != 1 || len(plan.Left) != 1 {
		t.Fatalf("plan: delete %d, left %q", len(plan.Delete), plan.Left)
	}
	s3url := "s3://b/" + old.Folder + "/"
	want := old.Name() + ": 5 objects Lifeboat did not write left in place: " +
		s3url + "x1, " + s3url + "x2, " + s3url + "x3 and 2 more"
	if plan.Left[0] != want {
		t.Errorf("left:\n%s\nwant\n%s", plan.Left[0], want)
	}
	for _, k := range plan.Delete[0].Keys {
		if strings.HasPrefix(path.Base(k), "x") {
			t.Errorf("plans to delete %s, which Lifeboat did not write", k)
		}
	}
}

// A folder whose manifest does not decode, or describes another backup, is
// listed with the reason and never counted as a complete backup.
func TestListBackupsReportsManifestsItCannotUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api := newMemS3()
	loc := Location{Bucket: "b", Prefix: "root"}
	good := putBackup(t, api, loc, "s1", 0)
	garbled := putBackup(t, api, loc, "s1", 1)
	api.objects[path.Join(garbled.Folder, ManifestName)] = []byte("{not json")
	moved := putBackup(t, api, loc, "s1", 2)
	// The manifest of the newest backup copied into an older folder: it
	// describes the newest, not this folder.
	api.objects[path.Join(moved.Folder, ManifestName)] = api.objects[path.Join(good.Folder, ManifestName)]

	found, err := ListBackups(ctx, api, loc, "e", "d")
	if err != nil {
		t.Fatal(err)
	}
	problems := map[string]string{}
	for _, b := range found.Backups {
		if b.Complete() != (b.ID == good.ID) {
			t.Errorf("%s: complete %v", b.Name(), b.Complete())
		}
		problems[b.ID] = b.Problem
	}
	if p := problems[garbled.ID]; !strings.HasPrefix(p, "unreadable manifest: decode manifest s3://b/"+garbled.Folder) {
		t.Errorf("garbled manifest: problem %q", p)
	}
	if p := problems[moved.ID]; p != "manifest describes e/s1/d/"+good.ID+", not this folder" {
		t.Errorf("moved manifest: problem %q", p)
	}
	if p := problems[good.ID]; p != "" {
		t.Errorf("good backup: problem %q", p)
	}
}
