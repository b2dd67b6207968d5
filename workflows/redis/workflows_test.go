package redis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// The Redis workflows run against redisFake: mocked activities that record
// every call (and the task queue it was routed to) and keep the cluster's
// hold, so the tests assert on what a run did and left behind.

const redisCluster = "c1"

var redisNodes = []registry.RedisNode{
	{ID: "n1", Addr: "10.0.0.1:6379", TaskQueue: "lifeboat-redis-n1"},
	{ID: "n2", Addr: "10.0.0.2:6379", TaskQueue: "lifeboat-redis-n2"},
	{ID: "n3", Addr: "10.0.0.3:6379", TaskQueue: "lifeboat-redis-n3"},
}

type redisFake struct {
	mu    sync.Mutex
	calls []string // "<activity> <node or cluster>", in completion order
	// queues is the task queue each node activity ran on, by call.
	queues   map[string]string
	heldBy   string
	failing  map[string]error // by "<activity>" or "<activity> <node>"
	manifest *redisact.WriteRedisManifestInput
	restored []string // nodes RestoreNode succeeded on
}

func newRedisFake() *redisFake {
	return &redisFake{queues: map[string]string{}, failing: map[string]error{}}
}

func (f *redisFake) record(ctx context.Context, act, subject string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := act + " " + subject
	f.calls = append(f.calls, call)
	if q := activity.GetInfo(ctx).TaskQueue; q != "" {
		f.queues[call] = q
	}
	if err := f.failing[call]; err != nil {
		return err
	}
	return f.failing[act]
}

func (f *redisFake) count(act string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, act+" ") {
			n++
		}
	}
	return n
}

func (f *redisFake) index(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Index(f.calls, call)
}

func (f *redisFake) handlers() map[string]any {
	loc := backupstore.Location{Bucket: "backups", Prefix: "redis"}
	source := func(n string) redisbackup.Node {
		return redisbackup.Node{Node: n, Keys: 100, MinKeys: 100, MaxKeys: 100, Bytes: 1000,
			Files: []redisbackup.File{{Name: "dump.rdb", Role: redisbackup.RoleRDB, Key: "redis/c1/x/" + n + "/dump.rdb", Size: 1000}}}
	}
	return map[string]any{
		"PlanRedisBackup": func(ctx context.Context, in redisact.BackupPlanInput) (*redisact.BackupPlan, error) {
			if err := f.record(ctx, "PlanRedisBackup", in.Cluster); err != nil {
				return nil, err
			}
			return &redisact.BackupPlan{Cluster: in.Cluster, Nodes: redisNodes, Location: loc, Format: in.Format}, nil
		},
		"PlanRedisRestore": func(ctx context.Context, in redisact.RestorePlanInput) (*redisact.RestorePlan, error) {
			if err := f.record(ctx, "PlanRedisRestore", in.Cluster); err != nil {
				return nil, err
			}
			plan := &redisact.RestorePlan{Cluster: in.Cluster, SourceCluster: in.Cluster, BackupID: "20210901T030000.000Z",
				Persistence: redisbackup.FormatRDB, Location: loc}
			for _, n := range redisNodes {
				if in.Node == "" || in.Node == n.ID {
					plan.Targets = append(plan.Targets, redisact.RestoreTarget{Node: n, Source: source(n.ID)})
				}
			}
			return plan, nil
		},
		"HoldRedisCluster": func(ctx context.Context, in redisact.HoldInput) (*redisact.HoldResult, error) {
			if err := f.record(ctx, "HoldRedisCluster", in.Cluster); err != nil {
				return nil, err
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.heldBy != "" && f.heldBy != in.Holder {
				return nil, temporal.NewNonRetryableApplicationError("held by "+f.heldBy, activities.ErrRedisClusterHeld, nil)
			}
			f.heldBy = in.Holder
			return &redisact.HoldResult{Changed: true}, nil
		},
		"ReleaseRedisCluster": func(ctx context.Context, in redisact.HoldInput) (*redisact.HoldResult, error) {
			if err := f.record(ctx, "ReleaseRedisCluster", in.Cluster); err != nil {
				return nil, err
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.heldBy != in.Holder {
				return &redisact.HoldResult{}, nil
			}
			f.heldBy = ""
			return &redisact.HoldResult{Changed: true}, nil
		},
		"BackupNode": func(ctx context.Context, in redisact.NodeBackupInput) (*redisact.NodeBackupResult, error) {
			if err := f.record(ctx, "BackupNode", in.Node); err != nil {
				return nil, err
			}
			n := source(in.Node)
			n.Files[0].Key = in.Folder + "/dump.rdb"
			return &redisact.NodeBackupResult{Node: n}, nil
		},
		"WriteRedisManifest": func(ctx context.Context, in redisact.WriteRedisManifestInput) (*redisact.WriteRedisManifestResult, error) {
			if err := f.record(ctx, "WriteRedisManifest", in.Cluster); err != nil {
				return nil, err
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			f.manifest = &in
			return &redisact.WriteRedisManifestResult{ManifestURL: "s3://backups/" + redisbackup.ManifestKey(in.Location, in.Cluster, in.BackupID),
				Keys: int64(100 * len(in.Nodes)), Bytes: int64(1000 * len(in.Nodes))}, nil
		},
		"DiscardRedisBackup": func(ctx context.Context, in redisact.DiscardRedisBackupInput) (*redisact.DiscardRedisBackupResult, error) {
			return &redisact.DiscardRedisBackupResult{}, f.record(ctx, "DiscardRedisBackup", in.BackupID)
		},
		"StageNodeRestore": func(ctx context.Context, in redisact.NodeStageInput) (*redisact.NodeStageResult, error) {
			if err := f.record(ctx, "StageNodeRestore", in.Node); err != nil {
				return nil, err
			}
			return &redisact.NodeStageResult{StagingDir: "/data/.lifeboat-restore-x", Target: "dump.rdb", Bytes: 1000}, nil
		},
		"RestoreNode": func(ctx context.Context, in redisact.NodeRestoreInput) (*redisact.NodeRestoreResult, error) {
			if err := f.record(ctx, "RestoreNode", in.Node); err != nil {
				return nil, err
			}
			f.mu.Lock()
			f.restored = append(f.restored, in.Node)
			f.mu.Unlock()
			return &redisact.NodeRestoreResult{Node: in.Node, Keys: in.MaxKeys, DownMillis: 500}, nil
		},
		"DiscardNodeRestore": func(ctx context.Context, in redisact.NodeDiscardInput) (*redisact.NodeDiscardResult, error) {
			return &redisact.NodeDiscardResult{Removed: true}, f.record(ctx, "DiscardNodeRestore", in.Node)
		},
	}
}

type redisFixture struct {
	t    *testing.T
	env  *testsuite.TestWorkflowEnvironment
	fake *redisFake
}

// newRedisFixture mocks every activity with the fake; those named in slow
// take an hour of workflow time.
func newRedisFixture(t *testing.T, slow ...string) *redisFixture {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(time.Date(2021, 9, 1, 3, 0, 0, 0, time.UTC))
	env.RegisterWorkflowWithOptions(redis.Backup, workflow.RegisterOptions{Name: redis.BackupName})
	env.RegisterWorkflowWithOptions(redis.Restore, workflow.RegisterOptions{Name: redis.RestoreName})
	env.RegisterActivity(&redisact.Node{})
	env.RegisterActivity(&redisact.Clusters{})
	env.RegisterActivity(&redisact.Copies{})
	fx := &redisFixture{t: t, env: env, fake: newRedisFake()}
	for name, fn := range fx.fake.handlers() {
		call := env.OnActivity(name, mock.Anything, mock.Anything).Return(fn).Maybe()
		if slices.Contains(slow, name) {
			call.After(time.Hour)
		}
	}
	return fx
}

// err returns the workflow's error as an application error (nil if none).
func (fx *redisFixture) appErr() *temporal.ApplicationError {
	fx.t.Helper()
	if !fx.env.IsWorkflowCompleted() {
		fx.t.Fatal("workflow did not complete")
	}
	err := fx.env.GetWorkflowError()
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		fx.t.Fatalf("workflow error %T: %v, want an application error", err, err)
	}
	return app
}

func (fx *redisFixture) requireReleased() {
	fx.t.Helper()
	if fx.fake.heldBy != "" {
		fx.t.Errorf("cluster still held by %s", fx.fake.heldBy)
	}
	if fx.fake.count("ReleaseRedisCluster") == 0 {
		fx.t.Error("the cluster hold was never released")
	}
}

func (fx *redisFixture) progress() redis.Progress {
	fx.t.Helper()
	v, err := fx.env.QueryWorkflow(workflows.ProgressQuery)
	if err != nil {
		fx.t.Fatalf("query progress: %v", err)
	}
	var p redis.Progress
	if err := v.Get(&p); err != nil {
		fx.t.Fatal(err)
	}
	return p
}

func TestRedisBackupAllNodesThenManifest(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{
		Cluster: redisCluster, BackupLocation: "s3://backups/redis", Format: redisbackup.FormatAOF,
	})
	if app := fx.appErr(); app != nil {
		t.Fatalf("backup failed: %v", app)
	}
	var res redis.BackupResult
	if err := fx.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.BackupID != "20210901T030000.000Z" || res.Format != redisbackup.FormatAOF || len(res.Nodes) != 3 || res.Keys != 300 {
		t.Errorf("result %+v", res)
	}
	for _, n := range redisNodes {
		if q := fx.fake.queues["BackupNode "+n.ID]; q != n.TaskQueue {
			t.Errorf("node %s backed up on task queue %q, want its own %q", n.ID, q, n.TaskQueue)
		}
		if fx.fake.index("BackupNode "+n.ID) > fx.fake.index("WriteRedisManifest "+redisCluster) {
			t.Errorf("manifest written before node %s finished", n.ID)
		}
	}
	m := fx.fake.manifest
	if m == nil || len(m.Nodes) != 3 || m.Nodes[0].Node != "n1" || m.Nodes[2].Node != "n3" || m.Format != redisbackup.FormatAOF ||
		!strings.HasPrefix(m.Nodes[1].Files[0].Key, "redis/c1/20210901T030000.000Z/n2/") {
		t.Errorf("manifest input %+v", m)
	}
	if fx.fake.count("DiscardRedisBackup") != 0 {
		t.Error("a complete backup was discarded")
	}
	fx.requireReleased()
	if p := fx.progress(); p.Step != workflows.StepDone || !p.Validated || p.Nodes[1].Step != workflows.StepDone {
		t.Errorf("progress %+v", p)
	}
}

func TestRedisBackupNodeFailureWritesNoManifest(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	fx.fake.failing["BackupNode n2"] = temporal.NewNonRetryableApplicationError(
		"node n2 (10.0.0.2:6379): BGSAVE failed (rdb_last_bgsave_status:err): see the Redis log", activities.ErrRedisNodeFailed, nil)
	fx.fake.failing["BackupNode n3"] = temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil)
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{Cluster: redisCluster, BackupLocation: "s3://backups/redis", SidecarTimeoutSeconds: 5})
	app := fx.appErr()
	if app == nil {
		t.Fatal("backup succeeded with failing nodes")
	}
	for _, want := range []string{
		"failed on nodes n2, n3:", "node n2 (10.0.0.2:6379): BGSAVE failed",
		"node n3: no sidecar picked up its work from task queue lifeboat-redis-n3 within 5s", "no manifest was written",
	} {
		if !strings.Contains(app.Message(), want) {
			t.Errorf("error %q does not say %q", app.Message(), want)
		}
	}
	if app.Type() != activities.ErrRedisNodeFailed {
		t.Errorf("error type %s", app.Type())
	}
	var failed []string
	if err := app.Details(&failed); err != nil || !slices.Equal(failed, []string{"n2", "n3"}) {
		t.Errorf("error details %v, %v", failed, err)
	}
	if fx.fake.count("WriteRedisManifest") != 0 {
		t.Error("manifest written for a failed backup")
	}
	if fx.fake.count("DiscardRedisBackup") != 1 {
		t.Error("the failed backup's files were not discarded")
	}
	fx.requireReleased()
	p := fx.progress()
	if p.Step != workflows.StepFailed || p.Nodes[0].Step != redis.StepUploaded || p.Nodes[1].Step != workflows.StepFailed {
		t.Errorf("progress %+v", p)
	}
}

func TestRedisBackupSameReasonKeepsErrorType(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	fx.fake.failing["BackupNode"] = temporal.NewNonRetryableApplicationError(
		"runs with appendonly no: an AOF backup needs appendonly yes", activities.ErrInvalidInput, nil)
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{Cluster: redisCluster, BackupLocation: "s3://b/r", Format: "aof"})
	app := fx.appErr()
	if app == nil || app.Type() != activities.ErrInvalidInput || !strings.Contains(app.Message(), "failed on nodes n1, n2, n3: node n1: runs with appendonly no") {
		t.Fatalf("error %v", app)
	}
}

func TestRedisBackupHeldClusterRunsNothing(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	fx.fake.heldBy = "redis-restore-c1-other"
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{Cluster: redisCluster, BackupLocation: "s3://b/r"})
	app := fx.appErr()
	if app == nil || app.Type() != activities.ErrRedisClusterHeld {
		t.Fatalf("error %v, want %s", app, activities.ErrRedisClusterHeld)
	}
	if fx.fake.count("BackupNode") != 0 || fx.fake.count("WriteRedisManifest") != 0 {
		t.Errorf("a held cluster was backed up: %v", fx.fake.calls)
	}
	if fx.fake.heldBy != "redis-restore-c1-other" {
		t.Errorf("the other run's hold was released")
	}
	if fx.progress().Validated {
		t.Error("a refused backup reports validated")
	}
}

func TestRedisBackupCancelledReleasesAndDiscards(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t, "BackupNode")
	fx.env.RegisterDelayedCallback(fx.env.CancelWorkflow, time.Minute)
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{Cluster: redisCluster, BackupLocation: "s3://b/r"})
	if !fx.env.IsWorkflowCompleted() {
		t.Fatal("not completed")
	}
	var canceled *temporal.CanceledError
	if err := fx.env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("error %v, want canceled", err)
	}
	if fx.fake.count("WriteRedisManifest") != 0 || fx.fake.count("DiscardRedisBackup") != 1 {
		t.Errorf("calls %v", fx.fake.calls)
	}
	fx.requireReleased()
}

func TestRedisRestoreStagesEveryNodeBeforeStopping(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	fx.env.ExecuteWorkflow(redis.RestoreName, redis.RestoreInput{Cluster: redisCluster, BackupLocation: "s3://backups/redis"})
	if app := fx.appErr(); app != nil {
		t.Fatalf("restore failed: %v", app)
	}
	var res redis.RestoreResult
	if err := fx.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.BackupID != "20210901T030000.000Z" || len(res.Nodes) != 3 || res.Nodes[2].Node != "n3" || res.Nodes[2].Keys != 100 {
		t.Errorf("result %+v", res)
	}
	lastStage, firstRestore := 0, len(fx.fake.calls)
	for _, n := range redisNodes {
		lastStage = max(lastStage, fx.fake.index("StageNodeRestore "+n.ID))
		firstRestore = min(firstRestore, fx.fake.index("RestoreNode "+n.ID))
		for _, act := range []string{"StageNodeRestore", "RestoreNode", "DiscardNodeRestore"} {
			if q := fx.fake.queues[act+" "+n.ID]; q != n.TaskQueue {
				t.Errorf("%s of node %s ran on %q, want %q", act, n.ID, q, n.TaskQueue)
			}
		}
	}
	if lastStage > firstRestore {
		t.Errorf("a node was stopped before every node had its files checked: %v", fx.fake.calls)
	}
	if fx.fake.count("DiscardNodeRestore") != 3 {
		t.Errorf("staging folders not removed: %v", fx.fake.calls)
	}
	fx.requireReleased()
}

func TestRedisRestoreChecksumMismatchStopsNothing(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	fx.fake.failing["StageNodeRestore n2"] = temporal.NewNonRetryableApplicationError(
		"node n2 (10.0.0.2:6379): s3://backups/redis/c1/x/n2/dump.rdb ... does not match the cluster manifest", activities.ErrChecksumMismatch, nil)
	fx.env.ExecuteWorkflow(redis.RestoreName, redis.RestoreInput{Cluster: redisCluster, BackupLocation: "s3://backups/redis"})
	app := fx.appErr()
	if app == nil || app.Type() != activities.ErrChecksumMismatch {
		t.Fatalf("error %v, want %s", app, activities.ErrChecksumMismatch)
	}
	if !strings.Contains(app.Message(), "failed on node n2: node n2 (10.0.0.2:6379): s3://") || !strings.Contains(app.Message(), "Redis was not stopped on any node") {
		t.Errorf("message %q", app.Message())
	}
	if fx.fake.count("RestoreNode") != 0 {
		t.Errorf("a node was stopped although a download was corrupt: %v", fx.fake.calls)
	}
	if fx.fake.count("DiscardNodeRestore") != 3 {
		t.Errorf("staging folders not removed: %v", fx.fake.calls)
	}
	fx.requireReleased()
}

func TestRedisRestoreNodeRolledBackIsNamed(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	fx.fake.failing["RestoreNode n3"] = temporal.NewNonRetryableApplicationError(
		"node n3 (10.0.0.3:6379): did not come back on backup 20210901T030000.000Z (of node n3): it holds 7 keys, the backup has 100; it was put back on its old data (90 keys)",
		activities.ErrRedisNodeFailed, nil)
	fx.env.ExecuteWorkflow(redis.RestoreName, redis.RestoreInput{Cluster: redisCluster, BackupLocation: "s3://backups/redis"})
	app := fx.appErr()
	if app == nil {
		t.Fatal("restore succeeded")
	}
	for _, want := range []string{"failed on node n3: node n3 (10.0.0.3:6379): did not come back", "put back on its old data", "restored: n1, n2"} {
		if !strings.Contains(app.Message(), want) {
			t.Errorf("message %q does not say %q", app.Message(), want)
		}
	}
	slices.Sort(fx.fake.restored)
	if !slices.Equal(fx.fake.restored, []string{"n1", "n2"}) {
		t.Errorf("restored %v", fx.fake.restored)
	}
	fx.requireReleased()
}

func TestRedisRestoreOneNode(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	fx.env.ExecuteWorkflow(redis.RestoreName, redis.RestoreInput{Cluster: redisCluster, Node: "n2", BackupLocation: "s3://backups/redis"})
	if app := fx.appErr(); app != nil {
		t.Fatal(app)
	}
	for _, act := range []string{"StageNodeRestore", "RestoreNode"} {
		if fx.fake.count(act) != 1 || fx.fake.index(act+" n2") < 0 {
			t.Errorf("%s calls: %v", act, fx.fake.calls)
		}
	}
}

func TestRedisRestoreCancelledWhileDownloading(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t, "StageNodeRestore")
	fx.env.RegisterDelayedCallback(fx.env.CancelWorkflow, time.Minute)
	fx.env.ExecuteWorkflow(redis.RestoreName, redis.RestoreInput{Cluster: redisCluster, BackupLocation: "s3://backups/redis"})
	var canceled *temporal.CanceledError
	if err := fx.env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("error %v, want canceled", err)
	}
	if fx.fake.count("RestoreNode") != 0 {
		t.Errorf("a node was stopped after cancellation: %v", fx.fake.calls)
	}
	if fx.fake.count("DiscardNodeRestore") != 3 {
		t.Errorf("staging folders not removed: %v", fx.fake.calls)
	}
	fx.requireReleased()
}

func TestRedisWorkflowIDs(t *testing.T) {
	t.Parallel()
	now := time.Date(2021, 9, 1, 12, 0, 0, 5e6, time.UTC)
	for got, want := range map[string]string{
		redis.BackupWorkflowID("c1", now):                                           "redis-backup-c1-20210901T120000.005Z",
		redis.RestoreWorkflowID(redis.RestoreInput{Cluster: "c1"}, now):             "redis-restore-c1-20210901T120000.005Z",
		redis.RestoreWorkflowID(redis.RestoreInput{Cluster: "c1", Node: "n2"}, now): "redis-restore-c1-n2-20210901T120000.005Z",
	} {
		if got != want {
			t.Errorf("workflow id %s, want %s", got, want)
		}
	}
	p := redis.Progress{Status: workflows.Status{Operation: "redis-backup", Step: redis.StepBackingUp}, Cluster: "c1",
		Nodes: []redis.NodeProgress{{Node: "n1", Step: workflows.StepDone}, {Node: "n2", Step: redis.StepBackingUp}}}
	if s := p.Summary(); s != "redis-backup c1: backing-up, 1 of 2 nodes done" {
		t.Errorf("summary %q", s)
	}
}
