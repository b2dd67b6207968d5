package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
)

// Activity options, named by purpose.
var (
	// shortAWSCall is one or a few AWS API calls.
	shortAWSCall = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: activities.NonRetryable,
		},
	}
	// compensation must get through: it retries for a long time.
	compensation = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    0, // unlimited, bounded by ScheduleToClose
		},
		ScheduleToCloseTimeout: 24 * time.Hour,
	}
	// longJob waits for a DynamoDB export or import, heartbeating as it polls.
	longJob = workflow.ActivityOptions{
		StartToCloseTimeout: 24 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        5 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: activities.NonRetryable,
		},
	}
	// pruning deletes a dataset's expired backups, heartbeating per object.
	// A retry re-plans from what is left, so retrying is always safe.
	pruning = workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         objectScan.RetryPolicy,
	}
	// objectScan reads every object of a backup, heartbeating per object.
	objectScan = workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        5 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        5,
			NonRetryableErrorTypes: activities.NonRetryable,
		},
	}
)

// drainOptions bounds the drain step by the workflow's drain timeout.
func drainOptions(timeout time.Duration) workflow.ActivityOptions {
	o := shortAWSCall
	o.StartToCloseTimeout = timeout + 30*time.Second
	o.HeartbeatTimeout = 30 * time.Second
	o.ScheduleToCloseTimeout = timeout + time.Minute
	return o
}

func drainTimeout(seconds int) time.Duration {
	if seconds <= 0 {
		seconds = DefaultDrainTimeoutSeconds
	}
	return time.Duration(seconds) * time.Second
}
