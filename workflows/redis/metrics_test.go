package redis_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// runCounted runs a RedisBackup whose PlanRedisBackup answers planErr (or
// whose node n2 fails with nodeErr) with the worker's real metrics registry,
// and returns the lifeboat_* lines it serves.
func runCounted(t *testing.T, planErr, nodeErr error) string {
	t.Helper()
	m := metrics.New()
	defer m.Close()
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(m.Handler())
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(redis.Backup, workflow.RegisterOptions{Name: redis.BackupName})
	env.RegisterActivity(&redisact.Node{})
	env.RegisterActivity(&redisact.Clusters{})
	fake := newRedisFake()
	if planErr != nil {
		fake.failing["PlanRedisBackup"] = planErr
	}
	if nodeErr != nil {
		fake.failing["BackupNode n2"] = nodeErr
	}
	for name, fn := range fake.handlers() {
		env.OnActivity(name, mock.Anything, mock.Anything).Return(fn).Maybe()
	}
	env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{Cluster: redisCluster, BackupLocation: "s3://backups/redis"})
	if env.GetWorkflowError() == nil {
		t.Fatal("the run did not fail")
	}
	var lines []string
	deadline := time.Now().Add(5 * metrics.ReportInterval)
	for len(lines) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		rec := httptest.NewRecorder()
		m.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		for _, l := range strings.Split(rec.Body.String(), "\n") {
			if strings.HasPrefix(l, "lifeboat_") || strings.HasPrefix(l, "# HELP lifeboat_") {
				lines = append(lines, l)
			}
		}
	}
	return strings.Join(lines, "\n")
}

// TestRedisRefusalCountedApartFromFailures: a backup of an unknown cluster
// counts in lifeboat_refused_total, not lifeboat_failures_total (which pages
// someone); a node that fails counts as a failure.
func TestRedisRefusalCountedApartFromFailures(t *testing.T) {
	t.Parallel()
	got := runCounted(t, activities.Invalid(&registry.RedisClusterNotFoundError{Cluster: redisCluster}), nil)
	if !strings.Contains(got, `lifeboat_refused_total{`) || !strings.Contains(got, `reason="not-found"`) ||
		!strings.Contains(got, `operation="redis-backup"`) || strings.Contains(got, "lifeboat_failures_total{") {
		t.Errorf("refused backup counted as:\n%s", got)
	}
	if !strings.Contains(got, "# HELP lifeboat_refused_total "+metrics.Help["lifeboat_refused"]) {
		t.Errorf("no HELP text for lifeboat_refused_total:\n%s", got)
	}
	got = runCounted(t, nil, errors.New("disk full"))
	if !strings.Contains(got, `lifeboat_failures_total{`) || !strings.Contains(got, `step="backing-up"`) || strings.Contains(got, "lifeboat_refused_total{") {
		t.Errorf("failed backup counted as:\n%s", got)
	}
}
