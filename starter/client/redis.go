package client

import (
	"context"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// StartRedisBackup starts a RedisBackup and waits until the request has
// been validated (cluster registered, bucket there, cluster not busy). A
// refused request returns an InvalidInputError and nothing ran.
func (c *Client) StartRedisBackup(ctx context.Context, in redis.BackupInput) (Run, error) {
	if err := checkRedisBackup(in); err != nil {
		return Run{}, err
	}
	id := redis.BackupWorkflowID(in.Cluster, c.Now())
	format := in.Format
	if format == "" {
		format = "rdb"
	}
	summary := fmt.Sprintf("Redis backup of %s (%s) to %s", in.Cluster, format, in.BackupLocation)
	return c.start(ctx, id, redis.BackupName, summary, in)
}

// StartRedisRestore starts a RedisRestore and waits until the request has
// been validated and its backup chosen.
func (c *Client) StartRedisRestore(ctx context.Context, in redis.RestoreInput) (Run, error) {
	if in.Cluster == "" {
		return Run{}, &InvalidInputError{Msg: "no Redis cluster to restore"}
	}
	id := redis.RestoreWorkflowID(in, c.Now())
	target := in.Cluster
	if in.Node != "" {
		target += " node " + in.Node
	}
	summary := fmt.Sprintf("Redis restore of %s from %s", target, in.BackupLocation)
	if in.SourceCluster != "" && in.SourceCluster != in.Cluster {
		summary += " (backups of " + in.SourceCluster + ")"
	}
	return c.start(ctx, id, redis.RestoreName, summary, in)
}

// RedisProgress queries a Redis workflow's progress.
func (c *Client) RedisProgress(ctx context.Context, workflowID string) (*redis.Progress, error) {
	return queryProgress[redis.Progress](ctx, c, workflowID, "")
}

// WaitRedisBackup waits for a Redis backup to finish, calling onProgress
// whenever its progress changes.
func (c *Client) WaitRedisBackup(ctx context.Context, workflowID string, onProgress func(redis.Progress)) (*redis.BackupResult, error) {
	var res redis.BackupResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}

// WaitRedisRestore waits for a Redis restore to finish, calling onProgress
// whenever its progress changes.
func (c *Client) WaitRedisRestore(ctx context.Context, workflowID string, onProgress func(redis.Progress)) (*redis.RestoreResult, error) {
	var res redis.RestoreResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}
