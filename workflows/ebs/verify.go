package ebs

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// VerifyName is the SnapshotsVerify workflow's type name, as given to
// `temporal workflow start --type`.
const VerifyName = "SnapshotsVerify"

// StepVerifying is SnapshotsVerify's step while it reads the group.
const StepVerifying = "verifying"

// VerifyInput is the SnapshotsVerify workflow's input: one snapshot group
// in a region (its source region, or a destination holding its copies).
type VerifyInput struct {
	Region  string `json:"region"`
	GroupID string `json:"groupId"`
}

// VerifyResult is a group found sound (also the details of the failure of
// one that is not).
type VerifyResult struct {
	Region string `json:"region"`
	ebsact.VerifySnapshotGroupResult
	// Verified is the lifeboat:verified tag value written on the group's
	// snapshots.
	Verified string `json:"verified"`
}

// VerifyWorkflowID names a verify run after its group and start time.
func VerifyWorkflowID(in VerifyInput, now time.Time) string {
	return "snapshots-verify-" + in.GroupID + "-" + now.UTC().Format("20060102T150405.000Z")
}

// Verify checks one snapshot group without changing it: every snapshot
// present and completed, the lineage tags consistent, and a completed copy
// of each in every region its Copy_Dest names. The outcome is tagged on
// the group's snapshots, primaries and copies (lifeboat:verified =
// <time>:<ok|failed>), which snapshots list shows. A group that is not
// sound fails the run with BackupCorrupt and one message naming the
// snapshot, copy or region at fault; a group not found, with InvalidInput.
func Verify(ctx workflow.Context, in VerifyInput) (*VerifyResult, error) {
	p, err := startProgress(ctx, "verify", in.Region, []string{in.Region}, false)
	if err != nil {
		return nil, err
	}
	if !ebstags.ValidRegion(in.Region) || strings.TrimSpace(in.GroupID) == "" {
		return nil, p.fail(ctx, invalid("verify needs a region (like us-east-1) and a group id, got %q and %q", in.Region, in.GroupID))
	}
	workflows.SetStep(ctx, p, StepVerifying)
	at := workflow.Now(ctx).UTC().Truncate(time.Second)
	var got ebsact.VerifySnapshotGroupResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ec2Call), ebs.VerifySnapshotGroup, ebsact.VerifySnapshotGroupInput{
		Region: in.Region, GroupID: in.GroupID, At: at,
	}).Get(ctx, &got)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	p.Validated, p.Snapshots = true, got.Snapshots
	res := &VerifyResult{Region: in.Region, VerifySnapshotGroupResult: got, Verified: ebstags.FormatVerified(at, got.Problem == "")}
	if got.Problem != "" {
		p.Failed = 1
		return nil, p.fail(ctx, temporal.NewNonRetryableApplicationError(got.Problem, activities.ErrBackupCorrupt, nil, res))
	}
	workflows.SetStep(ctx, p, workflows.StepDone)
	return res, nil
}
