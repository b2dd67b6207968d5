package workflows_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/metrics/metricstest"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// restoreTested is a workflow that records a restore test as a restore-test
// workflow would at its end, the restore having taken rto.
func restoreTested(ctx workflow.Context, kind, resource string, rto time.Duration, ok bool) error {
	if err := workflow.Sleep(ctx, rto); err != nil {
		return err
	}
	workflows.RecordRestoreTest(ctx, kind, resource, rto, ok)
	return nil
}

// TestRecordRestoreTest: a passing test serves its RTO, success 1 and when
// it ended; a failing one then serves success 0 and its own end, and keeps
// the RTO last proved.
func TestRecordRestoreTest(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	defer m.Close()
	start := time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)
	run := func(resource string, rto time.Duration, ok bool) {
		var suite testsuite.WorkflowTestSuite
		suite.SetMetricsHandler(m.Handler())
		env := suite.NewTestWorkflowEnvironment()
		env.SetStartTime(start)
		env.RegisterWorkflow(restoreTested)
		env.ExecuteWorkflow(restoreTested, "dataset", resource, rto, ok)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
	}
	run("prod/orders", 90*time.Second, true)
	sel := func(name string) string { return name + `{kind="dataset",resource="prod/orders"}` }
	series := []string{sel(workflows.MetricRestoreTestSeconds), sel(workflows.MetricRestoreTestSuccess), sel(workflows.MetricRestoreTestTimestamp)}
	endedAt := func(at time.Time) func(map[string]float64) bool {
		return func(got map[string]float64) bool {
			return got[sel(workflows.MetricRestoreTestTimestamp)] == float64(at.Unix())
		}
	}
	got := metricstest.Served(t, m, endedAt(start.Add(90*time.Second)), series...)
	if got[sel(workflows.MetricRestoreTestSeconds)] != 90 || got[sel(workflows.MetricRestoreTestSuccess)] != 1 ||
		got[sel(workflows.MetricRestoreTestTimestamp)] != float64(start.Add(90*time.Second).Unix()) {
		t.Errorf("after a passing test: %v; want RTO 90, success 1, ended at %d", got, start.Add(90*time.Second).Unix())
	}

	start = start.Add(24 * time.Hour)
	run("prod/orders", 30*time.Second, false)
	got = metricstest.Served(t, m, endedAt(start.Add(30*time.Second)), series...)
	if got[sel(workflows.MetricRestoreTestSeconds)] != 90 || got[sel(workflows.MetricRestoreTestSuccess)] != 0 ||
		got[sel(workflows.MetricRestoreTestTimestamp)] != float64(start.Add(30*time.Second).Unix()) {
		t.Errorf("after a failing test: %v; want RTO 90 (the last proved), success 0, ended at %d", got, start.Add(30*time.Second).Unix())
	}
}

// backedUp records a backup success as the backup workflows do at theirs.
func backedUp(ctx workflow.Context, resource string, rpo time.Duration) error {
	workflows.RecordBackupSuccess(ctx, workflows.ProtectedRedis, resource, rpo)
	return nil
}

// TestRecordBackupSuccess: the time of the success and the target, when
// known; an unknown target (0) serves none.
func TestRecordBackupSuccess(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	defer m.Close()
	start := time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)
	for resource, rpo := range map[string]time.Duration{"shop": 6 * time.Hour, "cache": 0} {
		var suite testsuite.WorkflowTestSuite
		suite.SetMetricsHandler(m.Handler())
		env := suite.NewTestWorkflowEnvironment()
		env.SetStartTime(start)
		env.RegisterWorkflow(backedUp)
		env.ExecuteWorkflow(backedUp, resource, rpo)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
	}
	sel := func(name, resource string) string {
		return name + `{operation="redis-backup",resource="` + resource + `"}`
	}
	got := metricstest.Served(t, m, func(got map[string]float64) bool { return got[sel(workflows.MetricRPOTarget, "shop")] > 0 },
		sel(workflows.MetricLastSuccess, "shop"), sel(workflows.MetricRPOTarget, "shop"), sel(workflows.MetricLastSuccess, "cache"))
	if got[sel(workflows.MetricLastSuccess, "shop")] != float64(start.Unix()) || got[sel(workflows.MetricRPOTarget, "shop")] != 6*3600 {
		t.Errorf("got %v, want success at %d and target 21600 for shop", got, start.Unix())
	}
	rec := httptest.NewRecorder()
	m.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if metricstest.Matches(line, sel(workflows.MetricRPOTarget, "cache")) {
			t.Errorf("a target served for a resource without one: %s", line)
		}
	}
}
