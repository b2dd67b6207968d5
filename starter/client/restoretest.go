package client

import (
	"context"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// StartDatasetRestoreTest starts a DatasetRestoreTest and waits until it
// has found the backups to restore. Bad input, a missing environment,
// bucket or backup returns an InvalidInputError; nothing was made.
func (c *Client) StartDatasetRestoreTest(ctx context.Context, in dataset.RestoreTestInput) (Run, error) {
	if err := in.Validate(); err != nil {
		return Run{}, &InvalidInputError{Msg: err.Error()}
	}
	return c.start(ctx, dataset.RestoreTestWorkflowID(in, c.Now()), dataset.RestoreTestName, restoreTestSummary(in), in)
}

func restoreTestSummary(in dataset.RestoreTestInput) string {
	what := "every dataset of " + in.EnvID
	if len(in.DatasetIDs) > 0 {
		what = in.EnvID + "/" + strings.Join(in.DatasetIDs, ",")
	}
	return fmt.Sprintf("restore test of %s from %s", what, in.BackupLocation)
}

// WaitDatasetRestoreTest waits for a DatasetRestoreTest. A failed test
// returns a WorkflowFailedError whose message is the one-line reason.
func (c *Client) WaitDatasetRestoreTest(ctx context.Context, workflowID string, onProgress func(dataset.Progress)) (*dataset.RestoreTestResult, error) {
	var res dataset.RestoreTestResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}

func checkSnapshotsRestoreTest(in ebs.RestoreTestInput) error {
	switch {
	case !ebstags.ValidRegion(in.Region):
		return &InvalidInputError{Msg: fmt.Sprintf("%q is not an AWS region name (like us-east-1)", in.Region)}
	case in.GroupID == "" && in.InstanceID == "":
		return &InvalidInputError{Msg: "give a snapshot group id or an instance id"}
	case in.AvailabilityZone == "":
		return &InvalidInputError{Msg: "no availability zone given"}
	}
	return nil
}

// StartSnapshotsRestoreTest starts a SnapshotsRestoreTest and waits until
// the group has been found whole; a refusal returns an InvalidInputError
// and no volume was made.
func (c *Client) StartSnapshotsRestoreTest(ctx context.Context, in ebs.RestoreTestInput) (Run, error) {
	if err := checkSnapshotsRestoreTest(in); err != nil {
		return Run{}, err
	}
	what := in.GroupID
	if what == "" {
		what = "newest group of " + in.InstanceID
	}
	summary := fmt.Sprintf("restore test of %s in %s", what, in.AvailabilityZone)
	return c.startSnapshot(ctx, ebs.RestoreTestWorkflowID(in, c.Now()), ebs.RestoreTestName, summary, in, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
}

// WaitSnapshotsRestoreTest waits for a SnapshotsRestoreTest.
func (c *Client) WaitSnapshotsRestoreTest(ctx context.Context, workflowID string, onProgress func(ebs.Progress)) (*ebs.RestoreTestResult, error) {
	var res ebs.RestoreTestResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}

// CreateDatasetRestoreTestSchedule creates a Temporal Schedule that starts
// a DatasetRestoreTest of in on s's timetable.
func (c *Client) CreateDatasetRestoreTestSchedule(ctx context.Context, s Schedule, in dataset.RestoreTestInput) error {
	if err := in.Validate(); err != nil {
		return &InvalidInputError{Msg: err.Error()}
	}
	return c.createSchedule(ctx, s, dataset.RestoreTestName, dataset.OpRestoreTest, "scheduled "+restoreTestSummary(in), in)
}

// CreateSnapshotsRestoreTestSchedule creates a Temporal Schedule that
// starts a SnapshotsRestoreTest of in on s's timetable.
func (c *Client) CreateSnapshotsRestoreTestSchedule(ctx context.Context, s Schedule, in ebs.RestoreTestInput) error {
	if err := checkSnapshotsRestoreTest(in); err != nil {
		return err
	}
	what := in.GroupID
	if what == "" {
		what = "newest group of " + in.InstanceID
	}
	return c.createSchedule(ctx, s, ebs.RestoreTestName, "snapshots-restore-test", fmt.Sprintf("scheduled restore test of %s in %s", what, in.AvailabilityZone), in)
}
