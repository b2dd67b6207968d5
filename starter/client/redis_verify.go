package client

import (
	"context"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// StartRedisVerify starts a RedisVerify and waits until it has found the
// backup to check. A missing bucket or backup returns an InvalidInputError;
// nothing was read.
func (c *Client) StartRedisVerify(ctx context.Context, in redis.VerifyInput) (Run, error) {
	if in.Cluster == "" || in.BackupLocation == "" {
		return Run{}, &InvalidInputError{Msg: "a Redis verify needs a cluster id and a backup location"}
	}
	id := redis.VerifyWorkflowID(in, c.Now())
	summary := fmt.Sprintf("verify backup of Redis cluster %s under %s", in.Cluster, in.BackupLocation)
	if in.BackupID != "" {
		summary = fmt.Sprintf("verify backup %s of Redis cluster %s under %s", in.BackupID, in.Cluster, in.BackupLocation)
	}
	return c.start(ctx, id, redis.VerifyName, summary, in)
}

// WaitRedisVerify waits for a Redis verify to finish, calling onProgress
// whenever its progress changes. A backup that is not sound returns a
// WorkflowFailedError (ChecksumMismatch, BackupCorrupt or
// RedisCheckerMissing) whose message names the node, the file and what is
// wrong.
func (c *Client) WaitRedisVerify(ctx context.Context, workflowID string, onProgress func(redis.Progress)) (*redis.VerifyResult, error) {
	var res redis.VerifyResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}
