package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	tclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"golang.org/x/sync/errgroup"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationWideEnvironment backs up and restores an environment of 60
// datasets with 36-character ids on the dev server, which refuses a search
// attribute value over 2 KB (the whole list is 3 KB; such runs were
// terminated at their first task): both runs complete, and each run's
// LifeboatDatasets holds the first datasets and a count.
func TestIntegrationWideEnvironment(t *testing.T) {
	e := shared(t)
	t.Parallel()
	wideEnvironment(t, e, 60, 3*time.Minute)
}

// TestIntegrationWidestEnvironment is the same at the limit, 1,000 datasets
// (dataset.MaxDatasets) in one environment, on its own dev server, moto and
// workers: it takes minutes (moto creates and exports tables one request at
// a time), so it runs in `make chaos` (LIFEBOAT_WIDE=1) and not in `make
// test`. Both runs stay well inside Temporal's history and payload limits.
func TestIntegrationWidestEnvironment(t *testing.T) {
	if os.Getenv("LIFEBOAT_WIDE") == "" {
		t.Skip("1,000 datasets take minutes: run with make chaos (LIFEBOAT_WIDE=1)")
	}
	if testing.Short() {
		t.Skip("integration test")
	}
	wideEnvironment(t, testenv.Start(t), dataset.MaxDatasets, 30*time.Minute)
}

// wideEnvironment backs up and restores one environment of n datasets with
// 36-character ids, each holding 1-5 items: both runs complete, every
// dataset's count in the backup and the restore is what was loaded, a few
// datasets hold exactly their items in the new store, the environment is
// switched to it and every dataset is RUNNING after each run; each run's
// history (and any child's) stays under a quarter of the server's limits.
func wideEnvironment(t *testing.T, e *testenv.Env, n int, timeout time.Duration) {
	env := e.ID("wide")
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08d-0000-4000-8000-%012d", i, i)
	}
	// moto creates tables slowly: create the datasets 10 at a time.
	start := time.Now()
	e.CreateEnvDataset(t, env)
	g, gctx := errgroup.WithContext(context.Background())
	g.SetLimit(10)
	for _, id := range ids {
		g.Go(func() error {
			_, err := e.Registry().CreateDataset(gctx, env, id, time.Now())
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d datasets in %s", n, time.Since(start).Round(time.Second))
	start = time.Now()
	want := make([]map[string]string, n)
	for i, id := range ids {
		want[i] = e.BulkLoad(t, env, id, "w", 1+i%5)
	}
	t.Logf("loaded them in %s", time.Since(start).Round(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	loc := e.NewBackupLocation(t)

	bin := dataset.BackupInput{}
	rin := dataset.RestoreInput{NewStoreID: "s2"}
	for _, id := range ids {
		bin.Datasets = append(bin.Datasets, dataset.BackupDataset{EnvID: env, DatasetID: id, BackupLocation: loc})
		rin.Datasets = append(rin.Datasets, dataset.RestoreDataset{EnvID: env, DatasetID: id, BackupLocation: loc})
	}
	start = time.Now()
	brun, b := backup(ctx, t, e, bin)
	t.Logf("backup of %d datasets in %s, writes paused %d ms", n, time.Since(start).Round(time.Second), b.PauseWindowMillis)
	requireDatasetsAttribute(ctx, t, e.Client().Temporal, brun.ID, env, ids)
	for i, id := range ids {
		if r := backupOf(t, b, env, id); r.ItemCount != int64(len(want[i])) {
			t.Errorf("backup of %s: its manifest counts %d items, want %d", id, r.ItemCount, len(want[i]))
		}
	}
	e.RequireRunning(t, env)
	listedBefore := listings(ctx, t, e, loc)
	start = time.Now()
	rrun, res := restore(ctx, t, e, rin)
	t.Logf("restore of %d datasets in %s, writes paused %d ms", n, time.Since(start).Round(time.Second), res.PauseWindowMillis)
	requireDatasetsAttribute(ctx, t, e.Client().Temporal, rrun.ID, env, ids)
	// Finding each dataset's backup lists the location's folders once for
	// the whole request, and checking each backup lists its export once
	// (2n+3 listings): per dataset, it listed every dataset's folder (n*n,
	// a million listings for 1,000 datasets, hours on the emulator).
	listed := listings(ctx, t, e, loc) - listedBefore
	t.Logf("restore of %d datasets listed the backup location %d times", n, listed)
	if listed > 3*n {
		t.Errorf("restore of %d datasets listed the backup location %d times, want at most %d", n, listed, 3*n)
	}

	if res.StoreID != "s2" || e.Environment(t, env).ActiveStore != "s2" {
		t.Fatalf("restore to %s; active store %s", res.StoreID, e.Environment(t, env).ActiveStore)
	}
	restored := map[string]int64{}
	for _, r := range res.Datasets {
		restored[r.DatasetID] = r.ItemCount
	}
	for i, id := range ids {
		if restored[id] != int64(len(want[i])) {
			t.Errorf("restore of %s: %d items, want %d", id, restored[id], len(want[i]))
		}
	}
	for _, i := range []int{0, 1, n / 2, n - 2, n - 1} {
		if diff := testenv.DiffItems(want[i], e.ReadDataset(t, env, "s2", ids[i])); diff != "" {
			t.Errorf("restored %s: %s", ids[i], diff)
		}
	}
	if all, err := e.Registry().ListDatasets(ctx, env); err != nil || len(all) != n {
		t.Fatalf("environment %s lists %d datasets (%v), want %d", env, len(all), err, n)
	}
	e.RequireRunning(t, env)

	for what, r := range map[string]client.Run{"backup": brun, "restore": rrun} {
		h := measureHistory(ctx, t, e.Client().Temporal, r.ID, r.RunID)
		t.Logf("%s of %d datasets: %s", what, n, h)
		requireWellInsideLimits(t, what, h)
	}
}

// listings counts the emulator's ListObjectsV2 requests on a location's
// bucket so far.
func listings(ctx context.Context, t *testing.T, e *testenv.Env, loc string) int {
	t.Helper()
	reqs, err := e.EmulatorRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bucket, _, _ := strings.Cut(strings.TrimPrefix(loc, "s3://"), "/")
	n := 0
	for _, r := range reqs {
		if r.Action == "ListObjectsV2" && r.Resource == bucket {
			n++
		}
	}
	return n
}

// requireDatasetsAttribute checks a run's LifeboatDatasets as the server
// stored it: under 2 KB, the first of ids in order, then "and-N-more".
func requireDatasetsAttribute(ctx context.Context, t *testing.T, c tclient.Client, workflowID, env string, ids []string) {
	t.Helper()
	d, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	p := d.WorkflowExecutionInfo.GetSearchAttributes().GetIndexedFields()[workflows.SADatasets.GetName()]
	if p == nil {
		t.Fatalf("%s: no %s", workflowID, workflows.SADatasets.GetName())
	}
	if len(p.Data) >= 2048 {
		t.Fatalf("%s: %s of %d bytes", workflowID, workflows.SADatasets.GetName(), len(p.Data))
	}
	var got []string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &got); err != nil {
		t.Fatal(err)
	}
	kept := len(got) - 1
	if kept < 1 || got[kept] != workflows.MoreKeyword(len(ids)-kept) {
		t.Fatalf("%s: %s = %v, want the first datasets and a count", workflowID, workflows.SADatasets.GetName(), got)
	}
	for i, v := range got[:kept] {
		if v != env+"/"+ids[i] {
			t.Fatalf("%s: %s[%d] = %q, want %q", workflowID, workflows.SADatasets.GetName(), i, v, env+"/"+ids[i])
		}
	}
}
