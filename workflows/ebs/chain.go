package ebs

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Chain runs the seed's three jobs, in order, for one region:
// create the day's groups (SnapshotCreate), wait for them to complete, copy
// completed primaries to their destinations (SnapshotCopy), and expire
// (SnapshotExpire). Each step runs even if an earlier one failed, because
// each stands alone (the seed's jobs were independent Lambdas): a failed
// create does not stop yesterday's copies or today's expiry. The chain ends
// failed, with its result as details, if any step failed.
func Chain(ctx workflow.Context, in ChainInput) (*ChainResult, error) {
	p, err := startProgress(ctx, "chain", in.Region, []string{in.Region}, in.DryRun)
	if err != nil {
		return nil, err
	}
	if err := checkRegion(in.Region); err != nil {
		return nil, p.fail(ctx, err)
	}
	day, err := runDay(ctx, in.AsOf)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	opts := in.Options
	opts.AsOf = ebstags.FormatDate(day)
	p.Date, p.Validated = opts.AsOf, true
	res := &ChainResult{Region: in.Region, Date: opts.AsOf, DryRun: in.DryRun}
	outcome := func(step string, err error) {
		o := StepOutcome{Step: step, Status: OutcomeOK}
		if err != nil {
			o.Status, o.Error = OutcomeFailed, errMessage(err)
		}
		res.Steps = append(res.Steps, o)
	}

	workflows.SetStep(ctx, p, StepCreating)
	var created CreateResult
	f := workflow.ExecuteChildWorkflow(withChild(ctx, WorkflowID("create", in.Region)), CreateName,
		CreateInput{Region: in.Region, Options: opts})
	err = f.Get(ctx, &created)
	if err == nil || failureDetails(err, &created) {
		res.Create = &created
		p.Instances, p.GroupsCreated, p.GroupsExisting, p.Snapshots = created.Instances, created.GroupsCreated, created.GroupsExisting, created.Snapshots
		p.Failed += created.FailedCount
	}
	outcome("create", err)

	if in.DryRun {
		res.Steps = append(res.Steps, StepOutcome{Step: "wait", Status: OutcomeSkipped})
	} else {
		workflows.SetStep(ctx, p, StepWaiting)
		wait := time.Duration(opts.waitTimeout()) * time.Second
		var waited ebsact.WaitSnapshotsCompletedResult
		// The deadline is fixed here, so a retried wait does not start over;
		// Expect makes it wait for snapshots EC2 does not list yet.
		deadline := workflow.Now(ctx).Add(wait)
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Poll(wait)), ebs.WaitSnapshotsCompleted, ebsact.WaitSnapshotsCompletedInput{
			Region: in.Region, CreatedOn: opts.AsOf, MaxWaitSeconds: opts.waitTimeout(), Deadline: &deadline, Expect: created.Snapshots,
		}).Get(ctx, &waited)
		if err == nil {
			res.Wait = &waited
			p.Failed += len(waited.Errored)
		}
		switch {
		case err != nil:
			outcome("wait", err)
		case len(waited.Errored) > 0:
			res.Steps = append(res.Steps, StepOutcome{Step: "wait", Status: OutcomeFailed,
				Error: fmt.Sprintf("%d snapshots failed (error state), e.g. %s: %s", len(waited.Errored), waited.Errored[0].SnapshotID, waited.Errored[0].Message)})
		case waited.TimedOut:
			res.Steps = append(res.Steps, StepOutcome{Step: "wait", Status: OutcomeTimedOut,
				Error: fmt.Sprintf("%d snapshots still pending after %s: a later run copies them", len(waited.Pending), wait)})
		default:
			outcome("wait", nil)
		}
	}

	workflows.SetStep(ctx, p, StepCopying)
	var copied CopyResult
	f = workflow.ExecuteChildWorkflow(withChild(ctx, WorkflowID("copy", in.Region)), CopyName,
		CopyInput{Region: in.Region, Options: opts})
	err = f.Get(ctx, &copied)
	if err == nil || failureDetails(err, &copied) {
		res.Copy = &copied
		for _, d := range copied.Destinations {
			p.Copied += d.Copied
			p.CopiesInFlight += len(d.InFlight)
			p.CopiesPending += d.Pending
			p.Failed += d.FailedCount
		}
	}
	outcome("copy", err)

	workflows.SetStep(ctx, p, StepExpiring)
	var expired ExpireResult
	f = workflow.ExecuteChildWorkflow(withChild(ctx, WorkflowID("expire", in.Region)), ExpireName,
		ExpireInput{Region: in.Region, Options: opts})
	err = f.Get(ctx, &expired)
	if err == nil || failureDetails(err, &expired) {
		res.Expire = &expired
		p.Deleted = expired.DeletedCount
	}
	outcome("expire", err)

	var failed []string
	taken := !in.DryRun // the day's snapshots are all taken and completed
	for _, s := range res.Steps {
		if s.Status == OutcomeFailed {
			failed = append(failed, s.Step+": "+s.Error)
		}
		if (s.Step == "create" || s.Step == "wait") && s.Status != OutcomeOK {
			taken = false
		}
	}
	if taken {
		workflows.RecordBackupSuccess(ctx, workflows.ProtectedSnapshots, in.Region, time.Duration(opts.RPOSeconds)*time.Second)
	}
	return finish(ctx, p, res, len(failed), in.Region+": "+strings.Join(failed, "; "))
}
