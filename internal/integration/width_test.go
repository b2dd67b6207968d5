package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	tclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"golang.org/x/sync/errgroup"

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
	const n = 60
	env := e.ID("wide")
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08d-0000-4000-8000-%012d", i, i)
	}
	// moto creates tables slowly: create the datasets 10 at a time.
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	want := e.Load(t, env, ids[0], "w", 3)
	loc := e.NewBackupLocation(t)

	bin := dataset.BackupInput{}
	rin := dataset.RestoreInput{NewStoreID: "s2"}
	for _, id := range ids {
		bin.Datasets = append(bin.Datasets, dataset.BackupDataset{EnvID: env, DatasetID: id, BackupLocation: loc})
		rin.Datasets = append(rin.Datasets, dataset.RestoreDataset{EnvID: env, DatasetID: id, BackupLocation: loc})
	}
	brun, _ := backup(ctx, t, e, bin)
	requireDatasetsAttribute(ctx, t, e.Client().Temporal, brun.ID, env, ids)
	rrun, res := restore(ctx, t, e, rin)
	requireDatasetsAttribute(ctx, t, e.Client().Temporal, rrun.ID, env, ids)

	if res.StoreID != "s2" || e.Environment(t, env).ActiveStore != "s2" {
		t.Fatalf("restore to %s; active store %s", res.StoreID, e.Environment(t, env).ActiveStore)
	}
	if got := e.ReadDataset(t, env, "s2", ids[0]); len(got) != len(want) {
		t.Fatalf("restored %s: %d items, want %d", ids[0], len(got), len(want))
	}
	e.RequireRunning(t, env)
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
