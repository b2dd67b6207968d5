package redis_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// restoreTestFixture runs RedisRestoreTest on mocked activities: a
// three-node RDB backup whose scratch nodes fail as told; the cleanups and
// the record are kept.
type restoreTestFixture struct {
	env      *testsuite.TestWorkflowEnvironment
	mu       sync.Mutex
	nodeErr  map[string]error
	tested   []redisact.RestoreTestRedisNodeInput
	cleaned  [][]string
	recorded []backupstore.RestoreTest
}

func newRestoreTestFixture(t *testing.T, slowNodes bool) *restoreTestFixture {
	t.Helper()
	return newRestoreTestFixtureOn(t, slowNodes, nil)
}

// newRestoreTestFixtureOn is newRestoreTestFixture with the metrics served
// by m (when not nil).
func newRestoreTestFixtureOn(t *testing.T, slowNodes bool, m *metrics.Metrics) *restoreTestFixture {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	if m != nil {
		suite.SetMetricsHandler(m.Handler())
	}
	fx := &restoreTestFixture{env: suite.NewTestWorkflowEnvironment(), nodeErr: map[string]error{}}
	fx.env.SetStartTime(verifyStart)
	fx.env.RegisterWorkflowWithOptions(redis.RestoreTest, workflow.RegisterOptions{Name: redis.RestoreTestName})
	fx.env.RegisterActivity(&redisact.Clusters{})
	loc := backupstore.Location{Bucket: "backups", Prefix: "redis"}
	fx.env.OnActivity("FindRedisBackupToVerify", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in redisact.FindRedisBackupToVerifyInput) (*redisact.FindRedisBackupToVerifyResult, error) {
			res := &redisact.FindRedisBackupToVerifyResult{Cluster: in.Cluster, BackupID: "20210901T030000.000Z",
				Persistence: redisbackup.FormatRDB, Location: loc, Keys: 300, Bytes: 3000}
			for _, n := range []string{"n1", "n2", "n3"} {
				res.Nodes = append(res.Nodes, redisbackup.Node{Node: n, Keys: 100, MinKeys: 100, MaxKeys: 100, Bytes: 1000,
					Files: []redisbackup.File{{Name: "dump.rdb", Role: redisbackup.RoleRDB, Key: "redis/c1/x/" + n + "/dump.rdb", Size: 1000}}})
			}
			return res, nil
		}).Maybe()
	call := fx.env.OnActivity("RestoreTestRedisNode", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in redisact.RestoreTestRedisNodeInput) (*redisact.RestoreTestRedisNodeResult, error) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.tested = append(fx.tested, in)
			if err := fx.nodeErr[in.Node.Node]; err != nil {
				return nil, err
			}
			rto := map[string]int64{"n1": 1200, "n2": 3400, "n3": 2100}[in.Node.Node]
			return &redisact.RestoreTestRedisNodeResult{Node: in.Node.Node, Addr: "127.0.0.1:4000" + in.Node.Node[1:], Host: "w1",
				Keys: 100, Bytes: 1000, Sampled: 20, RTOMillis: rto}, nil
		}).Maybe()
	if slowNodes {
		call.After(time.Hour)
	}
	fx.env.OnActivity("DiscardRedisScratch", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in redisact.DiscardRedisScratchInput) (*redisact.DiscardRedisScratchResult, error) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.cleaned = append(fx.cleaned, in.Nodes)
			return &redisact.DiscardRedisScratchResult{}, nil
		}).Maybe()
	fx.env.OnActivity("RecordRedisRestoreTest", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in redisact.RecordRedisRestoreTestInput) (*redisact.RecordRedisRestoreTestResult, error) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.recorded = append(fx.recorded, in.RestoreTest)
			return &redisact.RecordRedisRestoreTestResult{URL: "s3://backups/" + redisbackup.BackupFolder(in.Location, in.Cluster, in.BackupID) + "/restore-test.json"}, nil
		}).Maybe()
	return fx
}

func (fx *restoreTestFixture) run(in redis.RestoreTestInput) {
	in.Cluster, in.BackupLocation = "c1", "s3://backups/redis"
	fx.env.ExecuteWorkflow(redis.RestoreTestName, in)
}

func TestRestoreTestPassesRecordsRTOAndCleansUp(t *testing.T) {
	fx := newRestoreTestFixture(t, false)
	fx.run(redis.RestoreTestInput{CheckCommand: "true", SampleSize: 5})
	require.NoError(t, fx.env.GetWorkflowError())
	var res redis.RestoreTestResult
	require.NoError(t, fx.env.GetWorkflowResult(&res))
	require.Len(t, res.Nodes, 3)
	require.InDelta(t, 3.4, res.RTOSeconds, 1e-9, "the slowest node's restore time")
	require.Equal(t, "s3://backups/redis/c1/20210901T030000.000Z/restore-test.json", res.RecordURL)
	for _, in := range fx.tested {
		require.Equal(t, "true", in.CheckCommand)
		require.Equal(t, 5, in.SampleSize)
	}
	require.Equal(t, [][]string{{"n1", "n2", "n3"}}, fx.cleaned)
	require.Len(t, fx.recorded, 1)
	rec := fx.recorded[0]
	require.Equal(t, backupstore.VerifiedOK, rec.Outcome)
	require.Equal(t, verifyStart, rec.At)
	require.InDelta(t, 3.4, rec.RTOSeconds, 1e-9)
	require.Equal(t, "n1=127.0.0.1:40001 on w1, n2=127.0.0.1:40002 on w1, n3=127.0.0.1:40003 on w1", rec.Target)
	require.Contains(t, rec.Checked, `check command "true"`)
	require.Contains(t, rec.Checked, "n2 100 (manifest 100)")
}

// The check failing on one node fails the run naming it, records the
// failure, and still removes every scratch node.
func TestRestoreTestCleansUpWhenTheCheckFails(t *testing.T) {
	fx := newRestoreTestFixture(t, false)
	fx.nodeErr["n2"] = temporal.NewNonRetryableApplicationError("node n2: the check command failed (exit status 3): orders:index is missing", redisact.ErrRestoreTestFailed, nil)
	fx.run(redis.RestoreTestInput{CheckCommand: "./check.sh"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(fx.env.GetWorkflowError(), &app), "%v", fx.env.GetWorkflowError())
	require.Equal(t, redisact.ErrRestoreTestFailed, app.Type())
	want := "restore test of backup 20210901T030000.000Z of Redis cluster c1 failed: node n2: the check command failed (exit status 3): orders:index is missing"
	require.Equal(t, want, app.Message())
	require.Equal(t, [][]string{{"n1", "n2", "n3"}}, fx.cleaned, "the scratch nodes are removed after a failed check")
	require.Len(t, fx.recorded, 1)
	require.Equal(t, backupstore.VerifiedFailed, fx.recorded[0].Outcome)
	require.Equal(t, want, fx.recorded[0].Problem)
	require.NotContains(t, fx.recorded[0].Target, "n2=")
}

func TestRestoreTestCancelledCleansUpAndRecordsNothing(t *testing.T) {
	fx := newRestoreTestFixture(t, true)
	fx.env.RegisterDelayedCallback(fx.env.CancelWorkflow, 10*time.Minute)
	fx.run(redis.RestoreTestInput{})
	var canceled *temporal.CanceledError
	require.True(t, errors.As(fx.env.GetWorkflowError(), &canceled), "%v", fx.env.GetWorkflowError())
	require.Equal(t, [][]string{{"n1", "n2", "n3"}}, fx.cleaned, "a cancelled test removes its scratch nodes")
	require.Empty(t, fx.recorded)
}

func TestRestoreTestOfOneNodeAndOfAnUnknownNode(t *testing.T) {
	fx := newRestoreTestFixture(t, false)
	fx.run(redis.RestoreTestInput{Nodes: []string{"n3"}})
	require.NoError(t, fx.env.GetWorkflowError())
	require.Len(t, fx.tested, 1)
	require.Equal(t, "n3", fx.tested[0].Node.Node)
	require.Equal(t, [][]string{{"n3"}}, fx.cleaned)

	fx = newRestoreTestFixture(t, false)
	fx.run(redis.RestoreTestInput{Nodes: []string{"n9"}})
	var app *temporal.ApplicationError
	require.True(t, errors.As(fx.env.GetWorkflowError(), &app))
	require.Equal(t, activities.ErrInvalidInput, app.Type())
	require.Contains(t, app.Message(), `the backup has no node "n9" (it has n1, n2, n3)`)
	require.Empty(t, fx.tested)
	require.Empty(t, fx.recorded)
	v, err := fx.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(t, err)
	var p redis.Progress
	require.NoError(t, v.Get(&p))
	require.False(t, p.Validated)
}
