package redisbackup

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

func (m *memS3) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

func TestRank(t *testing.T) {
	t.Parallel()
	now := time.Date(2021, 9, 10, 12, 0, 0, 0, time.UTC)
	day := func(d int) string { return NewBackupID(time.Date(2021, 9, d, 12, 0, 0, 0, time.UTC)) }
	all := []string{day(9), day(1), day(5), day(3), day(7)} // any order
	cases := []struct {
		name    string
		r       backupstore.Retention
		protect []string
		keep    []string // newest first
	}{
		{"newest 2", backupstore.Retention{Count: 2}, nil, []string{day(9), day(7)}},
		{"newest 1", backupstore.Retention{Count: 1}, nil, []string{day(9)}},
		{"more than there are", backupstore.Retention{Count: 9}, nil, []string{day(9), day(7), day(5), day(3), day(1)}},
		{"younger than 4 days", backupstore.Retention{Days: 4}, nil, []string{day(9), day(7)}},
		{"the newest even when old", backupstore.Retention{Days: 1}, nil, []string{day(9)}},
		{"count or days", backupstore.Retention{Count: 1, Days: 6}, nil, []string{day(9), day(7), day(5)}},
		{"this run's backup", backupstore.Retention{Count: 1}, []string{day(3)}, []string{day(9), day(3)}},
	}
	for _, c := range cases {
		keep, drop := Rank(all, c.r, now, c.protect...)
		var got []string
		for _, v := range keep {
			got = append(got, v.BackupID)
		}
		if !slices.Equal(got, c.keep) {
			t.Errorf("%s: keep %v, want %v", c.name, got, c.keep)
		}
		if len(keep)+len(drop) != len(all) {
			t.Errorf("%s: %d kept + %d dropped of %d", c.name, len(keep), len(drop), len(all))
		}
		for _, v := range drop {
			if slices.Contains(c.keep, v.BackupID) || v.Reason == "" {
				t.Errorf("%s: dropped %+v", c.name, v)
			}
		}
	}
}

// TestApplyRetention: only complete backups beyond the policy go, only the
// files their manifest lists and then the manifest; folders without a
// manifest (a backup in progress) and foreign objects stay.
func TestApplyRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	loc := backupstore.Location{Bucket: "b", Prefix: "redis"}
	api := &memS3{objects: map[string][]byte{}}
	ids := []string{"20210901T120000.000Z", "20210902T120000.000Z", "20210903T120000.000Z", "20210904T120000.000Z"}
	failed, running := "20210901T000000.000Z", "20210905T120000.000Z" // no manifest: a failed run's leftovers, a run in progress
	sum := strings.Repeat("a", 64)
	for _, id := range ids {
		m := &Manifest{Format: ManifestFormat, Cluster: "shop", BackupID: id, Persistence: FormatRDB, Bytes: 2}
		for _, n := range []string{"n1", "n2"} {
			key := NodeFolder(loc, "shop", id, n) + "/dump.rdb"
			api.objects[key] = []byte("x")
			m.Nodes = append(m.Nodes, Node{Node: n, Bytes: 1, Files: []File{{Name: "dump.rdb", Role: RoleRDB, Key: key, Size: 1, SHA256: sum}}})
		}
		if err := WriteManifest(ctx, api, loc.Bucket, ManifestKey(loc, "shop", id), m); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{failed, running} {
		api.objects[NodeFolder(loc, "shop", id, "n1")+"/dump.rdb"] = []byte("x")
	}
	stray := BackupFolder(loc, "shop", ids[0]) + "/notes.txt"
	api.objects[stray] = []byte("mine")
	other := loc.Key("shopping", ids[0], ManifestName) // another cluster's
	api.objects[other] = []byte("{}")
	before := len(api.objects)

	dry, err := ApplyRetention(ctx, api, loc, "shop", backupstore.Retention{Count: 2}, time.Now(), nil, true, nil)
	if err != nil || len(dry.Plan.Delete) != 2 || len(api.objects) != before {
		t.Fatalf("dry run: %+v, %v; %d objects, want %d", dry, err, len(api.objects), before)
	}

	var order []string
	run, err := ApplyRetention(ctx, api, loc, "shop", backupstore.Retention{Count: 2}, time.Now(), nil, false,
		func(_, key string) { order = append(order, key) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(run.Deleted, []string{ids[1], ids[0]}) || run.Objects != 6 {
		t.Errorf("deleted %v (%d objects), want %v (6 objects)", run.Deleted, run.Objects, []string{ids[1], ids[0]})
	}
	for _, id := range ids[:2] {
		last := -1
		for i, k := range order {
			if strings.Contains(k, id) {
				last = i
			}
		}
		if last < 0 || order[last] != ManifestKey(loc, "shop", id) {
			t.Errorf("backup %s: manifest not deleted last (order %v)", id, order)
		}
	}
	found, err := FindBackups(ctx, api, loc, "shop")
	if err != nil || !slices.Equal(found, ids[2:]) {
		t.Errorf("complete backups left: %v, %v; want %v", found, err, ids[2:])
	}
	for _, k := range []string{stray, other, NodeFolder(loc, "shop", failed, "n1") + "/dump.rdb", NodeFolder(loc, "shop", running, "n1") + "/dump.rdb"} {
		if _, ok := api.objects[k]; !ok {
			t.Errorf("%s was deleted", k)
		}
	}
	if len(run.Plan.Left) != 3 {
		t.Errorf("left notes %q: want the stray object and both folders without a manifest", run.Plan.Left)
	}

	// Again: nothing more goes; the newest complete backup always stays.
	run, err = ApplyRetention(ctx, api, loc, "shop", backupstore.Retention{Days: 1}, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), nil, false, nil)
	if err != nil || !slices.Equal(run.Deleted, []string{ids[2]}) {
		t.Errorf("days rule with every backup old: deleted %v, %v; want only %s", run.Deleted, err, ids[2])
	}
	if found, _ := FindBackups(ctx, api, loc, "shop"); !slices.Equal(found, ids[3:]) {
		t.Errorf("left %v, want the newest %v", found, ids[3:])
	}
}
