package redis_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// verifyFixture runs RedisVerify on mocked activities: a three-node RDB
// backup, node checks failing as told, the verdict record kept.
type verifyFixture struct {
	env      *testsuite.TestWorkflowEnvironment
	mu       sync.Mutex
	nodeErr  map[string]error
	checked  []string
	recorded []backupstore.Verification
}

var verifyStart = time.Date(2021, 9, 2, 4, 0, 0, 0, time.UTC)

func newVerifyFixture(t *testing.T, findErr error, slowNodes bool) *verifyFixture {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	fx := &verifyFixture{env: suite.NewTestWorkflowEnvironment(), nodeErr: map[string]error{}}
	fx.env.SetStartTime(verifyStart)
	fx.env.RegisterWorkflowWithOptions(redis.Verify, workflow.RegisterOptions{Name: redis.VerifyName})
	fx.env.RegisterActivity(&redisact.Clusters{})
	loc := backupstore.Location{Bucket: "backups", Prefix: "redis"}
	fx.env.OnActivity("FindRedisBackupToVerify", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in redisact.FindRedisBackupToVerifyInput) (*redisact.FindRedisBackupToVerifyResult, error) {
			if findErr != nil {
				return nil, findErr
			}
			res := &redisact.FindRedisBackupToVerifyResult{Cluster: in.Cluster, BackupID: "20210901T030000.000Z",
				Persistence: redisbackup.FormatRDB, Location: loc, Keys: 300, Bytes: 3000}
			for _, n := range []string{"n1", "n2", "n3"} {
				res.Nodes = append(res.Nodes, redisbackup.Node{Node: n, Keys: 100, MinKeys: 100, MaxKeys: 100, Bytes: 1000,
					Files: []redisbackup.File{{Name: "dump.rdb", Role: redisbackup.RoleRDB, Key: "redis/c1/x/" + n + "/dump.rdb", Size: 1000}}})
			}
			return res, nil
		}).Maybe()
	call := fx.env.OnActivity("VerifyRedisNode", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in redisact.VerifyRedisNodeInput) (*redisact.VerifyRedisNodeResult, error) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.checked = append(fx.checked, in.Node.Node)
			if err := fx.nodeErr[in.Node.Node]; err != nil {
				return nil, err
			}
			return &redisact.VerifyRedisNodeResult{Node: in.Node.Node, Files: 1, Bytes: 1000, Checker: redisact.CheckRDB}, nil
		}).Maybe()
	if slowNodes {
		call.After(time.Hour)
	}
	fx.env.OnActivity("RecordRedisVerification", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in redisact.RecordRedisVerificationInput) (*redisact.RecordRedisVerificationResult, error) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.recorded = append(fx.recorded, in.Verification)
			return &redisact.RecordRedisVerificationResult{URL: "s3://backups/" + redisbackup.BackupFolder(in.Location, in.Cluster, in.BackupID) + "/verified.json"}, nil
		}).Maybe()
	return fx
}

func (fx *verifyFixture) run() {
	fx.env.ExecuteWorkflow(redis.VerifyName, redis.VerifyInput{Cluster: "c1", BackupLocation: "s3://backups/redis"})
}

func (fx *verifyFixture) progress(t *testing.T) redis.Progress {
	t.Helper()
	v, err := fx.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(t, err)
	var p redis.Progress
	require.NoError(t, v.Get(&p))
	return p
}

func TestVerifyChecksEveryNodeAndRecordsOK(t *testing.T) {
	fx := newVerifyFixture(t, nil, false)
	fx.run()
	require.NoError(t, fx.env.GetWorkflowError())
	var res redis.VerifyResult
	require.NoError(t, fx.env.GetWorkflowResult(&res))
	require.Equal(t, "20210901T030000.000Z", res.BackupID)
	require.Len(t, res.Nodes, 3)
	require.ElementsMatch(t, []string{"n1", "n2", "n3"}, fx.checked)
	require.Equal(t, "s3://backups/redis/c1/20210901T030000.000Z/verified.json", res.VerifiedURL)
	require.Len(t, fx.recorded, 1)
	rec := fx.recorded[0]
	require.Equal(t, backupstore.VerifiedOK, rec.Outcome)
	require.Equal(t, verifyStart, rec.At)
	require.Equal(t, 3, rec.Objects)
	require.Empty(t, rec.Problem)
	require.Contains(t, rec.Checked, "redis-check-rdb")
	p := fx.progress(t)
	require.Equal(t, workflows.StepDone, p.Step)
	for _, n := range p.Nodes {
		require.Equal(t, workflows.StepDone, n.Step, n.Node)
	}
}

func TestVerifyFailsNamingTheFirstBadNodeAndRecordsIt(t *testing.T) {
	fx := newVerifyFixture(t, nil, false)
	fx.nodeErr["n2"] = temporal.NewNonRetryableApplicationError("node n2: s3://backups/redis/c1/x/n2/dump.rdb (dump.rdb) does not match the cluster manifest: checksum mismatch", activities.ErrChecksumMismatch, nil)
	fx.nodeErr["n3"] = temporal.NewNonRetryableApplicationError("node n3: redis-check-rdb rejects dump.rdb", activities.ErrBackupCorrupt, nil)
	fx.run()
	err := fx.env.GetWorkflowError()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, activities.ErrChecksumMismatch, app.Type())
	want := "backup 20210901T030000.000Z of Redis cluster c1 is not sound: node n2: s3://backups/redis/c1/x/n2/dump.rdb (dump.rdb) does not match the cluster manifest: checksum mismatch (and 1 more node(s): n3)"
	require.Equal(t, want, app.Message())
	require.Len(t, fx.recorded, 1, "a failed verdict is recorded too")
	require.Equal(t, backupstore.VerifiedFailed, fx.recorded[0].Outcome)
	require.Equal(t, want, fx.recorded[0].Problem)
	p := fx.progress(t)
	require.Equal(t, workflows.StepFailed, p.Step)
	steps := map[string]string{}
	for _, n := range p.Nodes {
		steps[n.Node] = n.Step
	}
	require.Equal(t, map[string]string{"n1": workflows.StepDone, "n2": workflows.StepFailed, "n3": workflows.StepFailed}, steps)
}

func TestVerifyOfNoBackupReadsAndRecordsNothing(t *testing.T) {
	fx := newVerifyFixture(t, temporal.NewNonRetryableApplicationError("no complete backup of Redis cluster \"c1\"", activities.ErrInvalidInput, nil), false)
	fx.run()
	var app *temporal.ApplicationError
	require.True(t, errors.As(fx.env.GetWorkflowError(), &app))
	require.Equal(t, activities.ErrInvalidInput, app.Type())
	require.Empty(t, fx.checked)
	require.Empty(t, fx.recorded)
}

func TestVerifyCancelledRecordsNothing(t *testing.T) {
	fx := newVerifyFixture(t, nil, true)
	fx.env.RegisterDelayedCallback(fx.env.CancelWorkflow, 10*time.Minute)
	fx.run()
	var canceled *temporal.CanceledError
	require.True(t, errors.As(fx.env.GetWorkflowError(), &canceled), "%v", fx.env.GetWorkflowError())
	require.Empty(t, fx.recorded, fmt.Sprintf("a cancelled verify recorded %v", fx.recorded))
}
