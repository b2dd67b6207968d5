package dataset

import (
	"go.temporal.io/sdk/workflow"

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
