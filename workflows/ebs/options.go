package ebs

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
)

// ec2Heartbeat is the heartbeat timeout of every EBS activity: each
// heartbeats at least every 5 s (activities.HeartbeatEvery) whatever it
// is doing (a slow page, a backoff, a poll), so a worker that died is
// noticed within 30 s, however long the activity may run (the chaos suite
// once saw a chain stall for the 2 minutes this was).
const ec2Heartbeat = 30 * time.Second

// Activity options of the EBS activities, named by purpose. Throttling and
// other transient errors are retried with backoff (inside the activity
// first, then by these policies); EC2's validation errors (EC2Rejected) and
// InvalidInput are not. How long a snapshot or a copy takes (hours for a
// terabyte) never counts against a start-to-close timeout: the waits are
// bounded by their own MaxWait, and their timeouts derive from it.
var (
	// ec2Call is a few EC2 calls (a page of instances, one instance's
	// group), with in-activity retries of throttling, lost responses and
	// new ids not found yet (EBS.RetryFor, 3 min, per call).
	ec2Call = workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		HeartbeatTimeout:    ec2Heartbeat,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: activities.NonRetryable,
		},
	}
	// ec2Sweep lists and acts on many snapshots (a copy batch, a region's
	// expiry), heartbeating per snapshot.
	ec2Sweep = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    ec2Heartbeat,
		RetryPolicy:         ec2Call.RetryPolicy,
	}
	// ec2Cleanup removes what a failed restore made: it must get through.
	ec2Cleanup = workflow.ActivityOptions{
		StartToCloseTimeout:    5 * time.Minute,
		HeartbeatTimeout:       ec2Heartbeat,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Minute,
			NonRetryableErrorTypes: activities.NonRetryable,
		},
	}
)

// ec2Poll waits for snapshots, copies or volumes for up to maxWait,
// heartbeating every poll.
func ec2Poll(maxWait time.Duration) workflow.ActivityOptions {
	o := ec2Sweep
	o.StartToCloseTimeout = maxWait + 10*time.Minute
	return o
}

// withChild starts child workflows under fixed ids. A child whose id is
// running already (the same step started alone) fails to start, so two runs
// never work on one region at once; the parent's cancellation reaches it.
func withChild(ctx workflow.Context, id string) workflow.Context {
	return workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation:   true,
	})
}
