package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// objectsUnder lists the keys under a prefix with their contents.
func objectsUnder(t *testing.T, e *testenv.Env, bucket, prefix string) map[string]string {
	t.Helper()
	objs, err := backupstore.List(context.Background(), e.AWS.S3, bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range objs {
		k := aws.ToString(o.Key)
		out[k] = string(e.GetObject(t, bucket, k))
	}
	return out
}

// backups makes n backups of a dataset, one after the other, oldest first.
func backups(ctx context.Context, t *testing.T, e *testenv.Env, env, ds, loc string, n int) []dataset.BackupRow {
	t.Helper()
	var out []dataset.BackupRow
	for range n {
		_, res := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
		out = append(out, res.Datasets[0])
	}
	return out
}

func folderOf(t *testing.T, r dataset.BackupRow) (bucket, folder string) {
	t.Helper()
	bucket, key, ok := strings.Cut(strings.TrimPrefix(r.ManifestURL, "s3://"), "/")
	if !ok {
		t.Fatalf("manifest URL %q", r.ManifestURL)
	}
	return bucket, path.Dir(key)
}

// TestIntegrationRetention: with 5 backups of a dataset (4 earlier ones and
// the run's own) and a retention of 2, the run deletes exactly the 3 oldest,
// except the one marked keep, every object of theirs that Lifeboat wrote,
// and nothing else: not the 2 newest, not the kept one, not objects it did
// not write (beside and inside the backups' folders), not an unfinished
// backup folder. The run's own backup counts toward the 2: it is the newest
// complete backup.
func TestIntegrationRetention(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 5*time.Minute)
	env, ds := e.ID("retention"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	parsed, err := backupstore.ParseLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	e.Load(t, env, ds, "item", 20)

	earlier := backups(ctx, t, e, env, ds, loc, 4)
	bucket, _ := folderOf(t, earlier[0])
	folders := make([]string, len(earlier))
	before := make([]map[string]string, len(earlier))
	for i, r := range earlier {
		_, folders[i] = folderOf(t, r)
	}

	// The second oldest is marked keep.
	kept, err := backupstore.FindBackups(ctx, e.AWS.S3, parsed, env, ds, earlier[1].BackupID)
	if err != nil || len(kept) != 1 {
		t.Fatalf("find backup %s: %v", earlier[1].BackupID, err)
	}
	if err := backupstore.MarkKeep(ctx, e.AWS.S3, bucket, kept[0], "integration test", time.Now()); err != nil {
		t.Fatal(err)
	}
	// Objects Lifeboat did not write: beside the environment's stores, inside
	// the oldest backup's folder, in the dataset's folder, and an unfinished
	// backup (no manifest) older than all.
	foreign := map[string]string{
		parsed.Key(env, "notes.txt"):                                               "operator notes",
		folders[0] + "/notes.txt":                                                  "inside an old backup",
		parsed.Key(env, "initial", ds, "README"):                                   "dataset readme",
		parsed.Key(env, "initial", ds, "20000101T000000.000Z", "export", "part-0"): "an unfinished backup",
	}
	for k, v := range foreign {
		e.PutObject(t, bucket, k, []byte(v))
	}
	for i := range earlier {
		before[i] = objectsUnder(t, e, bucket, folders[i]+"/")
	}

	_, res := backup(ctx, t, e, dataset.BackupInput{
		Datasets:  []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}},
		Retention: &dataset.RetentionPolicy{Count: 2},
	})
	own := res.Datasets[0]
	if js, err := json.MarshalIndent(own, "", "  "); err == nil {
		t.Logf("backup with retention {count: 2}: %s", js)
	}
	e.RequireRunning(t, env)
	if own.RetentionWarning != "" {
		t.Fatalf("retention warning: %s", own.RetentionWarning)
	}
	gone := []string{earlier[2].BackupID, earlier[0].BackupID} // newest first, as the plan orders them
	if !slices.Equal(own.Pruned, gone) {
		t.Errorf("pruned %v, want %v", own.Pruned, gone)
	}
	notes := strings.Join(own.RetentionNotes, "\n")
	for _, want := range []string{"20000101T000000.000Z: no manifest.json", folders[0] + "/notes.txt", parsed.Key(env, "initial", ds, "README")} {
		if !strings.Contains(notes, want) {
			t.Errorf("retention notes lack %q:\n%s", want, notes)
		}
	}

	// The deleted: every object of theirs is gone, but the foreign one.
	if got := objectsUnder(t, e, bucket, folders[0]+"/"); len(got) != 1 || got[folders[0]+"/notes.txt"] != "inside an old backup" {
		t.Errorf("oldest backup's folder holds %v, want only the foreign notes.txt", keys(got))
	}
	if got := objectsUnder(t, e, bucket, folders[2]+"/"); len(got) != 0 {
		t.Errorf("third oldest backup's folder still holds %v", keys(got))
	}
	// The kept one and the newest two are untouched, object for object.
	for _, i := range []int{1, 3} {
		if got := objectsUnder(t, e, bucket, folders[i]+"/"); !mapsEqual(got, before[i]) {
			t.Errorf("backup %s changed: %v, was %v", earlier[i].BackupID, keys(got), keys(before[i]))
		}
	}
	if _, items := e.ReadBackup(t, own.ManifestURL); len(items) != 20 {
		t.Errorf("the run's own backup holds %d items, want 20", len(items))
	}
	for k, v := range foreign {
		if got := objectsUnder(t, e, bucket, k); got[k] != v {
			t.Errorf("foreign object %s: %q, want %q", k, got[k], v)
		}
	}
	// What the restore path sees: the newest is still the run's own.
	left, err := backupstore.ListBackups(ctx, e.AWS.S3, parsed, env, ds)
	if err != nil {
		t.Fatal(err)
	}
	var complete []string
	for _, b := range left.Backups {
		if b.Complete() {
			complete = append(complete, b.ID)
		}
	}
	if want := []string{earlier[1].BackupID, earlier[3].BackupID, own.BackupID}; !slices.Equal(complete, want) {
		t.Errorf("complete backups left %v, want %v", complete, want)
	}
}

// TestIntegrationBackupCLIKeepListPrune drives `lifeboat backup` as a user
// would: keep (and a refusal), list, prune --dry-run (deletes nothing and
// names the right backups), unkeep, prune. It sets the process's AWS
// environment, so it does not run in parallel.
func TestIntegrationBackupCLIKeepListPrune(t *testing.T) {
	e := shared(t)
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("prune"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	e.Load(t, env, ds, "item", 10)
	made := backups(ctx, t, e, env, ds, loc, 4)
	bucket, _ := folderOf(t, made[0])
	target := []string{"--backup-location", loc, "--env-id", env, "--dataset-id", ds}

	lifeboat := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := cli.Main(ctx, append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue), &out, &errOut)
		t.Logf("$ lifeboat %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := lifeboat(args...)
		if code != 0 {
			t.Fatalf("lifeboat %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	action := func(out, id string) string {
		m := regexp.MustCompile(regexp.QuoteMeta(id) + `\s+initial\s+\S+\s+(would delete|keep|deleted)\s`).FindStringSubmatch(out)
		if m == nil {
			return ""
		}
		return m[1]
	}

	if out := must(append([]string{"backup", "keep", "--backup-id", made[0].BackupID, "--reason", "audit"}, target...)...); !strings.Contains(out, "marked keep") {
		t.Errorf("keep output: %s", out)
	}
	code, _, stderr := lifeboat(append([]string{"backup", "keep", "--backup-id", "20000101T000000.000Z"}, target...)...)
	if code != cli.ExitInvalid || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "no backup 20000101T000000.000Z") {
		t.Errorf("keep of an unknown backup: exit %d, %q; want exit 2 and one line", code, stderr)
	}
	code, _, stderr = lifeboat("backup", "list", "--backup-location", "s3://"+e.ID("no-such-bucket")+"/x", "--env-id", env, "--dataset-id", ds)
	if code != cli.ExitInvalid {
		t.Errorf("list under a missing bucket: exit %d, %q; want 2", code, stderr)
	}

	out := must(append([]string{"backup", "list"}, target...)...)
	var listed []string
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			listed = append(listed, f[0])
		}
	}
	if want := []string{made[3].BackupID, made[2].BackupID, made[1].BackupID, made[0].BackupID}; !slices.Equal(listed, want) {
		t.Errorf("list shows %v, want newest first %v", listed, want)
	}
	if !regexp.MustCompile(regexp.QuoteMeta(made[0].BackupID) + `\s+initial\s+\S+\s+10\s+\d+\s+keep\s+complete`).MatchString(out) {
		t.Errorf("list does not show %s with 10 items, marked keep:\n%s", made[0].BackupID, out)
	}

	// The records beside two backups are read into their own rows (the
	// listing reads them concurrently), and the others show none.
	_, f1 := folderOf(t, made[1])
	_, f2 := folderOf(t, made[2])
	if err := backupstore.WriteVerification(ctx, e.AWS.S3, bucket, f1, &backupstore.Verification{
		At: time.Now().UTC(), Outcome: backupstore.VerifiedOK, BackupID: made[1].BackupID, Checked: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := backupstore.WriteRestoreTest(ctx, e.AWS.S3, bucket, f2, &backupstore.RestoreTest{
		At: time.Now().UTC(), Outcome: backupstore.VerifiedFailed, BackupID: made[2].BackupID, Problem: "planted"}); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		BackupID string `json:"backupId"`
		Verified *struct {
			BackupID string `json:"backupId"`
		} `json:"verified"`
		RestoreTest *struct {
			BackupID string `json:"backupId"`
			Outcome  string `json:"outcome"`
		} `json:"restoreTest"`
	}
	if err := json.Unmarshal([]byte(must(append([]string{"backup", "list", "--output", "json"}, target...)...)), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		wantV, wantRT := r.BackupID == made[1].BackupID, r.BackupID == made[2].BackupID
		if (r.Verified != nil) != wantV || (wantV && r.Verified.BackupID != r.BackupID) {
			t.Errorf("backup list --output json: %s verified %+v, want it only beside %s", r.BackupID, r.Verified, made[1].BackupID)
		}
		if (r.RestoreTest != nil) != wantRT || (wantRT && (r.RestoreTest.BackupID != r.BackupID || r.RestoreTest.Outcome != backupstore.VerifiedFailed)) {
			t.Errorf("backup list --output json: %s restore test %+v, want a failed one only beside %s", r.BackupID, r.RestoreTest, made[2].BackupID)
		}
	}

	all := objectsUnder(t, e, bucket, "")
	out = must(append([]string{"backup", "prune", "--retain", "2", "--dry-run"}, target...)...)
	if got := objectsUnder(t, e, bucket, ""); !mapsEqual(got, all) {
		t.Fatalf("a dry run changed the bucket: %v -> %v", keys(all), keys(got))
	}
	for id, want := range map[string]string{made[3].BackupID: "keep", made[2].BackupID: "keep", made[1].BackupID: "would delete", made[0].BackupID: "keep"} {
		if got := action(out, id); got != want {
			t.Errorf("dry run: %s %q, want %q:\n%s", id, got, want, out)
		}
	}
	if !strings.Contains(out, "dry run: 1 backups would be deleted") {
		t.Errorf("dry run summary:\n%s", out)
	}

	must(append([]string{"backup", "unkeep", "--backup-id", made[0].BackupID}, target...)...)
	out = must(append([]string{"backup", "prune", "--retain", "2"}, target...)...)
	for id, want := range map[string]string{made[3].BackupID: "keep", made[2].BackupID: "keep", made[1].BackupID: "deleted", made[0].BackupID: "deleted"} {
		if got := action(out, id); got != want {
			t.Errorf("prune: %s %q, want %q:\n%s", id, got, want, out)
		}
	}
	for i, r := range made {
		_, folder := folderOf(t, r)
		n := len(objectsUnder(t, e, bucket, folder+"/"))
		if (i < 2) != (n == 0) {
			t.Errorf("backup %d (%s) has %d objects after prune", i, r.BackupID, n)
		}
	}
}

func keys(m map[string]string) []string { return testenv.SortedKeys(m) }

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
