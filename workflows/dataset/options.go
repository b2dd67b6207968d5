package dataset

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Activity options, named by purpose.
//
// Activities that run while writes are paused (pause, drain, import, empty
// tables, switch, resume) notice a dead worker in seconds, not minutes: the
// one-call steps have a start-to-close of pausedCallTimeout, the longer ones
// heartbeat every activities.HeartbeatInPause against a heartbeat timeout of
// pausedHeartbeatTimeout, and every retry starts a second later on any
// worker. Their start-to-close stays sized for AWS at terabyte scale.
var (
	// holdCall is one conditional update of the control table inside the
	// pause (Pause, SwitchStore): a task lost with its worker is retried on
	// another after pausedCallTimeout.
	holdCall = workflow.ActivityOptions{
		StartToCloseTimeout: pausedCallTimeout,
		RetryPolicy:         workflows.ShortAWSCall.RetryPolicy,
	}
	// resumeCall is the compensation that ends a pause (Resume, and
	// FailStore after it): short attempts, retried on any worker until they
	// get through.
	resumeCall = workflow.ActivityOptions{
		StartToCloseTimeout:    pausedCallTimeout,
		RetryPolicy:            workflows.Compensation.RetryPolicy,
		ScheduleToCloseTimeout: workflows.Compensation.ScheduleToCloseTimeout,
	}
	// importStart starts an import inside the pause (one to three calls),
	// heartbeating so that a dead worker is noticed in seconds while a slow
	// answer from AWS still gets a minute.
	importStart = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    pausedHeartbeatTimeout,
		RetryPolicy:         workflows.ShortAWSCall.RetryPolicy,
	}
	// planCall checks a request before anything is paused (ValidateBackup,
	// ValidateRestore): a few calls per dataset, so minutes for the widest
	// request; it heartbeats every few seconds, so a dead worker costs
	// seconds.
	planCall = workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         workflows.ShortAWSCall.RetryPolicy,
	}
	// longJob waits for a DynamoDB export or import, heartbeating every few
	// seconds: an export or import of a large table takes hours (DynamoDB
	// documents no upper bound), so the limit is generous, and a dead
	// worker is noticed by the heartbeat in seconds (an import runs inside
	// the pause).
	longJob = workflow.ActivityOptions{
		StartToCloseTimeout: 72 * time.Hour,
		HeartbeatTimeout:    pausedHeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
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
	// copying streams a backup to another location, heartbeating every few
	// seconds; a retry skips the objects already copied.
	copying = workflow.ActivityOptions{
		StartToCloseTimeout: 24 * time.Hour,
		HeartbeatTimeout:    time.Minute,
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
	// It runs inside a restore's pause.
	tableSetup = workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		HeartbeatTimeout:    pausedHeartbeatTimeout,
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

// Timeouts of the activities that run while writes are paused: a dead
// worker holds writes paused for about this long, plus a second of retry
// backoff. Heartbeats come every activities.HeartbeatInPause (3 s).
const (
	pausedCallTimeout      = 10 * time.Second
	pausedHeartbeatTimeout = 15 * time.Second
)

// drainOptions bounds the drain step by the workflow's drain timeout.
func drainOptions(timeout time.Duration) workflow.ActivityOptions {
	o := workflows.ShortAWSCall
	o.StartToCloseTimeout = timeout + 30*time.Second
	o.HeartbeatTimeout = pausedHeartbeatTimeout
	o.ScheduleToCloseTimeout = timeout + time.Minute
	return o
}

func drainTimeout(seconds int) time.Duration {
	if seconds <= 0 {
		seconds = DefaultDrainTimeoutSeconds
	}
	return time.Duration(seconds) * time.Second
}
