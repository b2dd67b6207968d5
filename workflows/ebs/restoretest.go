package ebs

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// RestoreTestName is the SnapshotsRestoreTest workflow's type name.
const RestoreTestName = "SnapshotsRestoreTest"

// Steps of a snapshots restore test (besides StepPlanning, StepVolumes,
// StepCleaningUp and the common ones).
const (
	StepWaitingVolumes = "waiting-for-volumes"
	StepChecking       = "checking-volumes"
	StepCheckCommand   = "running-check-command"
	StepTagging        = "tagging"
)

// RestoreTestInput is the SnapshotsRestoreTest workflow's input.
type RestoreTestInput struct {
	Region string `json:"region"`
	// GroupID names the group; or InstanceID, whose newest complete group
	// is restored.
	GroupID          string `json:"groupId,omitempty"`
	InstanceID       string `json:"instanceId,omitempty"`
	AvailabilityZone string `json:"availabilityZone"`
	// CheckCommand, when set, is run by the worker (/bin/sh -c) once the
	// volumes are checked, with LIFEBOAT_SCRATCH_* variables naming them;
	// a non-zero exit fails the test.
	CheckCommand        string `json:"checkCommand,omitempty"`
	CheckTimeoutSeconds int    `json:"checkTimeoutSeconds,omitempty"`
}

// RestoreTestResult is a passed snapshots restore test.
type RestoreTestResult struct {
	Region           string    `json:"region"`
	GroupID          string    `json:"groupId"`
	InstanceID       string    `json:"instanceId"`
	Generation       int       `json:"generation"`
	CreatedAt        time.Time `json:"createdAt"`
	AvailabilityZone string    `json:"availabilityZone"`
	// RTOSeconds is how long the volumes took, from the first create
	// until all were available.
	RTOSeconds float64          `json:"rtoSeconds"`
	Volumes    []RestoredVolume `json:"volumes"`
	// RestoreTested is the lifeboat:restore-tested tag written on the
	// group's snapshots.
	RestoreTested string `json:"restoreTested"`
	CheckOutput   string `json:"checkOutput,omitempty"`
	// Deleted are the scratch volumes deleted afterwards.
	Deleted []string `json:"deleted,omitempty"`
}

// RestoreTestWorkflowID names a restore test after its group (or
// instance) and start time.
func RestoreTestWorkflowID(in RestoreTestInput, now time.Time) string {
	what := in.GroupID
	if what == "" {
		what = in.InstanceID
	}
	return "snapshots-restore-test-" + what + "-" + now.UTC().Format("20060102T150405.000Z")
}

func checkRestoreTest(in RestoreTestInput) error {
	if err := checkRegion(in.Region); err != nil {
		return err
	}
	switch {
	case in.GroupID == "" && in.InstanceID == "":
		return invalid("give a group id or an instance id")
	case strings.TrimSpace(in.AvailabilityZone) == "":
		return invalid("no availability zone given")
	case in.CheckTimeoutSeconds < 0:
		return invalid("the check timeout cannot be negative")
	}
	return nil
}

// RestoreTest proves that a snapshot group restores: it makes one volume
// per snapshot of the group in the availability zone (tagged
// lifeboat:restore-test=<workflow id>, client tokens from the workflow id
// and snapshot, so retries make no second volume), waits until all are
// available (the RTO), checks each volume's snapshot, size and zone, runs
// the user's check command if given, and tags the group's snapshots with
// the outcome (lifeboat:restore-tested). The volumes it made, found by
// their tag and no other, are deleted on every exit path, failure and
// cancellation included. The source instance and its volumes are never
// touched.
func RestoreTest(ctx workflow.Context, in RestoreTestInput) (res *RestoreTestResult, err error) {
	p, err := startProgress(ctx, "restore-test", in.Region, []string{in.Region}, false)
	if err != nil {
		return nil, err
	}
	if err := checkRestoreTest(in); err != nil {
		return nil, p.fail(ctx, err)
	}
	workflows.SetStep(ctx, p, StepPlanning)
	var plan ebsact.PlanVolumeRestoreResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Call), ebs.PlanSnapshotsRestoreTest, ebsact.PlanSnapshotsRestoreTestInput{
		Region: in.Region, GroupID: in.GroupID, InstanceID: in.InstanceID,
	}).Get(ctx, &plan)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	p.Validated, p.Snapshots = true, len(plan.Snapshots)
	testID := workflow.GetInfo(ctx).WorkflowExecution.ID
	out := &RestoreTestResult{
		Region: in.Region, GroupID: plan.GroupID, InstanceID: plan.InstanceID, Generation: plan.Generation,
		CreatedAt: plan.CreatedAt, AvailabilityZone: in.AvailabilityZone,
	}

	// The volumes go on every exit path, found by their tag (so one whose
	// create answer was lost goes too), on a disconnected context.
	defer func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		workflows.SetStep(dctx, p, StepCleaningUp)
		var del ebsact.DeleteScratchVolumesResult
		cerr := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, ec2Cleanup), ebs.DeleteScratchVolumes,
			ebsact.DeleteScratchVolumesInput{Region: in.Region, RestoreTestID: testID}).Get(dctx, &del)
		if cerr != nil {
			workflow.GetLogger(ctx).Error("Scratch volumes left behind", "restoreTest", testID, "error", cerr)
			if err == nil {
				res, err = nil, p.fail(dctx, temporal.NewNonRetryableApplicationError(
					"restore test passed, but its scratch volumes could not be deleted: "+errMessage(cerr), activities.ErrRestoreTestFailed, cerr))
			}
			return
		}
		if res != nil {
			res.Deleted = del.Deleted
			workflows.SetStep(dctx, p, workflows.StepDone)
		} else {
			workflows.SetStep(dctx, p, workflows.StepFailed)
		}
	}()

	rto, testErr := restoreTestVolumes(ctx, in, plan, testID, p, out)
	if temporal.IsCanceledError(testErr) || ctx.Err() != nil {
		return nil, p.fail(ctx, testErr) // no verdict: nothing tagged
	}
	workflows.RecordRestoreTest(ctx, "snapshots", in.Region+"/"+plan.InstanceID, rto, testErr == nil)
	workflows.SetStep(ctx, p, StepTagging)
	ids := make([]string, len(plan.Snapshots))
	for i, s := range plan.Snapshots {
		ids[i] = s.SnapshotID
	}
	var tagged ebsact.TagRestoreTestedResult
	terr := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Call), ebs.TagRestoreTested, ebsact.TagRestoreTestedInput{
		Region: in.Region, SnapshotIDs: ids, At: workflow.Now(ctx).UTC().Truncate(time.Second), OK: testErr == nil, RTO: rto,
	}).Get(ctx, &tagged)
	if testErr == nil {
		testErr = terr
	}
	if testErr != nil {
		p.Failed = 1
		return nil, p.fail(ctx, testErr)
	}
	out.RestoreTested = tagged.Value
	return out, nil
}

// restoreTestVolumes makes the volumes, waits for them and checks them.
// Its error is the test's verdict.
func restoreTestVolumes(ctx workflow.Context, in RestoreTestInput, plan ebsact.PlanVolumeRestoreResult, testID string, p *Progress, out *RestoreTestResult) (time.Duration, error) {
	workflows.SetStep(ctx, p, StepVolumes)
	start := workflow.Now(ctx)
	// On cancellation, creations in flight are waited for, so the cleanup
	// (which finds volumes by tag) sees every volume made.
	cctx := workflow.WithWaitForCancellation(workflow.WithActivityOptions(ctx, ec2Call), true)
	creating := make([]workflow.Future, len(plan.Snapshots))
	for i, s := range plan.Snapshots {
		creating[i] = workflow.ExecuteActivity(cctx, ebs.CreateRestoreVolume, ebsact.CreateRestoreVolumeInput{
			Region: in.Region, AvailabilityZone: in.AvailabilityZone, SnapshotID: s.SnapshotID, Device: s.Device,
			GroupID: plan.GroupID, RestoreID: testID, RestoreTest: true,
		})
	}
	var firstErr error
	var vols []ebsact.ScratchVolume
	for i, f := range creating {
		var v ebsact.CreateRestoreVolumeResult
		if err := f.Get(ctx, &v); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		s := plan.Snapshots[i]
		vols = append(vols, ebsact.ScratchVolume{VolumeID: v.VolumeID, SnapshotID: s.SnapshotID, Device: s.Device, SizeGiB: s.SizeGiB})
		out.Volumes = append(out.Volumes, RestoredVolume{Device: s.Device, SnapshotID: s.SnapshotID, VolumeID: v.VolumeID})
		p.Volumes = len(vols)
		workflows.SetStep(ctx, p, StepVolumes)
	}
	if firstErr != nil {
		return 0, firstErr
	}
	workflows.SetStep(ctx, p, StepWaitingVolumes)
	ids := make([]string, len(vols))
	for i, v := range vols {
		ids[i] = v.VolumeID
	}
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Poll(time.Hour)), ebs.WaitRestoreVolumes,
		ebsact.WaitRestoreVolumesInput{Region: in.Region, VolumeIDs: ids}).Get(ctx, nil)
	if err != nil {
		return 0, err
	}
	rto := workflow.Now(ctx).Sub(start)
	out.RTOSeconds = rto.Seconds()

	workflows.SetStep(ctx, p, StepChecking)
	var checked ebsact.CheckScratchVolumesResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Call), ebs.CheckScratchVolumes, ebsact.CheckScratchVolumesInput{
		Region: in.Region, AvailabilityZone: in.AvailabilityZone, Volumes: vols,
	}).Get(ctx, &checked)
	if err != nil {
		return rto, err
	}
	if checked.Problem != "" {
		return rto, temporal.NewNonRetryableApplicationError(checked.Problem, activities.ErrRestoreTestFailed, nil)
	}

	if strings.TrimSpace(in.CheckCommand) != "" {
		workflows.SetStep(ctx, p, StepCheckCommand)
		pairs := make([]string, len(vols))
		for i, v := range vols {
			pairs[i] = v.Device + "=" + v.VolumeID
		}
		d := activities.DefaultCheckTimeout
		if in.CheckTimeoutSeconds > 0 {
			d = time.Duration(in.CheckTimeoutSeconds) * time.Second
		}
		opts := workflow.ActivityOptions{StartToCloseTimeout: d + time.Minute, HeartbeatTimeout: ec2Heartbeat, RetryPolicy: ec2Call.RetryPolicy}
		var res activities.CheckCommandResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), checks.RunCheck, activities.CheckCommandInput{
			Command: in.CheckCommand, TimeoutSeconds: in.CheckTimeoutSeconds,
			Env: map[string]string{
				"LIFEBOAT_SCRATCH_VOLUMES": strings.Join(pairs, ","), "LIFEBOAT_SCRATCH_VOLUME_IDS": strings.Join(ids, ","),
				"LIFEBOAT_REGION": in.Region, "LIFEBOAT_AVAILABILITY_ZONE": in.AvailabilityZone, "LIFEBOAT_GROUP_ID": plan.GroupID,
				"AWS_REGION": in.Region,
			},
		}).Get(ctx, &res)
		if err != nil {
			return rto, err
		}
		out.CheckOutput = res.Output
	}
	return rto, nil
}
