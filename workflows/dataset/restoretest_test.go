package dataset_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// restoreTestFixture runs DatasetRestoreTest with its activities mocked
// and the child DatasetRestore replaced by restore.
type restoreTestFixture struct {
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	deleted  []datasetact.ScratchEnvInput
	records  []backupstore.RestoreTest
	sampled  int
	commands int
}

func newRestoreTestFixture(t *testing.T, restore func(workflow.Context, dataset.RestoreInput) (*dataset.RestoreResult, error)) *restoreTestFixture {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(dataset.RestoreTest, workflow.RegisterOptions{Name: dataset.RestoreTestName})
	env.RegisterWorkflowWithOptions(restore, workflow.RegisterOptions{Name: dataset.RestoreName})
	env.RegisterActivity(&datasetact.Datasets{})
	env.RegisterActivity(&datasetact.BackupFiles{})
	env.RegisterActivity(&datasetact.RestoreTests{})
	env.RegisterActivity(&activities.Checks{})
	env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil)
	fx := &restoreTestFixture{env: env}
	loc := backupstore.Location{Bucket: "b", Prefix: "lifeboat"}
	env.OnActivity("PlanRestoreTest", mock.Anything, mock.Anything).Return(&datasetact.PlanRestoreTestResult{
		Targets: []datasetact.RestoreTestTarget{{DatasetID: "ds-a", Location: loc, ManifestKey: verifyManifestKey, BackupID: sourceBackupID, ItemCount: 10}},
	}, nil)
	env.OnActivity("CreateScratchEnv", mock.Anything, mock.Anything).Return(&datasetact.ScratchEnvResult{}, nil)
	env.OnActivity("DeleteScratchEnv", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in datasetact.ScratchEnvInput) (*datasetact.ScratchEnvResult, error) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.deleted = append(fx.deleted, in)
			return &datasetact.ScratchEnvResult{Tables: []string{"t"}}, nil
		})
	env.OnActivity("SampleRestored", mock.Anything, mock.Anything).Return(
		func(context.Context, datasetact.SampleRestoredInput) (*datasetact.SampleRestoredResult, error) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.sampled++
			return &datasetact.SampleRestoredResult{Sampled: 10}, nil
		})
	env.OnActivity("RunCheck", mock.Anything, mock.Anything).Return(
		func(context.Context, activities.CheckCommandInput) (*activities.CheckCommandResult, error) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.commands++
			return nil, temporal.NewNonRetryableApplicationError("check command exited 2: bad rows", activities.ErrCheckCommand, nil)
		})
	env.OnActivity("RecordRestoreTest", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in datasetact.RecordRestoreTestInput) (*datasetact.RecordRestoreTestResult, error) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.records = append(fx.records, in.Record)
			return &datasetact.RecordRestoreTestResult{}, nil
		})
	return fx
}

var restoreTestInput = dataset.RestoreTestInput{EnvID: "e1", BackupLocation: "s3://b/lifeboat"}

// The restore step fails: the scratch environment is still deleted (the
// one it was to restore into), the failure is recorded with its reason,
// and nothing is sampled.
func TestRestoreTestCleansUpWhenTheRestoreFails(t *testing.T) {
	var target string
	fx := newRestoreTestFixture(t, func(_ workflow.Context, in dataset.RestoreInput) (*dataset.RestoreResult, error) {
		target = in.Datasets[0].EnvID
		return nil, temporal.NewNonRetryableApplicationError("import into x FAILED: boom", activities.ErrImportFailed, nil)
	})
	fx.env.ExecuteWorkflow(dataset.RestoreTestName, restoreTestInput)
	require.True(t, fx.env.IsWorkflowCompleted())
	err := fx.env.GetWorkflowError()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "error %v", err)
	require.Equal(t, activities.ErrImportFailed, app.Type())
	require.Contains(t, app.Message(), "boom")

	require.Len(t, fx.deleted, 1, "scratch environment not deleted")
	require.Equal(t, target, fx.deleted[0].ScratchEnvID, "the cleanup deleted another environment than the restore's target")
	require.NotEqual(t, "e1", target, "restored into the live environment")
	require.Contains(t, target, "e1-rt-")
	require.Len(t, fx.records, 1)
	require.Equal(t, backupstore.VerifiedFailed, fx.records[0].Outcome)
	require.Contains(t, fx.records[0].Problem, "boom")
	require.Zero(t, fx.sampled)
}

// A failing check command fails the test with its output, after the
// sample, and the scratch environment is deleted.
func TestRestoreTestCheckCommandFails(t *testing.T) {
	fx := newRestoreTestFixture(t, func(_ workflow.Context, in dataset.RestoreInput) (*dataset.RestoreResult, error) {
		d := in.Datasets[0]
		return &dataset.RestoreResult{StoreID: in.NewStoreID, Datasets: []dataset.RestoreRow{{EnvID: d.EnvID, DatasetID: d.DatasetID, TableName: "t", ItemCount: 10}}}, nil
	})
	in := restoreTestInput
	in.CheckCommand = "false"
	fx.env.ExecuteWorkflow(dataset.RestoreTestName, in)
	err := fx.env.GetWorkflowError()
	require.ErrorContains(t, err, "bad rows")
	require.Equal(t, 1, fx.sampled)
	require.Equal(t, 1, fx.commands)
	require.Len(t, fx.deleted, 1)
	require.Len(t, fx.records, 1)
	require.Equal(t, backupstore.VerifiedFailed, fx.records[0].Outcome)
}

// Cancelled while restoring: the scratch environment is deleted all the
// same, and no verdict is recorded.
func TestRestoreTestCleansUpWhenCancelled(t *testing.T) {
	fx := newRestoreTestFixture(t, func(ctx workflow.Context, _ dataset.RestoreInput) (*dataset.RestoreResult, error) {
		return nil, workflow.Sleep(ctx, 24*3600*1e9)
	})
	fx.env.RegisterDelayedCallback(fx.env.CancelWorkflow, 1e9)
	fx.env.ExecuteWorkflow(dataset.RestoreTestName, restoreTestInput)
	require.True(t, temporal.IsCanceledError(fx.env.GetWorkflowError()), "error %v", fx.env.GetWorkflowError())
	require.Len(t, fx.deleted, 1)
	require.Empty(t, fx.records)
}
