package ebs

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

const (
	// copyBatchMax bounds one CopySnapshotsToRegion call.
	copyBatchMax = 50
	// copyWaitSlice bounds one wait for a slot, so the loop can start copies
	// as soon as some finish without waiting on the slowest.
	copyWaitSlice = 15 * time.Minute
	// copyLimitBackoff is the pause when the destination refused new copies
	// and none of ours is in flight (other copiers hold the slots).
	copyLimitBackoff = time.Minute
)

// Copy is the seed's copier for one source region: it plans the
// copies (completed primaries without a copy in their Copy_Dest regions,
// never a copy of a copy) and runs one SnapshotCopyDestination child per
// destination, each keeping at most MaxConcurrentCopies copies in
// progress. Copies not started when the copy window closes are left for the
// next run. A failed copy is reported and the others go on.
func Copy(ctx workflow.Context, in CopyInput) (*CopyResult, error) {
	p, err := startProgress(ctx, "copy", in.Region, []string{in.Region}, in.DryRun)
	if err != nil {
		return nil, err
	}
	if err := checkRegion(in.Region); err != nil {
		return nil, p.fail(ctx, err)
	}
	p.Validated = true
	workflows.SetStep(ctx, p, StepPlanning)
	var plan ebsact.PlanSnapshotCopiesResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Sweep), ebs.PlanSnapshotCopies,
		ebsact.PlanSnapshotCopiesInput{Region: in.Region}).Get(ctx, &plan)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	res := &CopyResult{Region: in.Region, DryRun: in.DryRun, SourcePending: plan.SourcePending, SourceErrored: plan.SourceErrored, SeedSkipped: plan.SeedSkipped, Problems: plan.Problems}
	if in.DryRun {
		for _, d := range plan.Destinations {
			r := CopyDestinationResult{Destination: d.Destination, AlreadyCopied: d.AlreadyCopied, Pending: len(d.ToCopy) + d.Deferred, InFlight: d.InFlight}
			for _, id := range d.ToCopy {
				r.Copies = capAppend(r.Copies, ebsact.CopyStarted{SourceSnapshotID: id, State: "would be copied"})
			}
			res.Destinations = append(res.Destinations, r)
			p.CopiesPending += r.Pending
		}
		workflows.SetStep(ctx, p, workflows.StepDone)
		return res, nil
	}

	workflows.SetStep(ctx, p, StepCopying)
	deadline := workflow.Now(ctx).Add(in.copyWindow())
	futures := make([]workflow.ChildWorkflowFuture, len(plan.Destinations))
	for i, d := range plan.Destinations {
		id := fmt.Sprintf("%s-to-%s", workflow.GetInfo(ctx).WorkflowExecution.ID, d.Destination)
		futures[i] = workflow.ExecuteChildWorkflow(withChild(ctx, id), CopyDestinationName, CopyDestinationInput{
			SourceRegion: in.Region, Destination: d.Destination, Queue: d.ToCopy, Others: d.InFlight,
			MaxConcurrent: in.maxCopies(), Deadline: deadline, HistoryLimit: in.HistoryLimit,
			Result: &CopyDestinationResult{Destination: d.Destination, AlreadyCopied: d.AlreadyCopied, Pending: d.Deferred},
		})
	}
	var failed []string
	for i, f := range futures {
		d := plan.Destinations[i]
		var r CopyDestinationResult
		err := f.Get(ctx, &r)
		if err != nil && !failureDetails(err, &r) {
			r = CopyDestinationResult{Destination: d.Destination, Pending: len(d.ToCopy), Error: errMessage(err)}
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", d.Destination, errMessage(err)))
		}
		res.Destinations = append(res.Destinations, r)
		p.Copied += r.Copied
		p.CopiesInFlight += len(r.InFlight)
		p.CopiesPending += r.Pending
		p.Failed += r.FailedCount
		workflows.SetStep(ctx, p, StepCopying)
	}
	return finish(ctx, p, res, len(failed), "copies from "+in.Region+" failed: "+strings.Join(failed, "; "))
}

// CopyDestination copies snapshots of one source region into one
// destination, keeping at most MaxConcurrent copies in progress there (a
// workflow-side semaphore: start copies into free slots, wait for some to
// finish, repeat). No copy starts after the deadline; copies still queued
// or in flight then are reported, and the next run picks them up (it finds
// finished copies by their Source_SnapshotId). Past HistoryLimit events it
// continues as new with its queue and counts.
func CopyDestination(ctx workflow.Context, in CopyDestinationInput) (*CopyDestinationResult, error) {
	p, err := startProgress(ctx, "copy", in.SourceRegion+" -> "+in.Destination, []string{in.SourceRegion, in.Destination}, false)
	if err != nil {
		return nil, err
	}
	p.Validated = true
	res := in.Result
	if res == nil {
		res = &CopyDestinationResult{Destination: in.Destination}
	}
	limit := orDefault(in.MaxConcurrent, DefaultMaxConcurrentCopies)
	queue, inflight := append([]string(nil), in.Queue...), append(append([]string(nil), in.InFlight...), in.Others...)
	others := map[string]bool{}
	for _, id := range in.Others {
		others[id] = true
	}
	pending := res.Pending // deferred by the plan: never queued here
	// Snapshots handed back by CopySnapshotsToRegion (the destination's
	// copy limit, or retries used up after a lost response): the next try
	// looks in the destination before copying, whatever the plan said.
	recheck := map[string]bool{}
	for _, id := range in.Recheck {
		recheck[id] = true
	}
	fail := func(f ebsact.SnapshotFailure) {
		res.Failed = capAppend(res.Failed, f)
		res.FailedCount++
	}
	show := func(step string) {
		p.Copied, p.CopiesInFlight, p.CopiesPending, p.Failed = res.Copied, len(inflight), len(queue)+pending, res.FailedCount
		workflows.SetStep(ctx, p, step)
	}
	show(StepCopying)

	for {
		open := workflow.Now(ctx).Before(in.Deadline)
		// Fill the free slots.
		refused := false
		for open && !refused && len(queue) > 0 && len(inflight) < limit {
			n := min(limit-len(inflight), len(queue), copyBatchMax)
			batch := queue[:n]
			queue = queue[n:]
			planned := !in.Unplanned
			for _, id := range batch {
				if recheck[id] {
					planned = false
				}
			}
			var out ebsact.CopySnapshotsToRegionResult
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Sweep), ebs.CopySnapshotsToRegion, ebsact.CopySnapshotsToRegionInput{
				SourceRegion: in.SourceRegion, Destination: in.Destination, SnapshotIDs: batch, Planned: planned,
			}).Get(ctx, &out)
			if err != nil {
				// The batch failed after its retries: report it, go on with the rest.
				for _, id := range batch {
					fail(ebsact.SnapshotFailure{SnapshotID: id, Region: in.SourceRegion, Message: "copy to " + in.Destination + ": " + errMessage(err)})
				}
				continue
			}
			for _, c := range out.Started {
				inflight = append(inflight, c.CopySnapshotID)
				res.Started++
				res.Copies = capAppend(res.Copies, c)
			}
			for _, c := range out.Existing {
				res.AlreadyCopied++
				if c.State != "completed" {
					inflight = append(inflight, c.CopySnapshotID)
				}
			}
			for _, f := range out.Failed {
				fail(f)
			}
			if len(out.Deferred) > 0 {
				// The destination's copy limit is reached (copies we do not
				// track, from other runs, count too): wait for slots.
				queue = append(append([]string(nil), out.Deferred...), queue...)
				for _, id := range out.Deferred {
					recheck[id] = true
				}
				refused = true
			}
			show(StepCopying)
		}
		if !open {
			break
		}
		if len(inflight) == 0 {
			if len(queue) == 0 {
				break
			}
			if err := workflow.Sleep(ctx, copyLimitBackoff); err != nil {
				return nil, p.fail(ctx, err)
			}
			continue
		}
		// Wait for a slot, or, with nothing left to start, for every copy.
		remaining := in.Deadline.Sub(workflow.Now(ctx))
		minDone, wait := len(inflight), remaining
		if len(queue) > 0 {
			minDone, wait = 1, min(copyWaitSlice, remaining)
		}
		var w ebsact.WaitSnapshotCopiesResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Poll(wait)), ebs.WaitSnapshotCopies, ebsact.WaitSnapshotCopiesInput{
			Destination: in.Destination, CopyIDs: inflight, MinDone: minDone, MaxWaitSeconds: int(wait / time.Second),
		}).Get(ctx, &w)
		if err != nil {
			res.Error = "wait for copies: " + errMessage(err)
			break
		}
		done := map[string]bool{}
		for _, id := range w.Completed {
			done[id] = true
			if !others[id] {
				res.Copied++
				workflows.Count(ctx, workflows.MetricSnapshotsCopied, 1, map[string]string{"region": in.Destination})
			}
		}
		for _, f := range w.Errored {
			done[f.SnapshotID] = true
			if !others[f.SnapshotID] {
				fail(f)
			}
		}
		kept := inflight[:0]
		for _, id := range inflight {
			if !done[id] {
				kept = append(kept, id)
			}
		}
		inflight = kept
		show(StepCopying)
		if historyFull(ctx, in.HistoryLimit) {
			next := in
			next.Queue, next.InFlight, next.Others, next.Result, next.Recheck = queue, nil, nil, res, nil
			for _, id := range queue {
				if recheck[id] {
					next.Recheck = append(next.Recheck, id)
				}
			}
			for _, id := range inflight {
				if others[id] {
					next.Others = append(next.Others, id)
				} else {
					next.InFlight = append(next.InFlight, id)
				}
			}
			return nil, workflow.NewContinueAsNewError(ctx, CopyDestinationName, next)
		}
	}
	var ours []string
	for _, id := range inflight {
		if !others[id] {
			ours = append(ours, id)
		}
	}
	res.InFlight = capAppend(res.InFlight[:0], ours...)
	res.Pending = pending + len(queue)
	show(StepCopying)
	failures := res.FailedCount
	if res.Error != "" {
		failures++
	}
	msg := fmt.Sprintf("%d copies to %s failed", res.FailedCount, in.Destination)
	if len(res.Failed) > 0 {
		// The first cause, so the one line says why (a denied permission, say).
		msg += fmt.Sprintf(", e.g. %s: %s", res.Failed[0].SnapshotID, res.Failed[0].Message)
	}
	if res.Error != "" {
		msg += "; " + res.Error
	}
	return finish(ctx, p, res, failures, msg)
}
