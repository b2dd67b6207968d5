package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// restoreTestSetup makes an environment with one dataset of n items and a
// backup of it.
func restoreTestSetup(ctx context.Context, t *testing.T, e *testenv.Env, n int) (env, ds, loc string, loaded map[string]string, row dataset.BackupRow) {
	t.Helper()
	env, ds = e.ID("rt"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc = e.NewBackupLocation(t)
	loaded = e.Load(t, env, ds, "item", n)
	_, res := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	return env, ds, loc, loaded, res.Datasets[0]
}

// readRestoreTest reads the restore-test.json beside a backup's manifest.
func readRestoreTest(t *testing.T, e *testenv.Env, manifestURL string) *backupstore.RestoreTest {
	t.Helper()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(manifestURL, "s3://"), "/")
	r, err := backupstore.ReadRestoreTest(context.Background(), e.AWS.S3, bucket, path.Dir(key))
	if err != nil {
		t.Fatalf("read restore-test.json: %v", err)
	}
	if r == nil {
		t.Fatalf("no restore-test.json beside %s", manifestURL)
	}
	return r
}

// requireScratchGone fails if anything of a scratch environment is left:
// a table named after it, or a registry record.
func requireScratchGone(t *testing.T, e *testenv.Env, liveEnv string) {
	t.Helper()
	ctx := context.Background()
	p := dynamodb.NewListTablesPaginator(e.AWS.DynamoDB, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list tables: %v", err)
		}
		for _, name := range page.TableNames {
			if strings.HasPrefix(name, e.Config.TablePrefix+"."+liveEnv+"-rt-") {
				t.Errorf("scratch table %s left behind", name)
			}
		}
	}
	envs, err := e.Registry().ListEnvironments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range envs {
		if strings.HasPrefix(en.ID, liveEnv+"-rt-") {
			t.Errorf("scratch environment record %s left behind (%+v)", en.ID, en)
		}
	}
}

// liveState is what a restore test must leave as it was.
type liveState struct {
	env    *registry.Environment
	ds     *registry.Dataset
	tables []string
}

func readLive(t *testing.T, e *testenv.Env, env, ds string) liveState {
	t.Helper()
	tables, err := e.Registry().ListStoreTables(context.Background(), registry.StoreFilter{EnvID: env})
	if err != nil {
		t.Fatal(err)
	}
	s := liveState{env: e.Environment(t, env), ds: e.Dataset(t, env, ds)}
	for _, tb := range tables {
		s.tables = append(s.tables, tb.Table+" "+tb.State)
	}
	return s
}

// A restore test restores the newest backup into a scratch environment,
// measures the RTO, checks counts and a sample, records restore-test.json,
// and leaves nothing behind; the live environment's records and tables are
// as they were, and writes to it through the gate go on during the test.
func TestIntegrationRestoreTestDataset(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds, loc, loaded, row := restoreTestSetup(ctx, t, e, 40)
	before := readLive(t, e, env, ds)

	// Writes through the gate while the test runs: none may be refused.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes int
	var writeErr error
	written := map[string]string{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			k, v := fmt.Sprintf("during-%04d", i), fmt.Sprintf("written during the restore test #%d", i)
			if err := e.Gate().BatchPut(ctx, env, ds, []gate.Item{{Key: k, Value: v}}); err != nil {
				writeErr = err
				return
			}
			written[k] = v
			writes++
		}
	}()

	in := dataset.RestoreTestInput{EnvID: env, BackupLocation: loc, SampleSize: 25,
		CheckCommand: `test -n "$LIFEBOAT_SCRATCH_TABLE_ORDERS" && case "$LIFEBOAT_SCRATCH_ENV" in *-rt-*) echo "checked $LIFEBOAT_SCRATCH_TABLES";; *) exit 9;; esac`}
	run, err := e.Client().StartDatasetRestoreTest(ctx, in)
	if err != nil {
		t.Fatalf("start restore test: %v", err)
	}
	res, err := e.Client().WaitDatasetRestoreTest(ctx, run.ID, nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("restore test %s: %v", run.ID, err)
	}
	if writeErr != nil || writes == 0 {
		t.Errorf("writes to the live environment during the test: %d, then %v", writes, writeErr)
	}
	if !strings.HasPrefix(res.ScratchEnvID, env+"-rt-") || res.RTOSeconds <= 0 {
		t.Errorf("result: scratch %q, RTO %v s", res.ScratchEnvID, res.RTOSeconds)
	}
	if len(res.Datasets) != 1 || res.Datasets[0].ItemCount != 40 || res.Datasets[0].Sampled != 25 || res.Datasets[0].BackupID != row.BackupID {
		t.Errorf("result datasets %+v, want orders: backup %s, 40 items, 25 sampled", res.Datasets, row.BackupID)
	}
	if !strings.Contains(res.CheckOutput, "checked "+e.Config.TablePrefix+"."+res.ScratchEnvID+".") {
		t.Errorf("check command output %q does not name the scratch tables", res.CheckOutput)
	}
	if len(res.Cleaned) == 0 {
		t.Errorf("no scratch table reported deleted")
	}

	rec := readRestoreTest(t, e, row.ManifestURL)
	if rec.Outcome != backupstore.VerifiedOK || rec.RTOSeconds != res.RTOSeconds || rec.Target != res.ScratchEnvID ||
		rec.WorkflowID != run.ID || rec.BackupID != row.BackupID || rec.Problem != "" {
		t.Errorf("restore-test.json %+v, want ok with RTO %v into %s by %s", rec, res.RTOSeconds, res.ScratchEnvID, run.ID)
	}
	requireScratchGone(t, e, env)

	after := readLive(t, e, env, ds)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("live environment changed by the restore test:\nbefore %+v %+v %v\nafter  %+v %+v %v", before.env, before.ds, before.tables, after.env, after.ds, after.tables)
	}
	if d := testenv.DiffItems(testenv.Merge(loaded, written), e.ReadDataset(t, env, after.env.ActiveStore, ds)); d != "" {
		t.Errorf("live dataset: %s", d)
	}
}

// A check command that exits non-zero fails the test with its output as
// the reason; the failure is recorded and the scratch environment is gone.
func TestIntegrationRestoreTestCheckCommandFails(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, _, loc, _, row := restoreTestSetup(ctx, t, e, 10)
	in := dataset.RestoreTestInput{EnvID: env, BackupLocation: loc,
		CheckCommand: `echo "row count off in $LIFEBOAT_SCRATCH_TABLE_ORDERS" >&2; echo second line; exit 4`}
	run, err := e.Client().StartDatasetRestoreTest(ctx, in)
	if err == nil {
		_, err = e.Client().WaitDatasetRestoreTest(ctx, run.ID, nil)
	}
	var failed *client.WorkflowFailedError
	if !errors.As(err, &failed) || failed.Type != activities.ErrCheckCommand {
		t.Fatalf("restore test with a failing check command ended with %T %v, want a %s failure", err, err, activities.ErrCheckCommand)
	}
	if !strings.Contains(failed.Msg, "exited 4") || !strings.Contains(failed.Msg, "row count off in "+e.Config.TablePrefix+"."+env+"-rt-") ||
		!strings.Contains(failed.Msg, "second line") || strings.Contains(failed.Msg, "\n") {
		t.Errorf("reason %q: want one line with the exit code and the command's output", failed.Msg)
	}
	rec := readRestoreTest(t, e, row.ManifestURL)
	if rec.Outcome != backupstore.VerifiedFailed || !strings.Contains(rec.Problem, "exited 4") || rec.RTOSeconds <= 0 {
		t.Errorf("restore-test.json %+v, want failed with the reason and the RTO measured", rec)
	}
	requireScratchGone(t, e, env)
	requireUntouched(t, e, env)
}

// A backup whose data file was changed, its manifest made to agree with
// the listing (the ETag) but not with DynamoDB's own checksum, restores;
// the sample step reads that file and fails the test naming it.
func TestIntegrationRestoreTestTamperedBackup(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, _, loc, _, row := restoreTestSetup(ctx, t, e, 30)
	m, _ := e.ReadBackup(t, row.ManifestURL)
	bucket, manifestKey, _ := strings.Cut(strings.TrimPrefix(row.ManifestURL, "s3://"), "/")
	obj := -1
	for i, o := range m.Objects {
		if o.Items > 0 {
			obj = i
			break
		}
	}
	if obj < 0 {
		t.Fatal("no data object holds items")
	}
	key := m.Objects[obj].Key
	e.PutObject(t, bucket, key, sameSizeTampered(t, e.GetObject(t, bucket, key)))
	head, err := e.AWS.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	m.Objects[obj].ETag = strings.Trim(aws.ToString(head.ETag), `"`)
	body, _ := json.Marshal(m)
	e.PutObject(t, bucket, manifestKey, body)

	run, err := e.Client().StartDatasetRestoreTest(ctx, dataset.RestoreTestInput{EnvID: env, BackupLocation: loc, SampleSize: 1000})
	if err == nil {
		_, err = e.Client().WaitDatasetRestoreTest(ctx, run.ID, nil)
	}
	var failed *client.WorkflowFailedError
	if !errors.As(err, &failed) || failed.Type != activities.ErrBackupCorrupt || !strings.Contains(failed.Msg, key) || !strings.Contains(failed.Msg, "md5") {
		t.Fatalf("restore test of a tampered backup ended with %v, want %s naming %s and its checksum", err, activities.ErrBackupCorrupt, key)
	}
	if rec := readRestoreTest(t, e, row.ManifestURL); rec.Outcome != backupstore.VerifiedFailed || !strings.Contains(rec.Problem, key) {
		t.Errorf("restore-test.json %+v, want failed naming %s", rec, key)
	}
	requireScratchGone(t, e, env)
	requireUntouched(t, e, env)
}

// The sample step compares items read from the backup's files with a
// table, attribute by attribute: run against the live table after one item
// changed there, it names that item; against the unchanged items, it passes.
func TestIntegrationRestoreTestSampleComparesItems(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	env, ds, _, loaded, row := restoreTestSetup(ctx, t, e, 20)
	bucket, manifestKey, _ := strings.Cut(strings.TrimPrefix(row.ManifestURL, "s3://"), "/")
	live := e.Registry().TableName(env, e.Environment(t, env).ActiveStore, ds)
	act := &datasetact.RestoreTests{Registry: e.Registry(), DB: e.AWS.DynamoDB, S3: e.AWS.S3}
	in := datasetact.SampleRestoredInput{DatasetID: ds, Location: backupstore.Location{Bucket: bucket}, ManifestKey: manifestKey,
		TableName: live, SampleSize: 1000, Seed: "test"}
	got, err := act.SampleRestored(ctx, in)
	if err != nil || got.Sampled != len(loaded) {
		t.Fatalf("sample of an unchanged table: %+v, %v; want %d items compared", got, err, len(loaded))
	}
	changed := testenv.SortedKeys(loaded)[7]
	e.Put(t, env, ds, map[string]string{changed: "changed after the backup"})
	_, err = act.SampleRestored(ctx, in)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrRestoreTestFailed || !strings.Contains(app.Message(), fmt.Sprintf("%q", changed)) {
		t.Fatalf("sample of a table with %s changed: %v, want %s naming it", changed, err, activities.ErrRestoreTestFailed)
	}
}
