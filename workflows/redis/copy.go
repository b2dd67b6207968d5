package redis

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// copyToVersion guards the copy step (--copy-to).
const copyToVersion = "copy-to"

// copying streams a backup to another location, heartbeating every few
// seconds; a retry skips the files already copied.
var copying = workflow.ActivityOptions{
	StartToCloseTimeout: 24 * time.Hour,
	HeartbeatTimeout:    time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        2 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		MaximumAttempts:        5,
		NonRetryableErrorTypes: activities.NonRetryable,
	},
}

// CopyDests parses the copy destinations: the first bad one, or one that
// is the backup location itself, is an error. The CLI checks it before
// starting a run, the workflow again for runs started otherwise.
func (in BackupInput) CopyDests() ([]backupstore.Location, error) {
	var out []backupstore.Location
	for _, c := range in.CopyTo {
		loc, err := c.Parse()
		if err != nil {
			return nil, fmt.Errorf("copy destination %q: %w", c.Location, err)
		}
		if src, err := backupstore.ParseLocation(in.BackupLocation); err == nil && src.Bucket == loc.Bucket && src.Prefix == loc.Prefix {
			return nil, fmt.Errorf("copy destination %s is the backup location itself", c.Location)
		}
		out = append(out, loc)
	}
	return out, nil
}

// copyAll copies the complete backup to every CopyTo location at once. A
// failed copy is a warning in the result and the progress and counts as a
// failure of the copying step: the backup at its primary location is
// complete and stays the run's result (a copy is a second line of defence).
func copyAll(ctx workflow.Context, in BackupInput, source backupstore.Location, dests []backupstore.Location, res *BackupResult, p *Progress) {
	actx := workflow.WithActivityOptions(ctx, copying)
	futures := make([]workflow.Future, len(dests))
	for i, d := range dests {
		futures[i] = workflow.ExecuteActivity(actx, redisCopies.CopyRedisBackup, redisact.CopyRedisBackupInput{
			Source: source, Dest: d, Cluster: res.Cluster, BackupID: res.BackupID, AllowUnversioned: in.AllowUnversioned,
		})
	}
	for i, f := range futures {
		row := CopyRow{Location: dests[i].String(), dest: dests[i]}
		var out redisact.CopyRedisBackupResult
		if err := f.Get(ctx, &out); err != nil {
			row.Error = err.Error()
			msg := fmt.Sprintf("copy to %s failed, the backup stands at its location: %s", row.Location, row.Error)
			p.Warnings = append(p.Warnings, msg)
			workflows.CountFailure(ctx, p.Operation, StepCopying) // the run succeeds: alert on the metric
			workflow.GetLogger(ctx).Warn("Copy failed; the backup stands", "cluster", res.Cluster, "to", row.Location, "error", row.Error)
		} else {
			row.OK, row.ManifestURL, row.Objects, row.Bytes = true, out.ManifestURL, out.Objects, out.Bytes
		}
		res.Copies = append(res.Copies, row)
	}
}

// pruneCopies runs retention at every location a copy succeeded at, as at
// the primary: each location keeps its own history of backups.
func pruneCopies(ctx workflow.Context, cluster string, policy RetentionPolicy, res *BackupResult, p *Progress) {
	actx := workflow.WithActivityOptions(ctx, pruning)
	now := workflow.Now(ctx)
	futures := make([]workflow.Future, len(res.Copies))
	for i, row := range res.Copies {
		if row.OK {
			futures[i] = workflow.ExecuteActivity(actx, redisClusters.ApplyRedisRetention, redisact.ApplyRedisRetentionInput{
				Location: row.dest, Cluster: cluster, Policy: policy.Rules(), Now: now, Protect: []string{res.BackupID},
			})
		}
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		row := &res.Copies[i]
		var pruned redisact.ApplyRedisRetentionResult
		if err := f.Get(ctx, &pruned); err != nil {
			row.RetentionWarning = "retention failed, older backups not pruned: " + err.Error()
			p.Warnings = append(p.Warnings, "at "+row.Location+": "+row.RetentionWarning)
			workflows.CountFailure(ctx, p.Operation, StepPruning)
			continue
		}
		row.Pruned = pruned.Deleted
	}
}

// copyTargets are the copy destinations as the plan checks them.
func copyTargets(cs []CopyDestination) []redisact.CopyTarget {
	var out []redisact.CopyTarget
	for _, c := range cs {
		out = append(out, redisact.CopyTarget{Location: c.Location, Access: c.Access})
	}
	return out
}
