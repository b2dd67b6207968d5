package ebs

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

var ebs *ebsact.EBS

// ec2Heartbeat is the heartbeat timeout of every EBS activity: each
// heartbeats at least every 20 s (activities.HeartbeatEvery) whatever it
// is doing (a slow page, a backoff, a poll), so a worker that died is
// noticed within two minutes, however long the activity may run.
const ec2Heartbeat = 2 * time.Minute

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

// snapChild starts child workflows under fixed ids. A child whose id is
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

// snapshotStart registers the progress query, tags the run with its
// operation and regions, and marks the workflow started.
func startProgress(ctx workflow.Context, op, region string, regions []string, dryRun bool) (*Progress, error) {
	p := &Progress{Status: workflows.Status{Operation: op, StartedAt: workflow.Now(ctx)}, Region: region, DryRun: dryRun}
	if err := workflows.Track(ctx, p); err != nil {
		return nil, err
	}
	workflows.TagRun(ctx, "snapshots-"+op, "", nil, regions)
	workflows.SetStep(ctx, p, StepStarting)
	return p, nil
}

func (p *Progress) fail(ctx workflow.Context, err error) error {
	return workflows.Fail(ctx, p, "snapshots-"+p.Operation, errMessage(err), err)
}

// finish ends a workflow: successfully, or, when some of its work failed,
// with an ErrSnapshotFailures error whose details are the result.
func finish[T any](ctx workflow.Context, p *Progress, res *T, failures int, what string) (*T, error) {
	if failures == 0 {
		workflows.SetStep(ctx, p, workflows.StepDone)
		return res, nil
	}
	err := temporal.NewNonRetryableApplicationError(what, ErrSnapshotFailures, nil, res)
	return nil, p.fail(ctx, err)
}

// failureDetails reads the result a workflow left in its
// ErrSnapshotFailures error. It is false when there is none.
func failureDetails(err error, into any) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == ErrSnapshotFailures && app.HasDetails() {
		return app.Details(into) == nil
	}
	return false
}

// errMessage is the innermost message of an error: what a person needs to read.
func errMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timed out (" + timeout.TimeoutType().String() + ")"
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "canceled"
	}
	return err.Error()
}

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrInvalidInput, nil)
}

// runDay is the UTC date a run evaluates: --as-of, or today by the
// workflow's clock (deterministic on replay).
func runDay(ctx workflow.Context, asOf string) (time.Time, error) {
	if asOf == "" {
		return ebstags.Day(workflow.Now(ctx)), nil
	}
	d, err := ebstags.ParseDate(asOf)
	if err != nil {
		return time.Time{}, invalid("as-of: %v", err)
	}
	return d, nil
}

func checkRegion(region string) error {
	if !ebstags.ValidRegion(region) {
		return invalid("%q is not an AWS region name (like us-east-1)", region)
	}
	return nil
}

// historyFull reports whether a long workflow should continue as new.
func historyFull(ctx workflow.Context, limit int) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= orDefault(limit, DefaultHistoryLimit)
}

func capAppend[T any](list []T, v ...T) []T {
	room := ebsact.ListCap - len(list)
	if room <= 0 {
		return list
	}
	if len(v) > room {
		v = v[:room]
	}
	return append(list, v...)
}
