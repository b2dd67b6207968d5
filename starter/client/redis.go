package client

import (
	"context"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/workflows"
)

// StartRedisBackup starts a RedisBackup and waits until the request has
// been validated (cluster registered, bucket there, cluster not busy). A
// refused request returns an InvalidInputError and nothing ran.
func (c *Client) StartRedisBackup(ctx context.Context, in workflows.RedisBackupInput) (Run, error) {
	if in.Cluster == "" {
		return Run{}, &InvalidInputError{Msg: "no Redis cluster to back up"}
	}
	id := workflows.RedisBackupWorkflowID(in.Cluster, c.Now())
	format := in.Format
	if format == "" {
		format = "rdb"
	}
	summary := fmt.Sprintf("Redis backup of %s (%s) to %s", in.Cluster, format, in.BackupLocation)
	return c.start(ctx, id, workflows.RedisBackupName, summary, in)
}

// StartRedisRestore starts a RedisRestore and waits until the request has
// been validated and its backup chosen.
func (c *Client) StartRedisRestore(ctx context.Context, in workflows.RedisRestoreInput) (Run, error) {
	if in.Cluster == "" {
		return Run{}, &InvalidInputError{Msg: "no Redis cluster to restore"}
	}
	id := workflows.RedisRestoreWorkflowID(in, c.Now())
	target := in.Cluster
	if in.Node != "" {
		target += " node " + in.Node
	}
	summary := fmt.Sprintf("Redis restore of %s from %s", target, in.BackupLocation)
	if in.SourceCluster != "" && in.SourceCluster != in.Cluster {
		summary += " (backups of " + in.SourceCluster + ")"
	}
	return c.start(ctx, id, workflows.RedisRestoreName, summary, in)
}

// RedisProgress queries a Redis workflow's progress.
func (c *Client) RedisProgress(ctx context.Context, workflowID string) (*workflows.RedisProgress, error) {
	return queryProgress[workflows.RedisProgress](ctx, c, workflowID, "")
}

// WaitRedisBackup waits for a Redis backup to finish, calling onProgress
// whenever its progress changes.
func (c *Client) WaitRedisBackup(ctx context.Context, workflowID string, onProgress func(workflows.RedisProgress)) (*workflows.RedisBackupResult, error) {
	var res workflows.RedisBackupResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}

// WaitRedisRestore waits for a Redis restore to finish, calling onProgress
// whenever its progress changes.
func (c *Client) WaitRedisRestore(ctx context.Context, workflowID string, onProgress func(workflows.RedisProgress)) (*workflows.RedisRestoreResult, error) {
	var res workflows.RedisRestoreResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}
