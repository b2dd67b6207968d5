package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// Status is the part of progress every workflow keeps, embedded in each
// domain's progress struct (its fields are that struct's in JSON).
type Status struct {
	Operation string    `json:"operation"`
	Step      string    `json:"step"`
	Validated bool      `json:"validated"`
	StartedAt time.Time `json:"startedAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Error     string    `json:"error,omitempty"`
}

// ProgressStatus is the Status itself: every progress struct embedding it is
// Tracked.
func (s *Status) ProgressStatus() *Status { return s }

// Tracked is a workflow's progress: a Status and a one-line summary, shown
// as the run's current details in the Web UI.
type Tracked interface {
	Summary() string
	ProgressStatus() *Status
}

// Track answers the progress query with p, from now on.
func Track[P Tracked](ctx workflow.Context, p P) error {
	return workflow.SetQueryHandler(ctx, ProgressQuery, func() (P, error) { return p, nil })
}

// SetStep moves p to step and updates the run's current details.
func SetStep(ctx workflow.Context, p Tracked, step string) {
	s := p.ProgressStatus()
	s.Step = step
	s.UpdatedAt = workflow.Now(ctx)
	workflow.SetCurrentDetails(ctx, p.Summary())
}

// Fail records a failure: counted (lifeboat_failures, tagged with metricOp
// and the step it failed in; a refusal of bad input in lifeboat_refused
// instead), msg kept as p's error, step StepFailed. It returns err.
func Fail(ctx workflow.Context, p Tracked, metricOp, msg string, err error) error {
	s := p.ProgressStatus()
	if reason, refused := RefusalReason(err); refused {
		CountRefused(ctx, metricOp, reason)
	} else {
		CountFailure(ctx, metricOp, s.Step)
	}
	s.Error = msg
	SetStep(ctx, p, StepFailed)
	return err
}
