package client

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// StartSnapshotVerify starts a SnapshotsVerify and waits until the group
// has been read. A group not found returns an InvalidInputError; a group
// that is not sound may already return its WorkflowFailedError here
// (BackupCorrupt), the check being one short step.
func (c *Client) StartSnapshotVerify(ctx context.Context, in ebs.VerifyInput) (Run, error) {
	if !ebstags.ValidRegion(in.Region) {
		return Run{}, &InvalidInputError{Msg: fmt.Sprintf("%q is not an AWS region name (like us-east-1)", in.Region)}
	}
	if in.GroupID == "" {
		return Run{}, &InvalidInputError{Msg: "no snapshot group to verify"}
	}
	id := ebs.VerifyWorkflowID(in, c.Now())
	summary := fmt.Sprintf("verify snapshot group %s in %s", in.GroupID, in.Region)
	return c.startSnapshot(ctx, id, ebs.VerifyName, summary, in, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
}

// WaitSnapshotVerify waits for a SnapshotsVerify. A group that is not
// sound returns a WorkflowFailedError of type BackupCorrupt whose message
// names the snapshot, copy or region at fault.
func (c *Client) WaitSnapshotVerify(ctx context.Context, workflowID string, onProgress func(ebs.Progress)) (*ebs.VerifyResult, error) {
	var res ebs.VerifyResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}
