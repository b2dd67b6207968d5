package client

import (
	"context"
	"fmt"
	"time"

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
	v, err := c.Temporal.QueryWorkflow(ctx, workflowID, "", workflows.ProgressQuery)
	if err != nil {
		return nil, fmt.Errorf("query progress of %s: %w", workflowID, err)
	}
	var p workflows.RedisProgress
	if err := v.Get(&p); err != nil {
		return nil, fmt.Errorf("decode progress of %s: %w", workflowID, err)
	}
	return &p, nil
}

// WaitRedisBackup waits for a Redis backup to finish, calling onProgress
// whenever its progress changes.
func (c *Client) WaitRedisBackup(ctx context.Context, workflowID string, onProgress func(workflows.RedisProgress)) (*workflows.RedisBackupResult, error) {
	var res workflows.RedisBackupResult
	if err := c.waitRedis(ctx, workflowID, onProgress, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// WaitRedisRestore waits for a Redis restore to finish, calling onProgress
// whenever its progress changes.
func (c *Client) WaitRedisRestore(ctx context.Context, workflowID string, onProgress func(workflows.RedisProgress)) (*workflows.RedisRestoreResult, error) {
	var res workflows.RedisRestoreResult
	if err := c.waitRedis(ctx, workflowID, onProgress, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func (c *Client) waitRedis(ctx context.Context, workflowID string, onProgress func(workflows.RedisProgress), out any) error {
	run := c.Temporal.GetWorkflow(ctx, workflowID, "")
	done := make(chan error, 1)
	go func() { done <- run.Get(ctx, out) }()
	last := ""
	poll := c.PollInterval
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	report := func() {
		if onProgress == nil {
			return
		}
		if p, err := c.RedisProgress(ctx, workflowID); err == nil {
			if key := fmt.Sprintf("%+v", *p); key != last {
				last = key
				onProgress(*p)
			}
		}
	}
	for {
		select {
		case err := <-done:
			report()
			return Explain(workflowID, err)
		case <-tick.C:
			report()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
