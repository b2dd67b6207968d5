package dataset

import (
	"time"

	"go.temporal.io/sdk/workflow"

	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// holds pauses datasets for one workflow and guarantees they are resumed.
type holds struct {
	holder   string
	op       string // for the pause window metric
	refs     []datasetact.DatasetRef
	pausedAt time.Time
	resumed  bool
}

// pauseAndDrain pauses every dataset, then waits for each to drain. Datasets
// are recorded before their pause is attempted, so resume covers a pause
// whose result was lost.
func (h *holds) pauseAndDrain(ctx workflow.Context, refs []datasetact.DatasetRef, timeout time.Duration, p *Progress) error {
	h.pausedAt = workflow.Now(ctx)
	h.refs = append(h.refs, refs...)
	// On cancellation, wait for a pause in flight to finish before resuming:
	// otherwise it could commit after the resume and leave its dataset paused.
	pauseCall := holdCall
	pauseCall.WaitForCancellation = true
	pctx := workflow.WithActivityOptions(ctx, pauseCall)
	futures := make([]workflow.Future, len(refs))
	for i, r := range refs {
		futures[i] = workflow.ExecuteActivity(pctx, datasets.Pause, datasetact.HoldInput{DatasetRef: r, Holder: h.holder})
	}
	// Wait for every pause before failing: a pause still in flight could
	// otherwise commit after resume and leave its dataset paused.
	var pauseErr error
	for i, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			if pauseErr == nil {
				pauseErr = err
			}
			continue
		}
		dp := p.dataset(refs[i].EnvID, refs[i].DatasetID)
		dp.Step, dp.Detail = StepPausing, "writes paused"
	}
	if pauseErr != nil {
		return pauseErr
	}
	workflows.SetStep(ctx, p, StepDraining)
	deadline := workflow.Now(ctx).Add(timeout)
	dctx := workflow.WithActivityOptions(ctx, drainOptions(timeout))
	for i, r := range refs {
		futures[i] = workflow.ExecuteActivity(dctx, datasets.WaitForDrain, datasetact.DrainInput{
			HoldInput: datasetact.HoldInput{DatasetRef: r, Holder: h.holder}, Deadline: deadline,
		})
	}
	for i, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
		p.dataset(refs[i].EnvID, refs[i].DatasetID).Detail = "drained"
	}
	return nil
}

// resume returns every held dataset to RUNNING. It runs on a disconnected
// context so that it also runs when the workflow is cancelled, and retries
// until it gets through. It returns how long writes were paused.
func (h *holds) resume(ctx workflow.Context) time.Duration {
	if h.resumed || len(h.refs) == 0 {
		return 0
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, resumeCall)
	futures := make([]workflow.Future, len(h.refs))
	for i, r := range h.refs {
		futures[i] = workflow.ExecuteActivity(dctx, datasets.Resume, datasetact.HoldInput{DatasetRef: r, Holder: h.holder})
	}
	for i, f := range futures {
		if err := f.Get(dctx, nil); err != nil {
			workflow.GetLogger(ctx).Error("Resume failed: dataset left paused", "dataset", h.refs[i].String(), "error", err)
		}
	}
	h.resumed = true
	window := workflow.Now(dctx).Sub(h.pausedAt)
	workflows.RecordPauseWindow(ctx, h.op, window)
	return window
}
