package redis

import (
	"errors"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/workflows"
)

// startProgress registers a Redis workflow's progress query, tags the run and
// marks it validating.
func startProgress(ctx workflow.Context, op, cluster string) (*Progress, error) {
	p := &Progress{Status: workflows.Status{Operation: op, StartedAt: workflow.Now(ctx)}, Cluster: cluster}
	if err := workflows.Track(ctx, p); err != nil {
		return nil, err
	}
	workflows.TagRun(ctx, op, "", nil, nil)
	workflows.SetStep(ctx, p, workflows.StepValidating)
	return p, nil
}

func (p *Progress) fail(ctx workflow.Context, err error) error {
	msg := err.Error()
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msg = app.Message()
	}
	return workflows.Fail(ctx, p, p.Operation, msg, err)
}
