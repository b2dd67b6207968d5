package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	tclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// Snapshot steps that run alone, as StartSnapshotStep's step.
const (
	SnapshotStepChain  = "chain"
	SnapshotStepCreate = "create"
	SnapshotStepCopy   = "copy"
	SnapshotStepExpire = "expire"
)

var snapshotStepTypes = map[string]string{
	SnapshotStepChain:  ebs.ChainName,
	SnapshotStepCreate: ebs.CreateName,
	SnapshotStepCopy:   ebs.CopyName,
	SnapshotStepExpire: ebs.ExpireName,
}

// StartSnapshotRun starts a SnapshotRun: one chain (create, wait, copy,
// expire) per region.
func (c *Client) StartSnapshotRun(ctx context.Context, in ebs.RunInput) (Run, error) {
	if len(in.Regions) == 0 {
		return Run{}, &InvalidInputError{Msg: "no regions given"}
	}
	for _, r := range in.Regions {
		if !ebstags.ValidRegion(r) {
			return Run{}, &InvalidInputError{Msg: fmt.Sprintf("%q is not an AWS region name (like us-east-1)", r)}
		}
	}
	id := ebs.RunWorkflowID(in.Regions, c.Now())
	summary := "EBS snapshots in " + strings.Join(in.Regions, ", ")
	return c.startSnapshot(ctx, id, ebs.RunName, summary, in, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
}

// StartSnapshotStep starts one step for a region on its own: "chain",
// "create", "copy" or "expire". Each has a fixed workflow id per region
// (ebs.WorkflowID), so a second one while the first runs is
// refused with an InvalidInputError naming the running workflow.
func (c *Client) StartSnapshotStep(ctx context.Context, step, region string, opts ebs.Options) (Run, error) {
	wfType, ok := snapshotStepTypes[step]
	if !ok {
		return Run{}, &InvalidInputError{Msg: fmt.Sprintf("no snapshot step %q", step)}
	}
	if !ebstags.ValidRegion(region) {
		return Run{}, &InvalidInputError{Msg: fmt.Sprintf("%q is not an AWS region name (like us-east-1)", region)}
	}
	var in any
	switch step {
	case SnapshotStepChain:
		in = ebs.ChainInput{Region: region, Options: opts}
	case SnapshotStepCreate:
		in = ebs.CreateInput{Region: region, Options: opts}
	case SnapshotStepCopy:
		in = ebs.CopyInput{Region: region, Options: opts}
	case SnapshotStepExpire:
		in = ebs.ExpireInput{Region: region, Options: opts}
	}
	summary := fmt.Sprintf("EBS snapshot %s in %s", step, region)
	if opts.DryRun {
		summary += " (dry run)"
	}
	return c.startSnapshot(ctx, ebs.WorkflowID(step, region), wfType, summary, in, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE)
}

// StartSnapshotRestore starts a SnapshotRestore and waits until the group
// and the target have been checked: a refused restore returns an
// InvalidInputError, and no volume was created.
func (c *Client) StartSnapshotRestore(ctx context.Context, in ebs.RestoreInput) (Run, error) {
	id := ebs.RestoreWorkflowID(in, c.Now())
	what := in.GroupID
	if what == "" {
		what = "latest group of " + in.SourceInstanceID
	}
	summary := fmt.Sprintf("restore %s to %s (%s)", what, in.TargetInstanceID, in.AvailabilityZone)
	return c.startSnapshot(ctx, id, ebs.RestoreName, summary, in, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
}

func (c *Client) startSnapshot(ctx context.Context, id, wfType, summary string, in any, reuse enumspb.WorkflowIdReusePolicy) (Run, error) {
	r, err := c.Temporal.ExecuteWorkflow(ctx, tclient.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                c.TaskQueue,
		WorkflowIDReusePolicy:                    reuse,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            summary,
	}, wfType, in)
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return Run{ID: id}, &InvalidInputError{Msg: fmt.Sprintf("workflow %s is already running: wait for it, or cancel it", id)}
		}
		return Run{}, fmt.Errorf("start %s: %w", wfType, err)
	}
	run := Run{ID: r.GetID(), RunID: r.GetRunID()}
	return run, c.waitSnapshotValidated(ctx, run)
}

func (c *Client) waitSnapshotValidated(ctx context.Context, run Run) error {
	for {
		p, err := c.snapshotProgress(ctx, run.ID, run.RunID)
		if err == nil && p.Validated {
			return nil
		}
		closed, cerr := c.closed(ctx, run)
		if cerr != nil {
			return cerr
		}
		if closed {
			return Explain(run.ID, c.Temporal.GetWorkflow(ctx, run.ID, run.RunID).Get(ctx, nil))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.PollInterval):
		}
	}
}

// SnapshotProgress queries a snapshot workflow's progress.
func (c *Client) SnapshotProgress(ctx context.Context, workflowID string) (*ebs.Progress, error) {
	return c.snapshotProgress(ctx, workflowID, "")
}

func (c *Client) snapshotProgress(ctx context.Context, workflowID, runID string) (*ebs.Progress, error) {
	return queryProgress[ebs.Progress](ctx, c, workflowID, runID)
}

// WaitSnapshotRun waits for a SnapshotRun. When some region failed it
// returns the per-region report and a *WorkflowFailedError.
func (c *Client) WaitSnapshotRun(ctx context.Context, workflowID string, onProgress func(ebs.Progress)) (*ebs.RunResult, error) {
	return waitSnapshot[ebs.RunResult](ctx, c, workflowID, onProgress)
}

// WaitSnapshotChain waits for a SnapshotChain (see WaitSnapshotRun).
func (c *Client) WaitSnapshotChain(ctx context.Context, workflowID string, onProgress func(ebs.Progress)) (*ebs.ChainResult, error) {
	return waitSnapshot[ebs.ChainResult](ctx, c, workflowID, onProgress)
}

// WaitSnapshotCreate waits for a SnapshotCreate (see WaitSnapshotRun).
func (c *Client) WaitSnapshotCreate(ctx context.Context, workflowID string, onProgress func(ebs.Progress)) (*ebs.CreateResult, error) {
	return waitSnapshot[ebs.CreateResult](ctx, c, workflowID, onProgress)
}

// WaitSnapshotCopy waits for a SnapshotCopy (see WaitSnapshotRun).
func (c *Client) WaitSnapshotCopy(ctx context.Context, workflowID string, onProgress func(ebs.Progress)) (*ebs.CopyResult, error) {
	return waitSnapshot[ebs.CopyResult](ctx, c, workflowID, onProgress)
}

// WaitSnapshotExpire waits for a SnapshotExpire (see WaitSnapshotRun).
func (c *Client) WaitSnapshotExpire(ctx context.Context, workflowID string, onProgress func(ebs.Progress)) (*ebs.ExpireResult, error) {
	return waitSnapshot[ebs.ExpireResult](ctx, c, workflowID, onProgress)
}

// WaitSnapshotRestore waits for a SnapshotRestore.
func (c *Client) WaitSnapshotRestore(ctx context.Context, workflowID string, onProgress func(ebs.Progress)) (*ebs.RestoreResult, error) {
	return waitSnapshot[ebs.RestoreResult](ctx, c, workflowID, onProgress)
}

// waitSnapshot waits for a snapshot workflow, reporting progress changes. A
// workflow that ended with activities.ErrSnapshotFailures still returns its result,
// read from the error's details, beside the error.
func waitSnapshot[T any](ctx context.Context, c *Client, workflowID string, onProgress func(ebs.Progress)) (*T, error) {
	var res T
	err := waitFor(ctx, c, workflowID, onProgress, &res)
	if err == nil {
		return &res, nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == activities.ErrSnapshotFailures && app.HasDetails() && app.Details(&res) == nil {
		return &res, Explain(workflowID, err)
	}
	return nil, Explain(workflowID, err)
}
