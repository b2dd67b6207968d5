package client

import (
	"context"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// StartRedisRestoreTest starts a RedisRestoreTest and waits until it has
// found the backup to test. A missing bucket, backup or node returns an
// InvalidInputError; nothing was started on a worker.
func (c *Client) StartRedisRestoreTest(ctx context.Context, in redis.RestoreTestInput) (Run, error) {
	if in.Cluster == "" || in.BackupLocation == "" {
		return Run{}, &InvalidInputError{Msg: "a Redis restore test needs a cluster id and a backup location"}
	}
	id := redis.RestoreTestWorkflowID(in, c.Now())
	return c.start(ctx, id, redis.RestoreTestName, redisRestoreTestSummary(in), in)
}

func redisRestoreTestSummary(in redis.RestoreTestInput) string {
	which := "the latest backup"
	if in.BackupID != "" {
		which = "backup " + in.BackupID
	}
	return fmt.Sprintf("restore test of %s of Redis cluster %s under %s into scratch nodes", which, in.Cluster, in.BackupLocation)
}

// WaitRedisRestoreTest waits for a Redis restore test to finish, calling
// onProgress whenever its progress changes. A backup that does not restore
// returns a WorkflowFailedError (RedisRestoreTestFailed, ChecksumMismatch,
// BackupCorrupt or RedisServerMissing) whose message names the node and
// what went wrong.
func (c *Client) WaitRedisRestoreTest(ctx context.Context, workflowID string, onProgress func(redis.Progress)) (*redis.RestoreTestResult, error) {
	var res redis.RestoreTestResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}

// CreateRedisRestoreTestSchedule creates a Temporal Schedule that starts a
// RedisRestoreTest of in on s's timetable: each run tests the newest backup
// at that time (in.BackupID and in.Date are refused: a schedule that tests
// the same backup forever proves nothing new).
func (c *Client) CreateRedisRestoreTestSchedule(ctx context.Context, s Schedule, in redis.RestoreTestInput) error {
	if in.Cluster == "" || in.BackupLocation == "" {
		return &InvalidInputError{Msg: "a Redis restore test needs a cluster id and a backup location"}
	}
	if in.BackupID != "" || in.Date != "" {
		return &InvalidInputError{Msg: "a scheduled Redis restore test tests the newest backup of each run: no backup id or date"}
	}
	return c.createSchedule(ctx, s, redis.RestoreTestName, "redis-restore-test", "scheduled "+redisRestoreTestSummary(in), in)
}
