package ebs

import (
	"errors"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// startProgress registers the progress query, tags the run with its
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
// with an activities.ErrSnapshotFailures error whose details are the result.
func finish[T any](ctx workflow.Context, p *Progress, res *T, failures int, what string) (*T, error) {
	if failures == 0 {
		workflows.SetStep(ctx, p, workflows.StepDone)
		return res, nil
	}
	err := temporal.NewNonRetryableApplicationError(what, activities.ErrSnapshotFailures, nil, res)
	return nil, p.fail(ctx, err)
}

// failureDetails reads the result a workflow left in its
// activities.ErrSnapshotFailures error. It is false when there is none.
func failureDetails(err error, into any) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == activities.ErrSnapshotFailures && app.HasDetails() {
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
