package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/worker/app"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationScheduleTriggerBackup creates a backup schedule on the dev
// server, triggers it and checks the run it started is a complete backup
// of the dataset, tagged with the schedule; then deletes the schedule.
func TestIntegrationScheduleTriggerBackup(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	env, ds := e.ID("sched"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	want := e.Load(t, env, ds, "item", 60)
	lb := e.Client()
	id := e.ID("nightly")
	in := dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}}
	if err := lb.CreateBackupSchedule(ctx, client.Schedule{ID: id, Cron: "0 2 * * *"}, in); err != nil {
		t.Fatalf("create schedule: %v", err)
	}
	t.Cleanup(func() { _ = lb.DeleteSchedule(context.Background(), id) })

	st, err := lb.DescribeSchedule(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Overlap != "skip" || st.Spec != "0 2 * * *" || st.WorkflowType != dataset.BackupName || len(st.NextRuns) == 0 {
		t.Errorf("schedule as described: overlap %q spec %q workflow %q next %v; want skip, 0 2 * * *, DatasetBackup, next runs",
			st.Overlap, st.Spec, st.WorkflowType, st.NextRuns)
	}
	if st.NextRuns[0].UTC().Hour() != 2 || st.NextRuns[0].Minute() != 0 {
		t.Errorf("next run %s, want 02:00 UTC", st.NextRuns[0])
	}

	if err := lb.TriggerSchedule(ctx, id); err != nil {
		t.Fatalf("trigger: %v", err)
	}
	wfID := waitScheduledRun(ctx, t, lb, id, 1)
	if !strings.HasPrefix(wfID, client.ScheduledWorkflowID(id)+"-") {
		t.Errorf("scheduled run id %q, want prefix %q", wfID, client.ScheduledWorkflowID(id))
	}
	res, err := lb.WaitBackup(ctx, wfID, nil)
	if err != nil {
		t.Fatalf("scheduled backup %s: %v", wfID, err)
	}
	got := e.ReadBackupItems(t, backupOf(t, res, env, ds).ManifestURL)
	if diff := testenv.DiffItems(want, got); diff != "" {
		t.Errorf("scheduled backup differs from the dataset: %s", diff)
	}
	e.RequireRunning(t, env)

	// The run carries the schedule's and its own search attributes.
	sa := searchAttributes(ctx, t, e, wfID)
	if sa[workflows.SAScheduleID.GetName()] != id || sa[workflows.SAOperation.GetName()] != "backup" ||
		sa[workflows.SAEnvironment.GetName()] != env || sa[workflows.SADatasets.GetName()] != env+"/"+ds {
		t.Errorf("search attributes of %s: %v", wfID, sa)
	}
	runs := waitListed(ctx, t, lb, client.RunFilter{Operation: "backup", ScheduleID: id}, wfID)
	if runs[0].ScheduleID != id || !slices.Equal(runs[0].Datasets, []string{env + "/" + ds}) {
		t.Errorf("listed run %+v, want schedule %s and dataset %s/%s", runs[0], id, env, ds)
	}
	st, err = lb.DescribeSchedule(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Recent) != 1 || st.Recent[0].Status != "Completed" {
		t.Errorf("recent runs after the triggered backup: %+v, want one Completed", st.Recent)
	}

	if err := lb.DeleteSchedule(ctx, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	var invalid *client.InvalidInputError
	if _, err := lb.DescribeSchedule(ctx, id); !errors.As(err, &invalid) {
		t.Errorf("describe after delete: %v, want InvalidInputError (no schedule)", err)
	}
	if err := lb.CreateBackupSchedule(ctx, client.Schedule{ID: id}, in); !errors.As(err, &invalid) {
		t.Errorf("schedule without cron or interval: %v, want InvalidInputError", err)
	}
}

// TestIntegrationScheduleOverlapSkip triggers a schedule twice while its
// first run is still going: with the default policy the second is skipped.
// The runs go to a task queue no worker polls, so the first never ends.
func TestIntegrationScheduleOverlapSkip(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 2*time.Minute)
	idle := client.New(e.Temporal, e.Config.TaskQueue+"-idle")
	id := e.ID("overlap")
	in := dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: e.ID("overlap"), DatasetID: "d", BackupLocation: "s3://b/p"}}}
	if err := idle.CreateBackupSchedule(ctx, client.Schedule{ID: id, Every: time.Hour}, in); err != nil {
		t.Fatalf("create schedule: %v", err)
	}
	t.Cleanup(func() { _ = idle.DeleteSchedule(context.Background(), id) })
	if err := idle.TriggerSchedule(ctx, id); err != nil {
		t.Fatal(err)
	}
	first := waitScheduledRun(ctx, t, idle, id, 1)
	t.Cleanup(func() { _ = e.Temporal.TerminateWorkflow(context.Background(), first, "", "test over") })
	if err := idle.TriggerSchedule(ctx, id); err != nil {
		t.Fatal(err)
	}
	st := waitSchedule(ctx, t, idle, id, func(st *client.ScheduleStatus) bool { return st.SkippedOverlap >= 1 })
	if st.Actions != 1 || st.SkippedOverlap != 1 || !slices.Equal(st.Running, []string{first}) {
		t.Errorf("after a second trigger: %d started, %d skipped, running %v; want 1, 1, [%s]", st.Actions, st.SkippedOverlap, st.Running, first)
	}

	if err := idle.PauseSchedule(ctx, id, "test"); err != nil {
		t.Fatal(err)
	}
	st = waitSchedule(ctx, t, idle, id, func(st *client.ScheduleStatus) bool { return st.Paused })
	if st.Note != "test" {
		t.Errorf("paused schedule note %q, want test", st.Note)
	}
	if err := idle.UnpauseSchedule(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	waitSchedule(ctx, t, idle, id, func(st *client.ScheduleStatus) bool { return !st.Paused })
}

// TestIntegrationMetricsAndLogsAfterBackup checks the workers' Prometheus
// endpoints count a backup's items and bytes and its pause window, and
// that the workers' structured logs name the backup's workflow and
// activities.
func TestIntegrationMetricsAndLogsAfterBackup(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	env, ds := e.ID("metrics"), "orders"
	e.CreateEnvDataset(t, env, ds)
	e.Load(t, env, ds, "item", 40)
	run, res := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: e.NewBackupLocation(t)}}})
	r := backupOf(t, res, env, ds)
	label := fmt.Sprintf(`dataset="%s/%s"`, env, ds)
	deadline := time.Now().Add(30 * time.Second)
	for {
		items := e.Metric(t, "lifeboat_items_exported_total", label)
		bytes := e.Metric(t, "lifeboat_bytes_exported_total", label)
		pauses := e.Metric(t, "lifeboat_pause_window_seconds_count", `operation="backup"`)
		if items == float64(r.ItemCount) && bytes == float64(r.Bytes) && pauses >= 1 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("metrics after backup: items %v (want %d), bytes %v (want %d), pause windows %v (want >= 1)", items, r.ItemCount, bytes, r.Bytes, pauses)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if n := e.Metric(t, "temporal_workflow_completed_total", `workflow_type="DatasetBackup"`); n < 1 {
		t.Errorf("SDK metric temporal_workflow_completed_total for DatasetBackup: %v, want >= 1", n)
	}

	logs, err := os.ReadFile(filepath.Join(e.LogDir, "sdk.log"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(string(logs), "\n") {
		if strings.Contains(line, "msg=\"Export started\"") && strings.Contains(line, "WorkflowID="+run.ID) &&
			strings.Contains(line, "ActivityID=") && strings.Contains(line, "ActivityType=StartExport") {
			found = true
			break
		}
	}
	if !found {
		t.Errorf("no worker log line for the export of %s carries WorkflowID and ActivityID (see %s)", run.ID, e.LogDir)
	}
}

// waitScheduledRun waits until a schedule has started n runs and returns
// the newest run's workflow id.
func waitScheduledRun(ctx context.Context, t *testing.T, lb *client.Client, id string, n int) string {
	t.Helper()
	st := waitSchedule(ctx, t, lb, id, func(st *client.ScheduleStatus) bool { return len(st.Recent) >= n })
	return st.Recent[len(st.Recent)-1].WorkflowID
}

func waitSchedule(ctx context.Context, t *testing.T, lb *client.Client, id string, ok func(*client.ScheduleStatus) bool) *client.ScheduleStatus {
	t.Helper()
	for {
		st, err := lb.DescribeSchedule(ctx, id)
		if err != nil {
			t.Fatalf("describe schedule %s: %v", id, err)
		}
		if ok(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("schedule %s: condition not met: %+v", id, st)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitListed waits until a list query finds the workflow (visibility is
// eventually consistent) and returns what it listed.
func waitListed(ctx context.Context, t *testing.T, lb *client.Client, f client.RunFilter, workflowID string) []client.RunSummary {
	t.Helper()
	for {
		runs, err := lb.ListRuns(ctx, f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		if len(runs) == 1 && runs[0].WorkflowID == workflowID {
			return runs
		}
		select {
		case <-ctx.Done():
			t.Fatalf("list %+v: got %+v, want only %s", f, runs, workflowID)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// searchAttributes reads a workflow's search attributes as strings
// (keyword lists joined with ",").
func searchAttributes(ctx context.Context, t *testing.T, e *testenv.Env, workflowID string) map[string]string {
	t.Helper()
	d, err := e.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, p := range d.WorkflowExecutionInfo.GetSearchAttributes().GetIndexedFields() {
		var list []string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &list); err == nil {
			out[k] = strings.Join(list, ",")
			continue
		}
		var s string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err == nil {
			out[k] = s
		}
	}
	return out
}

// TestIntegrationWorkerRegistersSearchAttributes runs the worker's start-up
// registration on a namespace that has none of Lifeboat's search
// attributes: the check refuses it, registration adds them all, and a
// second registration is a no-op.
func TestIntegrationWorkerRegistersSearchAttributes(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 2*time.Minute)
	ns := e.ID("ns")
	_, err := e.Temporal.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("register namespace %s: %v", ns, err)
	}
	err = app.CheckSearchAttributes(ctx, e.Temporal, ns)
	if err == nil || !strings.Contains(err.Error(), "LifeboatOperation") {
		t.Fatalf("check on a bare namespace: %v, want an error naming the missing attributes", err)
	}
	for range 2 {
		if err := app.EnsureSearchAttributes(ctx, e.Temporal, ns); err != nil {
			t.Fatalf("register search attributes on %s: %v", ns, err)
		}
	}
	resp, err := e.Temporal.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range workflows.SearchAttributes {
		if got, ok := resp.CustomAttributes[name]; !ok || got != typ {
			t.Errorf("namespace %s: search attribute %s = %v (present %t), want %v", ns, name, got, ok, typ)
		}
	}
	if err := app.CheckSearchAttributes(ctx, e.Temporal, ns); err != nil {
		t.Errorf("check after registering: %v", err)
	}
}
