package dataset_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// onRetention mocks ApplyRetention with fn, recording each call in the
// control table's call log (so order against Resume can be checked) and
// each input.
func (fx *fixture) onRetention(fn func(datasetact.ApplyRetentionInput) (*datasetact.ApplyRetentionResult, error)) *[]datasetact.ApplyRetentionInput {
	var inputs []datasetact.ApplyRetentionInput
	fx.env.OnActivity("ApplyRetention", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in datasetact.ApplyRetentionInput) (*datasetact.ApplyRetentionResult, error) {
			fx.ctl.mu.Lock()
			_ = fx.ctl.record("ApplyRetention", in.EnvID+"/"+in.DatasetID)
			inputs = append(inputs, in)
			fx.ctl.mu.Unlock()
			return fn(in)
		})
	return &inputs
}

func withRetention(in dataset.BackupInput, count, days int) dataset.BackupInput {
	in.Retention = &dataset.RetentionPolicy{Count: count, Days: days}
	return in
}

func TestBackupRetentionRunsAfterResumeAndReportsPruned(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	inputs := fx.onRetention(func(in datasetact.ApplyRetentionInput) (*datasetact.ApplyRetentionResult, error) {
		return &datasetact.ApplyRetentionResult{Deleted: []string{"old-1-" + in.DatasetID, "old-2"}, Objects: 6, Kept: 2,
			Left: []string{"initial/x: no manifest.json (in progress or failed): left alone (1 objects)"}}, nil
	})
	fx.run(dataset.BackupName, withRetention(backupInput("ds-a", "ds-b"), 2, 7))

	res := fx.backupResult()
	fx.requireRunning("ds-a", "ds-b")
	fx.requireAllBefore("Resume", "ApplyRetention")
	require.Len(t, *inputs, 2)
	for i, d := range res.Datasets {
		require.Equal(t, []string{"old-1-" + d.DatasetID, "old-2"}, d.Pruned)
		require.Len(t, d.RetentionNotes, 1)
		require.Empty(t, d.RetentionWarning)
		in := (*inputs)[i]
		if in.DatasetID != d.DatasetID {
			in = (*inputs)[1-i]
		}
		require.Equal(t, backupstore.Retention{Count: 2, Days: 7}, in.Policy)
		require.Equal(t, []string{d.BackupID}, in.Protect, "the run's own backup must be protected")
		require.Equal(t, backupstore.Location{Bucket: "backups", Prefix: "lifeboat"}, in.Location)
		require.False(t, in.Now.Before(d.CutTime), "retention clock %s before the cut %s", in.Now, d.CutTime)
	}
	p := fx.progress()
	require.Equal(t, workflows.StepDone, p.Step)
	require.Empty(t, p.Warnings)
	for _, d := range p.Datasets {
		require.Equal(t, workflows.StepDone, d.Step)
		require.Contains(t, d.Detail, "pruned 2 older backups")
	}
}

func TestBackupRetentionFailureLeavesBackupSuccessful(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	var attempts atomic.Int32
	fx.onRetention(func(in datasetact.ApplyRetentionInput) (*datasetact.ApplyRetentionResult, error) {
		if in.DatasetID == "ds-b" {
			return &datasetact.ApplyRetentionResult{Deleted: []string{"old"}}, nil
		}
		attempts.Add(1)
		return nil, errors.New("s3: service unavailable") // retryable
	})
	fx.run(dataset.BackupName, withRetention(backupInput("ds-a", "ds-b"), 1, 0))

	// The backup succeeded and stays so: results and manifests of both
	// datasets, writes resumed before retention began.
	res := fx.backupResult()
	require.Len(t, res.Datasets, 2)
	fx.requireRunning("ds-a", "ds-b", "ds-c")
	fx.requireAllBefore("Resume", "ApplyRetention")
	require.EqualValues(t, 5, attempts.Load(), "a transient retention error is retried by the activity's policy")
	a, b := res.Datasets[0], res.Datasets[1]
	require.Equal(t, fx.ctl.manifests[ref("ds-a")], a.ManifestURL)
	require.Contains(t, a.RetentionWarning, "service unavailable")
	require.Empty(t, a.Pruned)
	require.Empty(t, b.RetentionWarning, "one dataset's retention failing does not touch another's")
	require.Equal(t, []string{"old"}, b.Pruned)
	p := fx.progress()
	require.Equal(t, workflows.StepDone, p.Step)
	require.Empty(t, p.Error)
	require.Len(t, p.Warnings, 1)
	require.Contains(t, p.Warnings[0], "e1/ds-a")
	require.Contains(t, p.Summary(), "1 warnings")
}

func TestBackupWithoutRetentionPrunesNothing(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	inputs := fx.onRetention(func(datasetact.ApplyRetentionInput) (*datasetact.ApplyRetentionResult, error) {
		return &datasetact.ApplyRetentionResult{}, nil
	})
	fx.run(dataset.BackupName, backupInput("ds-a"))
	res := fx.backupResult()
	require.Empty(t, *inputs)
	require.Empty(t, res.Datasets[0].Pruned)
}

func TestBackupRetentionExportFailureNeverPrunes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.ctl.fail("WaitExport", appError("export failed", activities.ErrExportFailed))
	inputs := fx.onRetention(func(datasetact.ApplyRetentionInput) (*datasetact.ApplyRetentionResult, error) {
		return &datasetact.ApplyRetentionResult{}, nil
	})
	fx.run(dataset.BackupName, withRetention(backupInput("ds-a"), 1, 0))
	fx.requireFailed(activities.ErrExportFailed)
	fx.requireRunning("ds-a")
	require.Empty(t, *inputs, "a failed backup must not prune older ones")
}

func TestBackupInvalidRetentionRefusedBeforeAnything(t *testing.T) {
	t.Parallel()
	for name, policy := range map[string]dataset.RetentionPolicy{
		"negative count": {Count: -1},
		"negative days":  {Count: 2, Days: -3},
		"no rule":        {},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			in := backupInput("ds-a")
			in.Retention = &policy
			fx.run(dataset.BackupName, in)
			fx.requireFailed(activities.ErrInvalidInput)
			fx.requireNotCalled("ValidateBackup")
			fx.requireNotCalled("Pause")
			fx.requireRunning("ds-a")
			require.False(t, fx.progress().Validated)
		})
	}
}
