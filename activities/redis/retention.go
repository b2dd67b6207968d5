package redis

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// ApplyRedisRetentionInput is one cluster's retention run under one location.
type ApplyRedisRetentionInput struct {
	Location backupstore.Location  `json:"location"`
	Cluster  string                `json:"cluster"`
	Policy   backupstore.Retention `json:"policy"`
	// Now is the run's time: backups are aged from it, so a retry decides
	// the same way.
	Now time.Time `json:"now"`
	// Protect names backups never to delete (the run's own).
	Protect []string `json:"protect,omitempty"`
}

// ApplyRedisRetentionResult is what a retention run deleted and left.
type ApplyRedisRetentionResult struct {
	Deleted []string `json:"deleted"` // backup ids
	Objects int      `json:"objects"`
	Kept    int      `json:"kept"`
	Left    []string `json:"left,omitempty"`
}

// maxRetentionNotes bounds the notes a result carries into workflow history.
const maxRetentionNotes = 20

// ApplyRedisRetention deletes the cluster's backups the policy no longer
// keeps, heartbeating per object. A retry plans again from what is left.
func (a *Clusters) ApplyRedisRetention(ctx context.Context, in ApplyRedisRetentionInput) (*ApplyRedisRetentionResult, error) {
	if err := in.Policy.Validate(); err != nil {
		return nil, activities.Invalid(err)
	}
	deleted := 0
	run, err := redisbackup.ApplyRetention(in.Location.WithRole(ctx), a.S3, in.Location, in.Cluster, in.Policy, in.Now, in.Protect, false,
		func(id, _ string) {
			deleted++
			activity.RecordHeartbeat(ctx, fmt.Sprintf("deleting backup %s: %d objects deleted", id, deleted))
		})
	if err != nil {
		return nil, fmt.Errorf("retention of Redis cluster %s under %s: %w", in.Cluster, in.Location, err)
	}
	left := run.Plan.Left
	if len(left) > maxRetentionNotes {
		left = append(left[:maxRetentionNotes:maxRetentionNotes], fmt.Sprintf("and %d more", len(run.Plan.Left)-maxRetentionNotes))
	}
	return &ApplyRedisRetentionResult{Deleted: run.Deleted, Objects: run.Objects, Kept: len(run.Plan.Keep), Left: left}, nil
}
