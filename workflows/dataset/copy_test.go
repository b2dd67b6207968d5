package dataset_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// onCopy mocks CopyBackup with fn, recording each call in the control
// table's call log and each input.
func (fx *fixture) onCopy(fn func(datasetact.CopyBackupInput) (*datasetact.CopyBackupResult, error)) *[]datasetact.CopyBackupInput {
	var mu sync.Mutex
	var inputs []datasetact.CopyBackupInput
	fx.env.OnActivity("CopyBackup", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in datasetact.CopyBackupInput) (*datasetact.CopyBackupResult, error) {
			fx.ctl.mu.Lock()
			_ = fx.ctl.record("CopyBackup", in.EnvID+"/"+in.DatasetID)
			fx.ctl.mu.Unlock()
			mu.Lock()
			inputs = append(inputs, in)
			mu.Unlock()
			return fn(in)
		})
	return &inputs
}

func withCopies(in dataset.BackupInput, locs ...string) dataset.BackupInput {
	for i := range in.Datasets {
		for _, l := range locs {
			in.Datasets[i].CopyTo = append(in.Datasets[i].CopyTo, dataset.CopyDestination{
				Location: l, Access: backupstore.Access{RoleARN: "arn:aws:iam::222233334444:role/copier"},
			})
		}
	}
	return in
}

// A copy runs after writes resumed; a failed one is a warning, the backup
// succeeds; retention runs at every location a copy reached.
func TestBackupCopiesAfterResumeFailureIsAWarning(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	inputs := fx.onCopy(func(in datasetact.CopyBackupInput) (*datasetact.CopyBackupResult, error) {
		if in.Dest.Bucket == "broken" {
			return nil, temporal.NewNonRetryableApplicationError("AccessDenied: no", "AccessDenied", errors.New("no"))
		}
		return &datasetact.CopyBackupResult{ManifestURL: "s3://" + in.Dest.Bucket + "/m", Objects: 4, Bytes: 100}, nil
	})
	pruned := fx.onRetention(func(in datasetact.ApplyRetentionInput) (*datasetact.ApplyRetentionResult, error) {
		return &datasetact.ApplyRetentionResult{Deleted: []string{"old@" + in.Location.Bucket}}, nil
	})
	fx.run(dataset.BackupName, withRetention(withCopies(backupInput("ds-a"), "s3://copies/x", "s3://broken"), 1, 0))

	res := fx.backupResult()
	fx.requireRunning("ds-a")
	fx.requireAllBefore("Resume", "CopyBackup")
	require.Len(t, *inputs, 2)
	in := (*inputs)[0]
	if in.Dest.Bucket != "copies" {
		in = (*inputs)[1]
	}
	require.Equal(t, backupstore.Location{Bucket: "backups", Prefix: "lifeboat"}, in.Source)
	require.Equal(t, backupstore.Location{Bucket: "copies", Prefix: "x", RoleARN: "arn:aws:iam::222233334444:role/copier"}, in.Dest)
	require.Equal(t, res.Datasets[0].BackupID, in.BackupID)

	cs := res.Datasets[0].Copies
	require.Len(t, cs, 2)
	require.True(t, cs[0].OK)
	require.Equal(t, 4, cs[0].Objects)
	require.Equal(t, []string{"old@copies"}, cs[0].Pruned)
	require.False(t, cs[1].OK)
	require.Contains(t, cs[1].Error, "AccessDenied")
	require.Equal(t, []string{"old@backups"}, res.Datasets[0].Pruned)
	require.Len(t, *pruned, 2, "retention at the primary and at the copy that succeeded")

	p := fx.progress()
	require.Equal(t, workflows.StepDone, p.Step)
	require.Len(t, p.Warnings, 1)
	require.Contains(t, p.Warnings[0], "copy to s3://broken failed")
	require.Len(t, p.Datasets[0].Copies, 2)
}

func TestBackupCopyToItselfRefused(t *testing.T) {
	t.Parallel()
	in := withCopies(backupInput("ds-a"), "s3://backups/lifeboat/")
	require.ErrorContains(t, in.Validate(), "is the backup location itself")
	require.NoError(t, withCopies(backupInput("ds-a"), "s3://backups/other").Validate())
	require.Error(t, withCopies(backupInput("ds-a"), "https://x").Validate())
}
