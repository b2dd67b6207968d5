package ebs

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Create is the seed's creator for one region: it pages through the
// instances tagged Backup=Yes and hands each page (BatchSize instances) to a
// SnapshotCreateBatch child, a few at a time, so a run over thousands of
// instances keeps every history small; past HistoryLimit events it
// continues as new. An instance that fails is reported and the others go
// on; the run ends failed (with its result as details) if any did.
func Create(ctx workflow.Context, in CreateInput) (*CreateResult, error) {
	p, err := startProgress(ctx, "create", in.Region, []string{in.Region}, in.DryRun)
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
	carry := in.Carry
	if carry == nil {
		carry = &CreateCarry{Result: CreateResult{Region: in.Region, Date: ebstags.FormatDate(day), DryRun: in.DryRun}}
	}
	res := &carry.Result
	p.Date, p.Validated = res.Date, true
	workflows.SetStep(ctx, p, StepCreating)
	show := func() {
		p.Instances, p.GroupsCreated, p.GroupsExisting, p.Snapshots, p.Failed = res.Instances, res.GroupsCreated, res.GroupsExisting, res.Snapshots, res.FailedCount
		workflows.SetStep(ctx, p, StepCreating)
	}

	var running []instanceBatch
	collect := func(b instanceBatch) {
		var out CreateBatchResult
		if err := b.future.Get(ctx, &out); err != nil {
			for _, i := range b.instances {
				out.Failed = append(out.Failed, InstanceFailure{InstanceID: i.InstanceID, Message: "batch failed: " + errMessage(err)})
			}
		}
		for _, g := range out.Groups {
			switch {
			case g.Existing:
				res.GroupsExisting++
			case g.Created:
				res.GroupsCreated++
				res.Snapshots += g.Snapshots
			default:
				res.GroupsToCreate++
				res.Snapshots += g.Snapshots
			}
		}
		res.Groups = capAppend(res.Groups, out.Groups...)
		res.Failed = capAppend(res.Failed, out.Failed...)
		res.FailedCount += len(out.Failed)
		res.Problems = capAppend(res.Problems, out.Skipped...)
		show()
	}

	cursor := carry.Cursor
	for {
		var page ebsact.FindBackupInstancesResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Call), ebs.FindBackupInstances, ebsact.FindBackupInstancesInput{
			Region: in.Region, Cursor: cursor, Limit: in.batchSize(),
		}).Get(ctx, &page)
		if err != nil {
			// Nothing more can be listed: finish the batches started, then fail.
			for _, b := range running {
				collect(b)
			}
			res.FailedCount++
			return finish(ctx, p, res, 1, fmt.Sprintf("list instances in %s: %s", in.Region, errMessage(err)))
		}
		res.Problems = capAppend(res.Problems, page.Problems...)
		if len(page.Instances) > 0 {
			carry.Batches++
			res.Batches, res.Instances = carry.Batches, res.Instances+len(page.Instances)
			id := fmt.Sprintf("%s-batch-%d", workflow.GetInfo(ctx).WorkflowExecution.ID, carry.Batches)
			f := workflow.ExecuteChildWorkflow(withChild(ctx, id), CreateBatchName, CreateBatchInput{
				Region: in.Region, Date: day, DryRun: in.DryRun, Instances: page.Instances, Parallelism: DefaultInstanceParallelism,
			})
			running = append(running, instanceBatch{future: f, instances: page.Instances})
			show()
			if len(running) >= DefaultBatchParallelism {
				collect(running[0])
				running = running[1:]
			}
		}
		if page.Next == nil {
			break
		}
		cursor = *page.Next
		if historyFull(ctx, in.HistoryLimit) {
			for _, b := range running {
				collect(b)
			}
			carry.Cursor = cursor
			next := in
			next.Carry = carry
			return nil, workflow.NewContinueAsNewError(ctx, CreateName, next)
		}
	}
	for _, b := range running {
		collect(b)
	}
	return finish(ctx, p, res, res.FailedCount, fmt.Sprintf("%d of %d instances in %s failed, e.g. %s",
		res.FailedCount, res.Instances, in.Region, firstFailure(res.Failed)))
}

type instanceBatch struct {
	future    workflow.ChildWorkflowFuture
	instances []ebsact.BackupInstance
}

func firstFailure(f []InstanceFailure) string {
	if len(f) == 0 {
		return "-"
	}
	return f[0].InstanceID + ": " + f[0].Message
}

// CreateBatch takes the day's group of each instance of a batch. One
// lookup finds the groups already taken (a second run the same day skips
// them without another call); the rest get one activity per instance, so
// each retries alone, Parallelism at a time.
func CreateBatch(ctx workflow.Context, in CreateBatchInput) (*CreateBatchResult, error) {
	res := &CreateBatchResult{}
	ids := make([]string, len(in.Instances))
	for i, inst := range in.Instances {
		ids[i] = inst.InstanceID
	}
	var found ebsact.FindInstanceGroupsResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Call), ebs.FindInstanceGroups, ebsact.FindInstanceGroupsInput{
		Region: in.Region, InstanceIDs: ids, Date: in.Date,
	}).Get(ctx, &found)
	if err != nil || len(found.Instances) != len(in.Instances) {
		// Each instance then looks for its own group.
		found.Instances = make([]ebsact.InstanceGroups, len(in.Instances))
	}
	var todo []int
	for i, g := range found.Instances {
		if g.Exists && g.Complete {
			res.Groups = append(res.Groups, GroupSummary{
				InstanceID: g.InstanceID, GroupID: g.GroupID, Generation: g.Generation, Snapshots: g.Snapshots, DeleteOn: g.DeleteOn, Existing: true,
			})
			continue
		}
		todo = append(todo, i)
	}

	n := orDefault(in.Parallelism, DefaultInstanceParallelism)
	actx := workflow.WithActivityOptions(ctx, ec2Call)
	futures := make([]workflow.Future, len(todo))
	start := func(k int) {
		i := todo[k]
		known := &found.Instances[i]
		if known.InstanceID == "" {
			known = nil
		}
		futures[k] = workflow.ExecuteActivity(actx, ebs.CreateInstanceSnapshots, ebsact.CreateInstanceSnapshotsInput{
			Region: in.Region, Instance: in.Instances[i], Date: in.Date, DryRun: in.DryRun, Known: known,
		})
	}
	for k := 0; k < n && k < len(todo); k++ {
		start(k)
	}
	for k, i := range todo {
		inst := in.Instances[i]
		var out ebsact.CreateInstanceSnapshotsResult
		err := futures[k].Get(ctx, &out)
		if k+n < len(todo) {
			start(k + n)
		}
		switch {
		case err != nil:
			res.Failed = append(res.Failed, InstanceFailure{InstanceID: inst.InstanceID, Message: errMessage(err)})
		case out.Skipped != "":
			res.Skipped = append(res.Skipped, ebsact.InstanceProblem{InstanceID: inst.InstanceID, Problem: out.Skipped})
		default:
			if out.Created && !in.DryRun {
				workflows.Count(ctx, workflows.MetricSnapshotsCreated, int64(len(out.Snapshots)), map[string]string{"region": in.Region})
			}
			res.Groups = append(res.Groups, GroupSummary{
				InstanceID: inst.InstanceID, GroupID: out.GroupID, Generation: out.Generation,
				Snapshots: len(out.Snapshots), DeleteOn: out.DeleteOn, Created: out.Created, Existing: out.Existing,
			})
		}
	}
	return res, nil
}
