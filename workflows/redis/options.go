package redis

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// Activity options of the steps that run on a node's sidecar. onNode adds
// the node's task queue and how long to wait for its sidecar.
var (
	// nodeJob persists and uploads, or downloads, a node's files.
	nodeJob = workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        3,
			NonRetryableErrorTypes: activities.NonRetryable,
		},
	}
	// nodeRestart stops a node, swaps its files and starts it. Once it
	// has stopped Redis it finishes even if the workflow is cancelled, and
	// the workflow waits for it. It beats every 5 s: a sidecar killed
	// while its node is down is noticed in 15 s and the restarted sidecar
	// carries on from the journal, so the node stays down seconds, not the
	// minute a longer heartbeat timeout would cost (make chaos).
	nodeRestart = workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    15 * time.Second,
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        5,
			NonRetryableErrorTypes: activities.NonRetryable,
		},
	}
	// pruning deletes older backups under the retention policy, from any
	// worker on the main task queue; it heartbeats per object deleted.
	pruning = workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        3,
			NonRetryableErrorTypes: activities.NonRetryable,
		},
	}
	// nodeCleanup removes a node's leftovers (a staging folder).
	nodeCleanup = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	}
)

func onNode(ctx workflow.Context, n registry.RedisNode, o workflow.ActivityOptions, sidecarTimeout time.Duration) workflow.Context {
	o.TaskQueue = n.TaskQueue
	o.ScheduleToStartTimeout = sidecarTimeout
	return workflow.WithActivityOptions(ctx, o)
}

func sidecarTimeout(seconds int) time.Duration {
	if seconds <= 0 {
		seconds = DefaultSidecarTimeoutSeconds
	}
	return time.Duration(seconds) * time.Second
}
