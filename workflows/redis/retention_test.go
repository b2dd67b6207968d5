package redis_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/mock"

	"github.com/lifeboat-dev/lifeboat/activities"
	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// withRetention mocks ApplyRedisRetention: it records its input and
// answers with deleted, or fails with err.
func withRetention(fx *redisFixture, deleted []string, err error) *[]redisact.ApplyRedisRetentionInput {
	var calls []redisact.ApplyRedisRetentionInput
	fx.env.OnActivity("ApplyRedisRetention", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in redisact.ApplyRedisRetentionInput) (*redisact.ApplyRedisRetentionResult, error) {
			if rerr := fx.fake.record(ctx, "ApplyRedisRetention", in.Cluster); rerr != nil {
				return nil, rerr
			}
			calls = append(calls, in)
			if err != nil {
				return nil, err
			}
			return &redisact.ApplyRedisRetentionResult{Deleted: deleted, Kept: 2}, nil
		}).Maybe()
	return &calls
}

func TestRedisBackupRetentionAfterManifest(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	calls := withRetention(fx, []string{"20210801T030000.000Z"}, nil)
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{
		Cluster: redisCluster, BackupLocation: "s3://backups/redis", Retention: &redis.RetentionPolicy{Count: 2},
	})
	if app := fx.appErr(); app != nil {
		t.Fatalf("backup failed: %v", app)
	}
	var res redis.BackupResult
	if err := fx.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(*calls) != 1 {
		t.Fatalf("retention ran %d times, want once", len(*calls))
	}
	in := (*calls)[0]
	if in.Policy != (backupstore.Retention{Count: 2}) || !slices.Equal(in.Protect, []string{res.BackupID}) ||
		in.Location != (backupstore.Location{Bucket: "backups", Prefix: "redis"}) || in.Now.IsZero() {
		t.Errorf("retention input %+v: want count 2 protecting %s", in, res.BackupID)
	}
	if fx.fake.index("ApplyRedisRetention "+redisCluster) < fx.fake.index("WriteRedisManifest "+redisCluster) {
		t.Errorf("retention ran before the manifest was written: %v", fx.fake.calls)
	}
	if i, r := fx.fake.index("ApplyRedisRetention "+redisCluster), fx.fake.index("ReleaseRedisCluster "+redisCluster); r >= 0 && r < i {
		t.Errorf("the cluster was released before retention ran: %v", fx.fake.calls)
	}
	if !slices.Equal(res.Pruned, []string{"20210801T030000.000Z"}) || res.RetentionWarning != "" {
		t.Errorf("result %+v", res)
	}
	fx.requireReleased()
}

func TestRedisBackupRetentionFailureKeepsTheBackup(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	withRetention(fx, nil, errors.New("S3 says no"))
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{
		Cluster: redisCluster, BackupLocation: "s3://backups/redis", Retention: &redis.RetentionPolicy{Days: 7},
	})
	if app := fx.appErr(); app != nil {
		t.Fatalf("a failed retention step failed the backup: %v", app)
	}
	var res redis.BackupResult
	if err := fx.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.RetentionWarning == "" || res.ManifestURL == "" || fx.fake.count("DiscardRedisBackup") != 0 {
		t.Errorf("result %+v (discards %d): want the backup with a retention warning", res, fx.fake.count("DiscardRedisBackup"))
	}
	if p := fx.progress(); p.Step != workflows.StepDone || len(p.Warnings) != 1 {
		t.Errorf("progress %+v: want done with one warning", p)
	}
	fx.requireReleased()
}

func TestRedisBackupBadRetentionRefused(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	calls := withRetention(fx, nil, nil)
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{
		Cluster: redisCluster, BackupLocation: "s3://backups/redis", Retention: &redis.RetentionPolicy{},
	})
	app := fx.appErr()
	if app == nil || app.Type() != activities.ErrInvalidInput {
		t.Fatalf("empty retention policy: %v, want InvalidInput", app)
	}
	if fx.fake.count("PlanRedisBackup") != 0 || fx.fake.count("BackupNode") != 0 || len(*calls) != 0 {
		t.Errorf("refused run did work: %v", fx.fake.calls)
	}
}

func TestRedisBackupWithoutRetentionPrunesNothing(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	calls := withRetention(fx, nil, nil)
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{Cluster: redisCluster, BackupLocation: "s3://backups/redis"})
	if app := fx.appErr(); app != nil || len(*calls) != 0 {
		t.Errorf("backup without retention: %v, retention calls %d", app, len(*calls))
	}
}

func TestRedisBackupFailedRunPrunesNothing(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	calls := withRetention(fx, nil, nil)
	fx.fake.failing["BackupNode n2"] = errors.New("disk full")
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{
		Cluster: redisCluster, BackupLocation: "s3://backups/redis", Retention: &redis.RetentionPolicy{Count: 1},
	})
	if app := fx.appErr(); app == nil || len(*calls) != 0 {
		t.Errorf("failed backup: error %v, retention calls %d; want a failure and no retention", app, len(*calls))
	}
}
