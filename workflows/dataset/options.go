package dataset

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Activity options, named by purpose.
var (
	// longJob waits for a DynamoDB export or import, heartbeating at every
	// poll (5 s): an export or import of a large table takes hours (DynamoDB
	// documents no upper bound), so the limit is generous and a dead
	// worker is noticed by the heartbeat, in a minute.
	longJob = workflow.ActivityOptions{
		StartToCloseTimeout: 72 * time.Hour,
		HeartbeatTimeout:    time.Minute,
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
	// manifestWrite reads DynamoDB's manifests of an export and lists its
	// folder (a page per 1,000 files, heartbeating per page), then writes
	// the backup's manifest. No data is read.
	manifestWrite = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         workflows.ShortAWSCall.RetryPolicy,
	}
	// backupCheck compares a backup's data folder listing with its manifest
	// before a restore (one listing, no data read).
	backupCheck = workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy:         workflows.ShortAWSCall.RetryPolicy,
	}
	// tableSetup creates a table and turns on PITR, which DynamoDB refuses
	// for a while after a create; the activity retries inside, heartbeating.
	tableSetup = workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         workflows.ShortAWSCall.RetryPolicy,
	}
	// objectScan downloads every object of a backup (the deep check), a
	// terabyte in hours, heartbeating as it reads and resuming after the
	// last object checked.
	objectScan = workflow.ActivityOptions{
		StartToCloseTimeout: 24 * time.Hour,
		HeartbeatTimeout:    time.Minute,
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
	o := workflows.ShortAWSCall
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
