package redis_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"

	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// A copy runs after the manifest; one that fails is a warning and the
// backup stands; retention runs at the primary and at the copy that
// succeeded, not at the one that failed.
func TestRedisBackupCopies(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	var copied []redisact.CopyRedisBackupInput
	var copiedMu sync.Mutex
	fx.env.OnActivity("CopyRedisBackup", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in redisact.CopyRedisBackupInput) (*redisact.CopyRedisBackupResult, error) {
			if err := fx.fake.record(ctx, "CopyRedisBackup", in.Cluster); err != nil {
				return nil, err
			}
			copiedMu.Lock()
			copied = append(copied, in)
			copiedMu.Unlock()
			if in.Dest.Bucket == "broken-copies" {
				return nil, errors.New("S3 says no")
			}
			return &redisact.CopyRedisBackupResult{ManifestURL: "s3://" + in.Dest.Bucket + "/m", Objects: 3, Bytes: 30}, nil
		})
	calls := withRetention(fx, nil, nil)
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{
		Cluster: redisCluster, BackupLocation: "s3://backups/redis", Retention: &redis.RetentionPolicy{Count: 2},
		CopyTo: []redis.CopyDestination{
			{Location: "s3://dr-copies/redis", Access: backupstore.Access{RoleARN: "arn:aws:iam::222233334444:role/w"}},
			{Location: "s3://broken-copies/redis"},
		},
	})
	if app := fx.appErr(); app != nil {
		t.Fatalf("backup failed: %v", app)
	}
	var res redis.BackupResult
	if err := fx.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Copies) != 2 || !res.Copies[0].OK || res.Copies[1].OK || res.Copies[1].Error == "" || res.ManifestURL == "" {
		t.Fatalf("result %+v: want the backup, one copy ok and one failed", res)
	}
	// The copies run at once: find the good one's input, whatever the order.
	var dr *redisact.CopyRedisBackupInput
	for i := range copied {
		if copied[i].Dest.Bucket == "dr-copies" {
			dr = &copied[i]
		}
	}
	if len(copied) < 2 || dr == nil || dr.Dest.RoleARN == "" || dr.BackupID != res.BackupID || dr.Source.Bucket != "backups" {
		t.Errorf("copy inputs %+v", copied)
	}
	if fx.fake.index("CopyRedisBackup "+redisCluster) < fx.fake.index("WriteRedisManifest "+redisCluster) {
		t.Errorf("copied before the manifest was written: %v", fx.fake.calls)
	}
	if len(*calls) != 2 || (*calls)[1].Location.Bucket != "dr-copies" {
		t.Errorf("retention ran at %+v, want the primary and the copy that succeeded", *calls)
	}
	if p := fx.progress(); p.Step != workflows.StepDone || len(p.Warnings) != 1 {
		t.Errorf("progress %+v: want done with one warning", p)
	}
	fx.requireReleased()
}

func TestRedisBackupBadCopyRefused(t *testing.T) {
	t.Parallel()
	fx := newRedisFixture(t)
	fx.env.ExecuteWorkflow(redis.BackupName, redis.BackupInput{
		Cluster: redisCluster, BackupLocation: "s3://backups/redis", CopyTo: []redis.CopyDestination{{Location: "s3://backups/redis"}},
	})
	if app := fx.appErr(); app == nil || fx.fake.count("PlanRedisBackup") != 0 {
		t.Fatalf("copy onto the backup location: %v, calls %v; want refused before anything", app, fx.fake.calls)
	}
}
