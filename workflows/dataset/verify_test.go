package dataset_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

const verifyManifestKey = "lifeboat/e1/initial/ds-a/" + sourceBackupID + "/manifest.json"

// verifyFixture runs DatasetVerify with FindBackupToVerify and VerifyBackup
// mocked; it records what VerifyBackup was asked to check.
type verifyFixture struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu        sync.Mutex
	calls     []string
	verified  []datasetact.VerifyBackupInput
	heartbeat time.Duration // VerifyBackup's heartbeat timeout
	tags      map[string]any
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(dataset.Verify, workflow.RegisterOptions{Name: dataset.VerifyName})
	env.RegisterActivity(&datasetact.Datasets{})
	env.RegisterActivity(&datasetact.BackupFiles{})
	fx := &verifyFixture{t: t, env: env, tags: map[string]any{}}
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		fx.mu.Lock()
		defer fx.mu.Unlock()
		if v, ok := sa.GetKeyword(workflows.SAOperation); ok {
			fx.tags["operation"] = v
		}
		if v, ok := sa.GetKeyword(workflows.SAEnvironment); ok {
			fx.tags["env"] = v
		}
		if v, ok := sa.GetKeywordList(workflows.SADatasets); ok {
			fx.tags["datasets"] = v
		}
	}).Return(nil)
	return fx
}

func (fx *verifyFixture) record(call string) {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	fx.calls = append(fx.calls, call)
}

func (fx *verifyFixture) count(call string) int {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	n := 0
	for _, c := range fx.calls {
		if c == call {
			n++
		}
	}
	return n
}

// found is what FindBackupToVerify resolves every request to.
func found() *datasetact.FindBackupToVerifyResult {
	loc, _ := backupstore.ParseLocation(backupLocation)
	return &datasetact.FindBackupToVerifyResult{
		Location: loc, ManifestKey: verifyManifestKey, ManifestURL: "s3://backups/" + verifyManifestKey,
		BackupID: sourceBackupID, EnvID: envID, StoreID: "initial", DatasetID: "ds-a",
		CutTime: start.Add(-36 * time.Hour), Format: backupstore.ManifestFormat, ItemCount: 120, Bytes: 4096, Objects: 3,
	}
}

// run mocks the activities and runs DatasetVerify: the backup is found
// unless findErr is set, and VerifyBackup takes scan of workflow time and
// then fails with verifyErr or succeeds.
func (fx *verifyFixture) run(in dataset.VerifyInput, findErr error, scan time.Duration, verifyErr error) {
	fx.t.Helper()
	fx.env.OnActivity("FindBackupToVerify", mock.Anything, mock.Anything).Return(
		func(_ context.Context, got datasetact.FindBackupToVerifyInput) (*datasetact.FindBackupToVerifyResult, error) {
			fx.record("FindBackupToVerify")
			require.Equal(fx.t, datasetact.FindBackupToVerifyInput{
				BackupLocation: in.BackupLocation, EnvID: in.EnvID, DatasetID: in.DatasetID, SourceEnvID: in.SourceEnvID, BackupID: in.BackupID,
			}, got)
			if findErr != nil {
				return nil, findErr
			}
			return found(), nil
		})
	fx.env.OnActivity("VerifyBackup", mock.Anything, mock.Anything).After(scan).Return(
		func(ctx context.Context, got datasetact.VerifyBackupInput) (*datasetact.VerifyBackupResult, error) {
			fx.record("VerifyBackup")
			fx.mu.Lock()
			fx.verified = append(fx.verified, got)
			fx.heartbeat = activity.GetInfo(ctx).HeartbeatTimeout
			fx.mu.Unlock()
			if verifyErr != nil {
				return nil, verifyErr
			}
			return &datasetact.VerifyBackupResult{DataPrefix: "x/data/", ItemCount: 120, Objects: 3, Bytes: 4096, Deep: true}, nil
		})
	fx.env.OnActivity("CheckBackup", mock.Anything, mock.Anything).Return(
		func(context.Context, datasetact.VerifyBackupInput) (*datasetact.VerifyBackupResult, error) {
			fx.record("CheckBackup")
			return &datasetact.VerifyBackupResult{ItemCount: 120, Objects: 3, Bytes: 4096}, nil
		})
	fx.env.ExecuteWorkflow(dataset.VerifyName, in)
	require.True(fx.t, fx.env.IsWorkflowCompleted())
}

func (fx *verifyFixture) progress() dataset.Progress {
	fx.t.Helper()
	v, err := fx.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(fx.t, err)
	var p dataset.Progress
	require.NoError(fx.t, v.Get(&p))
	return p
}

func (fx *verifyFixture) requireFailed(errType string) *temporal.ApplicationError {
	fx.t.Helper()
	err := fx.env.GetWorkflowError()
	require.Error(fx.t, err)
	var appErr *temporal.ApplicationError
	require.True(fx.t, errors.As(err, &appErr), "want an application error, got %v", err)
	require.Equal(fx.t, errType, appErr.Type())
	return appErr
}

func verifyInput() dataset.VerifyInput {
	return dataset.VerifyInput{BackupLocation: backupLocation, EnvID: envID, DatasetID: "ds-a"}
}

// A sound backup: the backup found is downloaded and checked (VerifyBackup,
// not CheckBackup's listing), with objectScan's heartbeat, and the result
// is what was checked.
func TestVerifyChecksTheBackupFoundDeeply(t *testing.T) {
	t.Parallel()
	fx := newVerifyFixture(t)
	var during dataset.Progress
	fx.env.RegisterDelayedCallback(func() { during = fx.progress() }, 10*time.Minute)
	fx.run(verifyInput(), nil, time.Hour, nil)
	require.NoError(t, fx.env.GetWorkflowError())

	var res dataset.VerifyResult
	require.NoError(t, fx.env.GetWorkflowResult(&res))
	f := found()
	require.Equal(t, dataset.VerifyResult{
		EnvID: envID, StoreID: "initial", DatasetID: "ds-a", BackupID: sourceBackupID, CutTime: f.CutTime,
		ManifestURL: f.ManifestURL, Objects: 3, ItemCount: 120, Bytes: 4096,
	}, res)
	require.Equal(t, []datasetact.VerifyBackupInput{{Location: f.Location, ManifestKey: verifyManifestKey, Record: true}}, fx.verified)
	require.Zero(t, fx.count("CheckBackup"), "a metadata check is not a verify")
	require.Equal(t, time.Minute, fx.heartbeat, "VerifyBackup runs with objectScan's options")

	// While the scan runs, the progress query shows it.
	require.Equal(t, dataset.OpVerify, during.Operation)
	require.Equal(t, dataset.StepVerifying, during.Step)
	require.True(t, during.Validated)
	require.Len(t, during.Datasets, 1)
	require.Equal(t, dataset.StepVerifying, during.Datasets[0].Step)
	require.Contains(t, during.Datasets[0].Detail, sourceBackupID)

	p := fx.progress()
	require.Equal(t, workflows.StepDone, p.Step)
	require.Empty(t, p.Error)
	require.Equal(t, dataset.DatasetProgress{
		EnvID: envID, DatasetID: "ds-a", Step: workflows.StepDone, Items: 120, Bytes: 4096,
		Detail: "backup " + sourceBackupID + " is sound: 3 objects, 120 items, 4096 bytes checked",
	}, p.Datasets[0])
	require.Equal(t, map[string]any{"operation": "verify", "env": envID, "datasets": []string{envID + "/ds-a"}}, fx.tags)
}

// A corrupt backup fails the run with BackupCorrupt and the activity's
// message, once (not retried), and the progress says so.
func TestVerifyCorruptBackupFails(t *testing.T) {
	t.Parallel()
	fx := newVerifyFixture(t)
	in := verifyInput()
	in.BackupID, in.SourceEnvID = sourceBackupID, "e0"
	msg := "backup " + sourceBackupID + ": s3://backups/x/data/a.json.gz does not match the manifest: md5 AAA, manifest says BBB"
	fx.run(in, nil, time.Minute, appError(msg, activities.ErrBackupCorrupt))

	appErr := fx.requireFailed(activities.ErrBackupCorrupt)
	require.Equal(t, msg, appErr.Message())
	require.Equal(t, 1, fx.count("VerifyBackup"), "BackupCorrupt is not retried")
	p := fx.progress()
	require.Equal(t, workflows.StepFailed, p.Step)
	require.Contains(t, p.Error, "a.json.gz does not match the manifest")
	require.Equal(t, workflows.StepFailed, p.Datasets[0].Step)
}

// No such backup (or bucket) is InvalidInput, found before anything is
// downloaded: the client reports it as bad input.
func TestVerifyNoSuchBackupIsInvalidInput(t *testing.T) {
	t.Parallel()
	fx := newVerifyFixture(t)
	fx.run(verifyInput(), appError(`no complete backup of dataset "ds-a" under s3://backups/lifeboat`, activities.ErrInvalidInput), 0, nil)

	fx.requireFailed(activities.ErrInvalidInput)
	require.Zero(t, fx.count("VerifyBackup"))
	p := fx.progress()
	require.False(t, p.Validated)
	require.Equal(t, workflows.StepFailed, p.Step)
}

// A transient failure of the scan is retried, with objectScan's policy.
func TestVerifyRetriesATransientFailure(t *testing.T) {
	t.Parallel()
	fx := newVerifyFixture(t)
	fails := 2
	fx.env.OnActivity("VerifyBackup", mock.Anything, mock.Anything).Return(
		func(context.Context, datasetact.VerifyBackupInput) (*datasetact.VerifyBackupResult, error) {
			fx.record("VerifyBackup")
			if fx.count("VerifyBackup") <= fails {
				return nil, errors.New("connection reset")
			}
			return &datasetact.VerifyBackupResult{ItemCount: 120, Objects: 3, Bytes: 4096, Deep: true}, nil
		})
	fx.run(verifyInput(), nil, 0, nil)
	require.NoError(t, fx.env.GetWorkflowError())
	require.Equal(t, fails+1, fx.count("VerifyBackup"))
}
