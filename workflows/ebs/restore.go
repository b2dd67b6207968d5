package ebs

import (
	"time"

	"go.temporal.io/sdk/workflow"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Restore makes volumes from a snapshot group and attaches them to
// a target instance at their original device names. It first checks that
// the whole group is present and completed, that the target is in the
// availability zone and that the device names are free there (refusing
// with InvalidInput, before anything is created); then creates one volume
// per snapshot, waits until all are available, and attaches each. If it
// fails or is cancelled after creating volumes, the ones not attached are
// deleted again (the snapshots stay).
func Restore(ctx workflow.Context, in RestoreInput) (*RestoreResult, error) {
	p, err := startProgress(ctx, "restore", in.Region, []string{in.Region}, false)
	if err != nil {
		return nil, err
	}
	if err := checkRestore(in); err != nil {
		return nil, p.fail(ctx, err)
	}
	restoreID := workflow.GetInfo(ctx).WorkflowExecution.ID
	workflows.SetStep(ctx, p, StepPlanning)
	var plan ebsact.PlanVolumeRestoreResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Call), ebs.PlanVolumeRestore, ebsact.PlanVolumeRestoreInput{
		Region: in.Region, GroupID: in.GroupID, SourceInstanceID: in.SourceInstanceID, At: in.At,
		TargetInstanceID: in.TargetInstanceID, AvailabilityZone: in.AvailabilityZone, Devices: in.Devices, RestoreID: restoreID,
	}).Get(ctx, &plan)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	p.Validated, p.Snapshots = true, len(plan.Snapshots)
	res := &RestoreResult{
		Region: in.Region, GroupID: plan.GroupID, SourceInstanceID: plan.InstanceID, Generation: plan.Generation, CreatedAt: plan.CreatedAt,
		TargetInstanceID: in.TargetInstanceID, AvailabilityZone: in.AvailabilityZone,
	}

	// Compensation: on failure or cancellation, delete the volumes made but
	// not attached. It runs on a disconnected context so cancellation
	// cannot skip it.
	var created []string
	succeeded := false
	defer func() {
		if succeeded || len(created) == 0 {
			return
		}
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		workflows.SetStep(dctx, p, StepCleaningUp)
		var out ebsact.DeleteRestoreVolumesResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, ec2Cleanup), ebs.DeleteRestoreVolumes,
			ebsact.DeleteRestoreVolumesInput{Region: in.Region, VolumeIDs: created}).Get(dctx, &out)
		if err != nil {
			workflow.GetLogger(ctx).Error("Cleanup failed: restored volumes left behind", "volumes", created, "error", err)
			return
		}
		workflow.GetLogger(ctx).Info("Restore cleaned up", "deleted", out.Deleted, "kept", out.Kept)
	}()

	workflows.SetStep(ctx, p, StepVolumes)
	// On cancellation, creations in flight are waited for, so that every
	// volume made is known to the cleanup.
	cctx := workflow.WithActivityOptions(ctx, ec2Call)
	cctx = workflow.WithWaitForCancellation(cctx, true)
	creating := make([]workflow.Future, 0, len(plan.Snapshots))
	for _, s := range plan.Snapshots {
		creating = append(creating, workflow.ExecuteActivity(cctx, ebs.CreateRestoreVolume, ebsact.CreateRestoreVolumeInput{
			Region: in.Region, AvailabilityZone: in.AvailabilityZone, SnapshotID: s.SnapshotID, Device: s.Device,
			GroupID: plan.GroupID, RestoreID: restoreID,
		}))
	}
	var firstErr error
	for i, f := range creating {
		var v ebsact.CreateRestoreVolumeResult
		if err := f.Get(ctx, &v); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		created = append(created, v.VolumeID)
		s := plan.Snapshots[i]
		res.Volumes = append(res.Volumes, RestoredVolume{Device: s.Device, SnapshotID: s.SnapshotID, VolumeID: v.VolumeID})
		p.Volumes = len(created)
		workflows.SetStep(ctx, p, StepVolumes)
	}
	if firstErr != nil {
		return nil, p.fail(ctx, firstErr)
	}
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Poll(time.Hour)), ebs.WaitRestoreVolumes,
		ebsact.WaitRestoreVolumesInput{Region: in.Region, VolumeIDs: created}).Get(ctx, nil)
	if err != nil {
		return nil, p.fail(ctx, err)
	}

	workflows.SetStep(ctx, p, StepAttaching)
	actx := workflow.WithActivityOptions(ctx, ec2Poll(30*time.Minute))
	for _, v := range res.Volumes {
		err := workflow.ExecuteActivity(actx, ebs.AttachRestoreVolume, ebsact.AttachRestoreVolumeInput{
			Region: in.Region, VolumeID: v.VolumeID, InstanceID: in.TargetInstanceID, Device: v.Device,
		}).Get(ctx, nil)
		if err != nil {
			return nil, p.fail(ctx, err)
		}
		p.Attached++
		workflows.SetStep(ctx, p, StepAttaching)
	}
	succeeded = true
	workflows.SetStep(ctx, p, workflows.StepDone)
	return res, nil
}

func checkRestore(in RestoreInput) error {
	if err := checkRegion(in.Region); err != nil {
		return err
	}
	switch {
	case in.GroupID == "" && (in.SourceInstanceID == "" || in.At == nil):
		return invalid("give a group id, or a source instance and a time")
	case in.TargetInstanceID == "":
		return invalid("no target instance given")
	case in.AvailabilityZone == "":
		return invalid("no availability zone given")
	}
	return nil
}
