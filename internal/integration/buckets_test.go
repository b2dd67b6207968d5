package integration

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// otherRegion is where the cross-region tests put their bucket; the stack
// runs in us-east-1. The emulator answers a request signed for the wrong
// region with S3's 301 PermanentRedirect, so every S3 call Lifeboat makes
// on that bucket must go to a client of its region.
const otherRegion = "eu-west-1"

// TestIntegrationBackupToBucketInAnotherRegion backs two datasets up in one
// backup, one to a bucket in the stack's region and one to a bucket in
// another region, and restores both item for item.
func TestIntegrationBackupToBucketInAnotherRegion(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, near, far := e.ID("region"), "near", "far"
	e.CreateEnvDataset(t, env, near, far)
	nearLoc, farLoc := e.NewBackupLocation(t), e.NewBackupLocationIn(t, otherRegion)
	initial := map[string]map[string]string{near: e.Load(t, env, near, "near", 40), far: e.Load(t, env, far, "far", 60)}

	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{
		{EnvID: env, DatasetID: near, BackupLocation: nearLoc},
		{EnvID: env, DatasetID: far, BackupLocation: farLoc},
	}})
	backed := map[string]map[string]string{}
	for _, d := range bres.Datasets {
		m, items := e.ReadBackup(t, d.ManifestURL)
		if diff := testenv.DiffItems(initial[d.DatasetID], items); diff != "" {
			t.Fatalf("%s: backup differs from the loaded items: %s", d.DatasetID, diff)
		}
		want := e.AWS.Config.Region
		if d.DatasetID == far {
			want = otherRegion
		}
		if m.Bucket == nil || m.Bucket.Region != want || !m.Bucket.Versioned() {
			t.Errorf("%s: manifest records bucket %+v, want region %s, versioning Enabled", d.DatasetID, m.Bucket, want)
		}
		backed[d.DatasetID] = items
	}

	e.Put(t, env, far, map[string]string{"far-000001": "changed after the backup", "later": "written after the backup"})
	_, rres := restore(ctx, t, e, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{
		{EnvID: env, DatasetID: near, BackupLocation: nearLoc},
		{EnvID: env, DatasetID: far, BackupLocation: farLoc},
	}})
	for _, ds := range []string{near, far} {
		if diff := testenv.DiffItems(backed[ds], e.ReadDataset(t, env, rres.StoreID, ds)); diff != "" {
			t.Errorf("%s: restored table differs from the backup: %s", ds, diff)
		}
	}
	e.RequireRunning(t, env)
}

// TestIntegrationUnversionedBucket: a backup to a bucket without versioning
// is refused before anything is paused, by the workflow (InvalidInput) and
// by the CLI (exit 2, one line saying why and how to enable it), and a
// schedule is not created for it; --allow-unversioned backs up and the
// manifest records the choice. It sets the process's AWS environment, so it
// does not run in parallel.
func TestIntegrationUnversionedBucket(t *testing.T) {
	e := shared(t)
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 3*time.Minute)
	env, ds := e.ID("unversioned"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBucketLocation(t, testenv.BucketOptions{Unversioned: true})
	bucket := strings.Split(loc, "/")[2]
	e.Load(t, env, ds, "item", 20)

	_, err := e.Client().StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	requireInvalid(t, err, "bucket "+bucket+" has versioning off")
	if d := e.Dataset(t, env, ds); d.Status != registry.StatusRunning || d.HeldBy != "" {
		t.Fatalf("after the refusal the dataset is %s held by %q, want RUNNING and not held", d.Status, d.HeldBy)
	}

	lifeboat := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := cli.Main(ctx, append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue), &out, &errOut)
		t.Logf("$ lifeboat %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}
	target := []string{"--env-id", env, "--dataset-id", ds, "--backup-location", loc}
	want := "bucket " + bucket + " has versioning off: a backup there can be overwritten or deleted for good; enable it with " +
		"`aws s3api put-bucket-versioning --bucket " + bucket + " --versioning-configuration Status=Enabled`, or pass --allow-unversioned"
	code, _, stderr := lifeboat(append([]string{"backup-dataset", "--wait"}, target...)...)
	if code != cli.ExitInvalid || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, want) {
		t.Errorf("backup-dataset to an unversioned bucket: exit %d, %q; want exit 2 and the one line %q", code, stderr, want)
	}
	if d := e.Dataset(t, env, ds); d.Status != registry.StatusRunning {
		t.Fatalf("after the CLI's refusal the dataset is %s, want RUNNING", d.Status)
	}
	code, _, stderr = lifeboat(append([]string{"schedule", "create", "backup", "--schedule-id", e.ID("unversioned"), "--every", "1h",
		"--control-table", e.Config.ControlTable, "--table-prefix", e.Config.TablePrefix}, target...)...)
	if code != cli.ExitInvalid || !strings.Contains(stderr, "has versioning off") {
		t.Errorf("schedule create backup to an unversioned bucket: exit %d, %q; want exit 2", code, stderr)
	}

	code, out, stderr := lifeboat(append([]string{"backup-dataset", "--wait", "--allow-unversioned"}, target...)...)
	if code != 0 {
		t.Fatalf("backup-dataset --allow-unversioned: exit %d: %s", code, stderr)
	}
	url := regexp.MustCompile(`-> (s3://\S+)`).FindStringSubmatch(out)
	if url == nil {
		t.Fatalf("no manifest URL in %q", out)
	}
	m, _ := e.ReadBackup(t, url[1])
	if m.Bucket == nil || !m.Bucket.AllowUnversioned || m.Bucket.Versioning != backupstore.VersioningOff {
		t.Errorf("manifest records bucket %+v, want versioning Off and allowUnversioned", m.Bucket)
	}
}

// TestIntegrationObjectLockRecorded: a bucket's Object Lock default
// retention is read before the backup, recorded in the manifest and shown
// by backup list. It sets the process's AWS environment, so it does not
// run in parallel.
func TestIntegrationObjectLockRecorded(t *testing.T) {
	e := shared(t)
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 3*time.Minute)
	env, ds := e.ID("locked"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBucketLocation(t, testenv.BucketOptions{LockDays: 3})
	e.Load(t, env, ds, "item", 10)
	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	m, _ := e.ReadBackup(t, bres.Datasets[0].ManifestURL)
	want := &backupstore.ObjectLock{Enabled: true, Mode: "GOVERNANCE", Days: 3}
	if m.Bucket == nil || m.Bucket.ObjectLock == nil || *m.Bucket.ObjectLock != *want {
		t.Fatalf("manifest records bucket %+v, want object lock %+v", m.Bucket, want)
	}
	var out, errOut bytes.Buffer
	if code := cli.Main(ctx, []string{"backup", "list", "--backup-location", loc, "--env-id", env, "--dataset-id", ds,
		"--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue}, &out, &errOut); code != 0 {
		t.Fatalf("backup list: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "OBJECT LOCK") || !regexp.MustCompile(regexp.QuoteMeta(bres.Datasets[0].BackupID)+`.*GOVERNANCE 3d`).MatchString(out.String()) {
		t.Errorf("backup list does not show the object lock:\n%s", out.String())
	}
}

// versionsUnder lists every object version and delete marker under prefix.
func versionsUnder(ctx context.Context, t *testing.T, e *testenv.Env, bucket, prefix string) []string {
	t.Helper()
	out, err := e.AWS.Buckets.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, v := range out.Versions {
		vs = append(vs, aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
	}
	for _, m := range out.DeleteMarkers {
		vs = append(vs, aws.ToString(m.Key)+"@"+aws.ToString(m.VersionId)+" (delete marker)")
	}
	return vs
}

// TestIntegrationVersionedRetention: on a versioned bucket, retention
// deletes every version of the objects a pruned backup wrote, so storage
// is freed (ListObjectVersions shows nothing of them left), and leaves a
// version someone wrote after the backup's manifest.
func TestIntegrationVersionedRetention(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("versions"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	e.Load(t, env, ds, "item", 30)
	made := backups(ctx, t, e, env, ds, loc, 3)
	bucket, oldFolder := folderOf(t, made[0])
	_, midFolder := folderOf(t, made[1])
	m, _ := e.ReadBackup(t, made[1].ManifestURL)
	// A foreign version under the middle backup: the same bytes written
	// again after its manifest (so the backup still checks out).
	time.Sleep(1100 * time.Millisecond) // LastModified counts whole seconds
	foreignKey := m.Objects[0].Key
	e.PutObject(t, bucket, foreignKey, e.GetObject(t, bucket, foreignKey))
	foreign := versionsUnder(ctx, t, e, bucket, foreignKey)[0] // newest first
	pl, err := backupstore.ParseLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	run, err := backupstore.ApplyRetention(ctx, e.AWS.Buckets, pl, env, ds, backupstore.Retention{Count: 1}, time.Now(), nil, false, nil)
	if err != nil {
		t.Fatalf("retention: %v", err)
	}
	if len(run.Deleted) != 2 {
		t.Fatalf("retention deleted %d backups, want 2; left %v", len(run.Deleted), run.Plan.Left)
	}
	if left := versionsUnder(ctx, t, e, bucket, oldFolder+"/"); len(left) != 0 {
		t.Errorf("versions left under the pruned backup %s: %v, want none", oldFolder, left)
	}
	if left := versionsUnder(ctx, t, e, bucket, midFolder+"/"); len(left) != 1 || left[0] != foreign {
		t.Errorf("versions left under the pruned backup %s: %v, want only the foreign %s", midFolder, left, foreign)
	}
	if !strings.Contains(strings.Join(run.Plan.Left, "\n"), "1 object versions Lifeboat did not write left in place") {
		t.Errorf("retention does not report the foreign version: %v", run.Plan.Left)
	}
}

// TestIntegrationLockedRetention: under Object Lock retention never tries
// to delete a locked version: the backup is kept, listed, and reported as
// deletable at its retain-until date.
func TestIntegrationLockedRetention(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("lockret"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBucketLocation(t, testenv.BucketOptions{LockDays: 1})
	e.Load(t, env, ds, "item", 10)
	made := backups(ctx, t, e, env, ds, loc, 2)
	bucket, oldFolder := folderOf(t, made[0])
	before := versionsUnder(ctx, t, e, bucket, oldFolder+"/")
	pl, _ := backupstore.ParseLocation(loc)
	run, err := backupstore.ApplyRetention(ctx, e.AWS.Buckets, pl, env, ds, backupstore.Retention{Count: 1}, time.Now(), nil, false, nil)
	if err != nil {
		t.Fatalf("retention: %v", err)
	}
	if len(run.Deleted) != 0 || run.Objects != 0 {
		t.Fatalf("retention deleted %v (%d objects) under a 1-day lock", run.Deleted, run.Objects)
	}
	day := made[0].CutTime.Add(24 * time.Hour).UTC().Format("2006-01-02")
	if note := strings.Join(run.Plan.Left, "\n"); !strings.Contains(note, "locked by Object Lock until "+day) || !strings.Contains(note, "deletable from then") {
		t.Errorf("retention does not say when the backup becomes deletable (%s): %v", day, run.Plan.Left)
	}
	if after := versionsUnder(ctx, t, e, bucket, oldFolder+"/"); len(after) != len(before) {
		t.Errorf("versions under the locked backup: %d before, %d after", len(before), len(after))
	}
	found, err := backupstore.ListBackups(ctx, e.AWS.Buckets, pl, env, ds)
	if err != nil || len(found.Backups) != 2 {
		t.Errorf("backups listed after retention: %v, %v; want both", found, err)
	}
}
