package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// lifeboatCLI runs the lifeboat CLI against the shared env's Temporal and
// task queue. Only Temporal is contacted by the commands used here (the
// worker reads S3), so tests using it may run in parallel.
func lifeboatCLI(ctx context.Context, t *testing.T, e *testenv.Env, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Main(ctx, append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue), &out, &errOut)
	t.Logf("$ lifeboat %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// lastLine is the last non-empty line of s (the CLI's error line comes
// after its progress lines on stderr).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// sameSizeTampered returns gzip'd data that differs from original in its
// items' values but has the same size and number of lines: only a checksum
// can tell them apart. The value change is recompressed at the level that
// comes out no larger, then padded to size with a gzip header field.
func sameSizeTampered(t *testing.T, original []byte) []byte {
	t.Helper()
	plain := gunzip(t, original)
	changed := bytes.ReplaceAll(plain, []byte("value of item"), []byte("VALUE OF ITEM"))
	if bytes.Equal(changed, plain) {
		t.Fatalf("no item value to change in %q", plain)
	}
	for level := gzip.BestCompression; level >= gzip.BestSpeed; level-- {
		compress := func(extra []byte) []byte {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, level)
			zw.Extra = extra
			_, _ = zw.Write(changed)
			_ = zw.Close()
			return buf.Bytes()
		}
		out := compress(nil)
		switch diff := len(original) - len(out); {
		case diff == 0:
			return out
		case diff >= 2: // FEXTRA takes 2 bytes of length, then the padding
			if out = compress(make([]byte, diff-2)); len(out) == len(original) {
				return out
			}
		}
	}
	// Fallback: the same data with another modification time in the gzip
	// header: still different bytes of the same size and item count.
	out := bytes.Clone(original)
	out[4] ^= 0xff
	return out
}

// TestIntegrationVerifyBackup: `lifeboat backup verify` finds a dataset's
// latest backup, downloads it and reports it sound with the backup's own
// counts; after one data object is overwritten with different bytes of the
// same size and item count, verify fails naming that object, both when S3's
// ETag gives it away and (manifest ETag patched) when only the downloaded
// MD5 can. A missing backup or bucket is bad input (exit 2).
func TestIntegrationVerifyBackup(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 5*time.Minute)
	env, ds := e.ID("verify"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	e.Load(t, env, ds, "item", 60)
	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	b := backupOf(t, bres, env, ds)
	m, _ := e.ReadBackup(t, b.ManifestURL)
	if len(m.Objects) == 0 || b.ItemCount != 60 {
		t.Fatalf("backup %s: %d objects, %d items; want data objects and 60 items", b.BackupID, len(m.Objects), b.ItemCount)
	}
	target := []string{"backup", "verify", "--backup-location", loc, "--env-id", env, "--dataset-id", ds}

	// Sound: one line with the backup's own counts.
	code, out, _ := lifeboatCLI(ctx, t, e, target...)
	want := fmt.Sprintf("backup %s of %s/%s is sound: %d objects, %d items, %d bytes checked\n", b.BackupID, env, ds, len(m.Objects), b.ItemCount, b.Bytes)
	if code != 0 || out != want {
		t.Fatalf("verify of a sound backup: exit %d, %q; want exit 0 and %q", code, out, want)
	}

	// The same through the Go client, naming the backup: the workflow's
	// result and progress.
	c := e.Client()
	run, err := c.StartVerify(ctx, dataset.VerifyInput{BackupLocation: loc, EnvID: env, DatasetID: ds, BackupID: b.BackupID})
	if err != nil {
		t.Fatalf("start verify: %v", err)
	}
	res, err := c.WaitVerify(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("verify %s: %v", run.ID, err)
	}
	wantRes := dataset.VerifyResult{
		EnvID: env, StoreID: b.StoreID, DatasetID: ds, BackupID: b.BackupID, CutTime: b.CutTime, ManifestURL: b.ManifestURL,
		Objects: len(m.Objects), ItemCount: b.ItemCount, Bytes: b.Bytes,
	}
	got := *res
	if got.CutTime.Equal(wantRes.CutTime) {
		got.CutTime = wantRes.CutTime
	}
	if got != wantRes {
		t.Errorf("verify result %+v, want %+v", got, wantRes)
	}
	if p, err := c.Progress(ctx, run.ID); err != nil || p.Operation != dataset.OpVerify || p.Step != workflows.StepDone || !p.Validated {
		t.Errorf("progress after verify: %+v, %v", p, err)
	}
	for _, a := range e.ActivityTypes(t, run.ID) {
		if a == "Pause" || a == "StartExport" || a == "StartImport" {
			t.Errorf("verify scheduled %s", a)
		}
	}

	// Bad input: exit 2 with one line.
	for name, args := range map[string][]string{
		"no such backup":  append(append([]string{}, target...), "--backup-id", "20000101T000000.000Z"),
		"no such bucket":  {"backup", "verify", "--backup-location", "s3://" + e.ID("no-such-bucket") + "/backups", "--env-id", env, "--dataset-id", ds},
		"no such dataset": {"backup", "verify", "--backup-location", loc, "--env-id", env, "--dataset-id", "nothing-here"},
	} {
		if code, _, stderr := lifeboatCLI(ctx, t, e, args...); code != cli.ExitInvalid || !strings.HasPrefix(lastLine(stderr), "lifeboat: ") {
			t.Errorf("%s: exit %d, %q; want exit 2", name, code, stderr)
		}
	}

	// Corrupt one data object: different bytes, same size, same items.
	bucket, _ := folderOf(t, b)
	obj := m.Objects[0]
	for _, o := range m.Objects {
		if o.Items > obj.Items {
			obj = o
		}
	}
	original := e.GetObject(t, bucket, obj.Key)
	tampered := sameSizeTampered(t, original)
	if len(tampered) != len(original) || bytes.Equal(tampered, original) {
		t.Fatalf("tampering: %d bytes (was %d), changed %v", len(tampered), len(original), !bytes.Equal(tampered, original))
	}
	e.PutObject(t, bucket, obj.Key, tampered)

	requireNotSound := func(t *testing.T, what string) {
		t.Helper()
		code, out, stderr := lifeboatCLI(ctx, t, e, target...)
		line := lastLine(stderr)
		if code != cli.ExitFailure || out != "" {
			t.Errorf("verify of a corrupted backup: exit %d, stdout %q; want exit 1 and nothing on stdout", code, out)
		}
		if !strings.Contains(line, "s3://"+bucket+"/"+obj.Key) || !strings.Contains(line, what) || !strings.Contains(line, "is not sound") {
			t.Errorf("verify of a corrupted backup says %q; want it to name s3://%s/%s and %q", line, bucket, obj.Key, what)
		}
	}
	t.Run("S3 sees the change", func(t *testing.T) { requireNotSound(t, "") })

	t.Run("only the download sees the change", func(t *testing.T) {
		// Make the listing agree with the tampered object (as if the
		// damage were below what S3 reports): only the MD5 of the
		// downloaded bytes can tell.
		manifestKey := strings.TrimPrefix(b.ManifestURL, "s3://"+bucket+"/")
		head, err := e.AWS.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj.Key)})
		if err != nil {
			t.Fatal(err)
		}
		patched := *m
		patched.Objects = append([]backupstore.ObjectDigest{}, m.Objects...)
		for i := range patched.Objects {
			if patched.Objects[i].Key == obj.Key {
				patched.Objects[i].ETag = strings.Trim(aws.ToString(head.ETag), `"`)
			}
		}
		if err := backupstore.WriteManifest(ctx, e.AWS.S3, bucket, manifestKey, &patched); err != nil {
			t.Fatal(err)
		}
		requireNotSound(t, "md5")

		run, err := c.StartVerify(ctx, dataset.VerifyInput{BackupLocation: loc, EnvID: env, DatasetID: ds})
		if err != nil {
			t.Fatalf("start verify: %v", err)
		}
		_, err = c.WaitVerify(ctx, run.ID, nil)
		var failed *client.WorkflowFailedError
		if !errors.As(err, &failed) || failed.Type != activities.ErrBackupCorrupt || !strings.Contains(failed.Msg, obj.Key) {
			t.Errorf("verify of a corrupted backup: %v; want a %s failure naming %s", err, activities.ErrBackupCorrupt, obj.Key)
		}
		if p, err := c.Progress(ctx, run.ID); err != nil || p.Step != workflows.StepFailed || !strings.Contains(p.Error, obj.Key) {
			t.Errorf("progress after a failed verify: %+v, %v", p, err)
		}
	})
}

// TestIntegrationBackupWithVerify: `lifeboat backup-dataset --verify --wait`
// downloads and checks the new backup after writes resumed, and its result
// says so.
func TestIntegrationBackupWithVerify(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("verified"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	e.Load(t, env, ds, "item", 25)

	code, out, stderr := lifeboatCLI(ctx, t, e, "backup-dataset", "--env-id", env, "--dataset-id", ds, "--backup-location", loc, "--verify", "--wait")
	if code != 0 {
		t.Fatalf("backup-dataset --verify: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, env+"/"+ds+": verified") {
		t.Errorf("backup-dataset --verify output does not say the backup was verified:\n%s", out)
	}
	workflowID := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	res, err := e.Client().WaitBackup(ctx, workflowID, nil)
	if err != nil {
		t.Fatalf("backup %s: %v", workflowID, err)
	}
	d := backupOf(t, res, env, ds)
	if !d.Verified || d.ItemCount != 25 {
		t.Errorf("backup result: verified %v, %d items; want verified, 25 items", d.Verified, d.ItemCount)
	}
	// The verdict is recorded beside the backup, as `backup verify` does.
	bucket, folder := folderOf(t, d)
	if v, err := backupstore.ReadVerification(ctx, e.AWS.S3, bucket, folder); err != nil || v == nil ||
		v.Outcome != backupstore.VerifiedOK || v.WorkflowID != workflowID {
		t.Errorf("%s after backup-dataset --verify: %+v, %v; want ok by %s", backupstore.VerifiedName, v, err, workflowID)
	}
	acts := e.ActivityTypes(t, workflowID)
	verified, resumed := -1, -1
	for i, a := range acts {
		switch a {
		case "VerifyBackup":
			verified = i
		case "Resume":
			if resumed < 0 {
				resumed = i
			}
		}
	}
	if verified < 0 || resumed < 0 || verified < resumed {
		t.Errorf("activities %v: want VerifyBackup after writes resumed", acts)
	}
}

// TestIntegrationScheduleBackupWithVerify: `schedule create backup --verify`
// gives every scheduled run verify: true. It sets the process's AWS
// environment (the command checks the dataset and bucket), so it does not
// run in parallel.
func TestIntegrationScheduleBackupWithVerify(t *testing.T) {
	e := shared(t)
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, time.Minute)
	env, ds := e.ID("sched-verify"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	id := e.ID("verify-nightly")
	code, _, stderr := lifeboatCLI(ctx, t, e, "schedule", "create", "backup", "--schedule-id", id, "--env-id", env, "--dataset-id", ds,
		"--backup-location", loc, "--every", "24h", "--paused", "--verify",
		"--control-table", e.Config.ControlTable, "--table-prefix", e.Config.TablePrefix)
	if code != 0 {
		t.Fatalf("schedule create backup --verify: exit %d: %s", code, stderr)
	}
	defer func() { _ = e.Client().DeleteSchedule(context.Background(), id) }()
	st, err := e.Client().DescribeSchedule(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Input, `"verify":true`) {
		t.Errorf("scheduled input %s: want verify true", st.Input)
	}
}

// TestIntegrationVerifyNamesWhatIsWrong: a data file deleted, and a
// manifest whose item count for a file is off, each make `backup verify`
// exit 1 with one line naming the object and what is wrong.
func TestIntegrationVerifyNamesWhatIsWrong(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 5*time.Minute)
	env, ds := e.ID("verify-named"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	e.Load(t, env, ds, "item", 40)
	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	b := backupOf(t, bres, env, ds)
	m, _ := e.ReadBackup(t, b.ManifestURL)
	bucket, _ := folderOf(t, b)
	manifestKey := strings.TrimPrefix(b.ManifestURL, "s3://"+bucket+"/")
	obj := m.Objects[0]
	for _, o := range m.Objects {
		if o.Items > obj.Items {
			obj = o
		}
	}
	target := []string{"backup", "verify", "--backup-location", loc, "--env-id", env, "--dataset-id", ds}
	requireNotSound := func(t *testing.T, what string) {
		t.Helper()
		code, _, stderr := lifeboatCLI(ctx, t, e, target...)
		line := lastLine(stderr)
		if code != cli.ExitFailure || !strings.Contains(line, "s3://"+bucket+"/"+obj.Key) || !strings.Contains(line, what) {
			t.Errorf("verify: exit %d, %q; want exit 1 naming s3://%s/%s and %q", code, line, bucket, obj.Key, what)
		}
	}

	// The manifest claims one item more in the file (and in all) than it
	// holds.
	patched := *m
	patched.ItemCount++
	patched.Objects = append([]backupstore.ObjectDigest{}, m.Objects...)
	for i := range patched.Objects {
		if patched.Objects[i].Key == obj.Key {
			patched.Objects[i].Items++
		}
	}
	if err := backupstore.WriteManifest(ctx, e.AWS.Buckets, bucket, manifestKey, &patched); err != nil {
		t.Fatal(err)
	}
	requireNotSound(t, fmt.Sprintf("%d items, manifest says %d", obj.Items, obj.Items+1))

	// The file is gone.
	if err := backupstore.WriteManifest(ctx, e.AWS.Buckets, bucket, manifestKey, m); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AWS.Buckets.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj.Key)}); err != nil {
		t.Fatal(err)
	}
	requireNotSound(t, "missing")
}
