package integration

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// The tests in this file prove the dataset path against the emulator's aws
// profile as AWS behaves: exports and imports that take their time (longEnv:
// at least 10 s each), point-in-time exports that hold the table as it was
// at the cut, UpdateContinuousBackups refused for a while after a create or
// an import, and lost or throttled responses (docs/emulator.md).

// activitySpan is when an activity type was first scheduled and last
// completed in a workflow's history.
type activitySpan struct{ scheduled, completed time.Time }

func activitySpans(t *testing.T, e *testenv.Env, workflowID string) map[string]activitySpan {
	t.Helper()
	it := e.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	types := map[int64]string{}
	spans := map[string]activitySpan{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		at := ev.GetEventTime().AsTime()
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			name := a.GetActivityType().GetName()
			types[ev.GetEventId()] = name
			if s := spans[name]; s.scheduled.IsZero() {
				s.scheduled = at
				spans[name] = s
			}
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
			name := types[a.GetScheduledEventId()]
			s := spans[name]
			s.completed = at
			spans[name] = s
		}
	}
	return spans
}

// TestIntegrationLongExportPausesWritesBriefly backs up a dataset under four
// concurrent writers (and one that keeps writing) with an export that takes
// at least 10 s: writes resume within 2 s of the drain, before the export
// even starts; the backup holds exactly the writes acknowledged before the
// pause and none of those acknowledged after the resume (the export reads
// the table as it stood at the cut, from PITR); the restored store equals
// the backup item for item.
func TestIntegrationLongExportPausesWritesBriefly(t *testing.T) {
	e := longEnv.Get(t)
	// Not parallel: the emulator answers one request at a time, and the
	// 100k-item restore sharing it once held every request for 8 s, which
	// the pause bound below then measured instead of Lifeboat.
	wb := backupUnderWriters(t, e)

	spans := activitySpans(t, e, wb.run.ID)
	drained, resumed := spans["WaitForDrain"].completed, spans["Resume"].completed
	exportStarted, exported := spans["StartExport"].scheduled, spans["WaitExport"].completed
	t.Logf("drained %s, resumed +%s, export started +%s, took %s; writer saw writes refused for %s; pause window %dms",
		drained.Format(time.RFC3339Nano), resumed.Sub(drained), exportStarted.Sub(drained), exported.Sub(exportStarted),
		wb.refusedFor.Round(time.Millisecond), wb.res.PauseWindowMillis)
	if took := exported.Sub(exportStarted); took < longJobSeconds*time.Second {
		t.Errorf("export took %s: the emulator should hold it %ds", took, longJobSeconds)
	}
	if d := resumed.Sub(drained); d <= 0 || d > 2*time.Second {
		t.Errorf("writes resumed %s after the drain, want within 2 s", d)
	}
	if !exportStarted.After(resumed) {
		t.Errorf("export started at %s, before writes resumed at %s", exportStarted, resumed)
	}
	cut := wb.res.Datasets[0].CutTime
	if !cut.Equal(cut.Truncate(time.Second)) || !cut.After(drained) || !cut.Before(resumed) {
		t.Errorf("cut %s: want a whole second between the drain %s and the resume %s", cut, drained, resumed)
	}

	ctx := testenv.Context(t, 4*time.Minute)
	_, res := restore(ctx, t, e, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{
		EnvID: wb.env, DatasetID: wb.ds, BackupLocation: backupRoot(t, wb.res.Datasets[0].ManifestURL),
	}}})
	if d := testenv.DiffItems(wb.want, e.ReadDataset(t, wb.env, res.StoreID, wb.ds)); d != "" {
		t.Errorf("restored store differs from the backup: %s", d)
	}
	e.RequireRunning(t, wb.env)
}

// backupRoot is the s3:// location a backup was written under, from its
// manifest URL (<root>/<env>/<store>/<dataset>/<backup id>/manifest.json).
func backupRoot(t *testing.T, manifestURL string) string {
	t.Helper()
	parts := strings.Split(manifestURL, "/")
	if len(parts) < 8 {
		t.Fatalf("manifest URL %q is too short", manifestURL)
	}
	return strings.Join(parts[:len(parts)-5], "/")
}

// TestIntegrationRestore100kItemsWithoutScan restores 100,000 items through
// an import that takes at least 10 s. The restore trusts DynamoDB's own
// count (DescribeImport): the emulator's request log shows no Scan or Query
// of the new table.
func TestIntegrationRestore100kItemsWithoutScan(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e := longEnv.Get(t)
	t.Parallel()
	ctx := testenv.Context(t, 10*time.Minute)
	const n = 100_000
	env, ds := e.ID("big"), "events"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	start := time.Now()
	want := e.BulkLoad(t, env, ds, "item", n)
	t.Logf("loaded %d items in %s", n, time.Since(start).Round(time.Millisecond))

	_, b := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	if b.Datasets[0].ItemCount != n {
		t.Fatalf("backup holds %d items, want %d", b.Datasets[0].ItemCount, n)
	}
	run, res := restore(ctx, t, e, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	got := res.Datasets[0]
	if got.ItemCount != n {
		t.Errorf("restore counts %d items, want %d", got.ItemCount, n)
	}
	spans := activitySpans(t, e, run.ID)
	if took := spans["WaitImport"].completed.Sub(spans["StartImport"].scheduled); took < longJobSeconds*time.Second {
		t.Errorf("import took %s: the emulator should hold it at least %ds", took, longJobSeconds)
	}
	t.Logf("backup %s, restore %s (import %s), pause %dms",
		b.Datasets[0].BackupID, spans["SwitchStore"].completed.Sub(spans["ValidateRestore"].scheduled).Round(time.Millisecond),
		spans["WaitImport"].completed.Sub(spans["StartImport"].scheduled).Round(time.Millisecond), res.PauseWindowMillis)

	// Read the request log before this test reads the table itself.
	reqs, err := e.EmulatorRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if (r.Action == "Scan" || r.Action == "Query") && strings.Contains(r.Resource, got.TableName) {
			t.Errorf("the restore read the new table: %s %s (seq %d)", r.Action, r.Resource, r.Seq)
		}
	}
	if d := testenv.DiffItems(want, e.ReadTable(t, got.TableName)); d != "" {
		t.Errorf("restored table differs from the loaded items: %s", d)
	}
	e.RequireRunning(t, env)
}

// TestIntegrationPITRBrieflyUnavailable creates a dataset with the CLI and
// restores it while DynamoDB (the emulator's aws profile) refuses
// UpdateContinuousBackups for a few seconds after each table is created or
// imported: both succeed, with PITR on in the end.
func TestIntegrationPITRBrieflyUnavailable(t *testing.T) {
	e := shared(t)
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("pitr"), "orders"
	lifeboat := func(args ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue,
			"--control-table", e.Config.ControlTable, "--table-prefix", e.Config.TablePrefix)
		if code := cli.Main(ctx, args, &out, &errOut); code != 0 {
			t.Fatalf("lifeboat %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
	}
	lifeboat("env", "create", "--env-id", env)
	lifeboat("dataset", "create", "--env-id", env, "--dataset-id", ds)
	want := e.Load(t, env, ds, "item", 50)
	loc := e.NewBackupLocation(t)
	backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	_, res := restore(ctx, t, e, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})

	reqs, err := e.EmulatorRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tables := []string{e.Registry().TableName(env, "initial", ds), res.Datasets[0].TableName}
	for _, table := range tables {
		refused := 0
		for _, r := range reqs {
			if r.Action == "UpdateContinuousBackups" && strings.Contains(r.Resource, table) && r.Status == 400 {
				refused++
			}
		}
		if refused == 0 {
			t.Errorf("UpdateContinuousBackups on %s was never refused: the emulator's window is not exercised", table)
		}
		out, err := e.AWS.DynamoDB.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		if s := out.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus; s != dbtypes.PointInTimeRecoveryStatusEnabled {
			t.Errorf("PITR on %s is %s, want ENABLED", table, s)
		}
	}
	if d := testenv.DiffItems(want, e.ReadDataset(t, env, res.StoreID, ds)); d != "" {
		t.Errorf("restored store differs: %s", d)
	}
}

// TestIntegrationDatasetsUnderFaults backs up and restores two datasets while
// a tenth of AWS requests are throttled, fail with a 500, or are applied and
// then lose their response. Both complete; nothing is left paused; each
// table was exported once and each new table imported once, whatever the
// retries; the restore equals the data. It changes the emulator for
// everyone, so it does not run in parallel (Go runs it before the parallel
// tests).
func TestIntegrationDatasetsUnderFaults(t *testing.T) {
	e := longEnv.Get(t)
	ctx := testenv.Context(t, 8*time.Minute)
	env := e.ID("faults")
	dss := []string{"orders", "users"}
	e.CreateEnvDataset(t, env, dss...)
	loc := e.NewBackupLocation(t)
	want := map[string]map[string]string{}
	for _, ds := range dss {
		want[ds] = e.Load(t, env, ds, ds, 300)
	}
	rate, off := 0.1, 0.0
	if _, err := e.EmulatorConfig(ctx, testenv.EmulatorConfig{FaultRate: &rate}); err != nil {
		t.Fatal(err)
	}
	faultsOff := func() {
		if _, err := e.EmulatorConfig(context.Background(), testenv.EmulatorConfig{FaultRate: &off}); err != nil {
			t.Errorf("turn faults off: %v", err)
		}
	}
	defer faultsOff()
	var bin dataset.BackupInput
	var rin dataset.RestoreInput
	for _, ds := range dss {
		bin.Datasets = append(bin.Datasets, dataset.BackupDataset{EnvID: env, DatasetID: ds, BackupLocation: loc})
		rin.Datasets = append(rin.Datasets, dataset.RestoreDataset{EnvID: env, DatasetID: ds, BackupLocation: loc})
	}
	_, b := backup(ctx, t, e, bin)
	_, r := restore(ctx, t, e, rin)
	faultsOff()

	reqs, err := e.EmulatorRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	faults := map[string]int{}
	for _, q := range reqs {
		if q.Fault != "" {
			faults[q.Fault]++
		}
	}
	t.Logf("faults injected: %v", faults)
	if faults["lost"] == 0 || faults["throttle"] == 0 {
		t.Errorf("faults %v: want lost responses and throttling among them", faults)
	}
	e.RequireRunning(t, env)
	for i, ds := range dss {
		if b.Datasets[i].ItemCount != 300 {
			t.Errorf("%s: backup holds %d items, want 300", ds, b.Datasets[i].ItemCount)
		}
		source := e.Registry().TableName(env, "initial", ds)
		if n := countExports(ctx, t, e, source); n != 1 {
			t.Errorf("%s: %d exports of %s, want exactly 1", ds, n, source)
		}
		if n := countImports(ctx, t, e, r.Datasets[i].TableName); n != 1 {
			t.Errorf("%s: %d imports into %s, want exactly 1", ds, n, r.Datasets[i].TableName)
		}
		if d := testenv.DiffItems(want[ds], e.ReadDataset(t, env, r.StoreID, ds)); d != "" {
			t.Errorf("%s: restored store differs: %s", ds, d)
		}
	}
}

func tableArn(ctx context.Context, t *testing.T, e *testenv.Env, table string) *string {
	t.Helper()
	d, err := e.AWS.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("describe %s: %v", table, err)
	}
	return d.Table.TableArn
}

func countExports(ctx context.Context, t *testing.T, e *testenv.Env, table string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewListExportsPaginator(e.AWS.DynamoDB, &dynamodb.ListExportsInput{TableArn: tableArn(ctx, t, e, table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list exports of %s: %v", table, err)
		}
		n += len(page.ExportSummaries)
	}
	return n
}

func countImports(ctx context.Context, t *testing.T, e *testenv.Env, table string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewListImportsPaginator(e.AWS.DynamoDB, &dynamodb.ListImportsInput{TableArn: tableArn(ctx, t, e, table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list imports of %s: %v", table, err)
		}
		n += len(page.ImportSummaryList)
	}
	return n
}
