package redis_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/metrics/metricstest"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestRedisBackupRecordsSuccessAndTarget: a complete backup serves when it
// succeeded and the cluster's target; one that failed on a node serves
// neither.
func TestRedisBackupRecordsSuccessAndTarget(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 5, 1, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		nodeErr error
	}{{"complete", nil}, {"a node failed", errors.New("disk full")}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New()
			defer m.Close()
			var suite testsuite.WorkflowTestSuite
			suite.SetMetricsHandler(m.Handler())
			env := suite.NewTestWorkflowEnvironment()
			env.SetStartTime(at)
			env.RegisterWorkflowWithOptions(redis.Backup, workflow.RegisterOptions{Name: redis.BackupName})
			env.RegisterActivity(&redisact.Node{})
			env.RegisterActivity(&redisact.Clusters{})
			fake := newRedisFake()
			if tc.nodeErr != nil {
				fake.failing["BackupNode n2"] = tc.nodeErr
			}
			for name, fn := range fake.handlers() {
				env.OnActivity(name, mock.Anything, mock.Anything).Return(fn).Maybe()
			}
			env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{Cluster: redisCluster, BackupLocation: "s3://backups/redis", RPOSeconds: 3600})

			series := func(name string) string {
				return name + `{operation="redis-backup",resource="` + redisCluster + `"}`
			}
			success, target := series(workflows.MetricLastSuccess), series(workflows.MetricRPOTarget)
			if tc.nodeErr != nil {
				if env.GetWorkflowError() == nil {
					t.Fatal("the run did not fail")
				}
				failures := `lifeboat_failures_total{operation="redis-backup"}`
				metricstest.Served(t, m, func(got map[string]float64) bool { return got[failures] > 0 }, failures)
				if got := metricstest.Served(t, m, metricstest.Now, success, target); len(got) > 0 {
					t.Errorf("a failed backup served %v", got)
				}
				return
			}
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			got := metricstest.Served(t, m, func(got map[string]float64) bool { return got[target] > 0 }, success, target)
			if got[target] != 3600 || got[success] < float64(at.Unix()) || got[success] > float64(at.Add(time.Hour).Unix()) {
				t.Errorf("served %v; want target 3600 and a success at the run's end (started %d)", got, at.Unix())
			}
		})
	}
}

// TestRedisRestoreTestRecordsRTO: a passed restore test serves its RTO (the
// slowest node's), success 1 and when it ran; a failed one serves success 0.
func TestRedisRestoreTestRecordsRTO(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail bool
	}{{"passed", false}, {"failed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New()
			defer m.Close()
			fx := newRestoreTestFixtureOn(t, false, m)
			if tc.fail {
				fx.nodeErr["n2"] = temporal.NewNonRetryableApplicationError("node n2: keys missing", redisact.ErrRestoreTestFailed, nil)
			}
			fx.run(redis.RestoreTestInput{})
			series := func(name string) string { return name + `{kind="redis",resource="c1"}` }
			rto, ok, at := series(workflows.MetricRestoreTestSeconds), series(workflows.MetricRestoreTestSuccess), series(workflows.MetricRestoreTestTimestamp)
			got := metricstest.Served(t, m, func(got map[string]float64) bool { return got[at] > 0 }, rto, ok, at)
			if tc.fail {
				if got[ok] != 0 || got[rto] != 0 {
					t.Errorf("a failed restore test served %v; want success 0 and no RTO", got)
				}
				return
			}
			if got[ok] != 1 || got[rto] != 3.4 || got[at] < float64(verifyStart.Unix()) {
				t.Errorf("served %v; want success 1, RTO 3.4 s (the slowest node) and when it ran", got)
			}
		})
	}
}
