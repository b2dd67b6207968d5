package ebs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

func runSnapshotsVerify(t *testing.T, in ebs.VerifyInput, problem string) (*testsuite.TestWorkflowEnvironment, *ebsact.VerifySnapshotGroupInput) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(time.Date(2026, 12, 2, 3, 4, 5, 600e6, time.UTC))
	env.RegisterWorkflowWithOptions(ebs.Verify, workflow.RegisterOptions{Name: ebs.VerifyName})
	env.RegisterActivity(&ebsact.EBS{})
	var got *ebsact.VerifySnapshotGroupInput
	env.OnActivity("VerifySnapshotGroup", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in ebsact.VerifySnapshotGroupInput) (*ebsact.VerifySnapshotGroupResult, error) {
			got = &in
			return &ebsact.VerifySnapshotGroupResult{GroupID: in.GroupID, Snapshots: 2, Problem: problem, Tagged: 2}, nil
		}).Maybe()
	env.ExecuteWorkflow(ebs.VerifyName, in)
	return env, got
}

func TestSnapshotsVerifySound(t *testing.T) {
	env, in := runSnapshotsVerify(t, ebs.VerifyInput{Region: "us-east-1", GroupID: "lbg-i-1-20261202"}, "")
	require.NoError(t, env.GetWorkflowError())
	var res ebs.VerifyResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "2026-12-02T03:04:05Z:ok", res.Verified)
	require.Equal(t, time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC), in.At, "the tag's time is the workflow's, to the second")
	require.Equal(t, 2, res.Tagged)
}

func TestSnapshotsVerifyProblemFailsTheRun(t *testing.T) {
	env, _ := runSnapshotsVerify(t, ebs.VerifyInput{Region: "us-east-1", GroupID: "lbg-i-1-20261202"}, "group lbg-i-1-20261202 in us-east-1: no copy of snapshot snap-1 (/dev/sdf) in us-west-2, which Copy_Dest names")
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	require.Equal(t, activities.ErrBackupCorrupt, app.Type())
	require.Contains(t, app.Message(), "in us-west-2")
	var res ebs.VerifyResult
	require.NoError(t, app.Details(&res), "the failure carries the result")
	require.Equal(t, "2026-12-02T03:04:05Z:failed", res.Verified)
}

func TestSnapshotsVerifyRefusesBadInput(t *testing.T) {
	env, in := runSnapshotsVerify(t, ebs.VerifyInput{Region: "mars", GroupID: "g"}, "")
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	require.Equal(t, activities.ErrInvalidInput, app.Type())
	require.Nil(t, in, "nothing is read")
}
