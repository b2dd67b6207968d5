package dataset

import (
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// trackProgress starts a workflow's Progress, answering the progress query.
func trackProgress(ctx workflow.Context, op string, refs []datasetact.DatasetRef) (*Progress, error) {
	p := &Progress{Status: workflows.Status{Operation: op, StartedAt: workflow.Now(ctx)}}
	for _, r := range refs {
		p.dataset(r.EnvID, r.DatasetID).Step = workflows.StepValidating
	}
	if err := workflows.Track(ctx, p); err != nil {
		return nil, err
	}
	env := ""
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	if len(refs) > 0 {
		env = refs[0].EnvID
	}
	workflows.TagRun(ctx, op, env, names, nil)
	workflows.SetStep(ctx, p, workflows.StepValidating)
	return p, nil
}

func fail(ctx workflow.Context, p *Progress, err error) error {
	return workflows.Fail(ctx, p, p.Operation, err.Error(), err)
}

// inputLimitsVersion guards the check of an input's limits before anything
// else: runs started before it left the checks to the validation activity.
const inputLimitsVersion = "input-limits"

// checkLimits turns an input's Validate error into the run's InvalidInput
// failure, before any progress is built or activity scheduled. Valid
// inputs record no version marker.
func checkLimits(ctx workflow.Context, err error) error {
	if err == nil || workflow.GetVersion(ctx, inputLimitsVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	workflow.GetLogger(ctx).Warn("Input refused", "error", err)
	return activities.Invalid(err)
}
