package dataset

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// recordVerification writes VerifyBackup's verdict into the backup's
// folder as verified.json: ok, or failed with the reason when the backup
// does not match its manifest. A transient error (S3 unreachable) is no
// verdict and is not recorded: the activity is retried.
func (a *BackupFiles) recordVerification(ctx context.Context, in VerifyBackupInput, out *VerifyBackupResult, verr error) error {
	folder := path.Dir(in.ManifestKey)
	v := &backupstore.Verification{
		At: time.Now().UTC(), Outcome: backupstore.VerifiedOK, BackupID: path.Base(folder),
		Checked: "every data object downloaded, its items counted and its checksum compared with the manifest",
	}
	if activity.IsActivity(ctx) {
		v.WorkflowID = activity.GetInfo(ctx).WorkflowExecution.ID
	}
	var app *temporal.ApplicationError
	switch {
	case verr == nil:
		v.Objects, v.Bytes = out.Objects, out.Bytes
	case errors.As(verr, &app) && app.Type() == activities.ErrBackupCorrupt:
		v.Outcome, v.Problem = backupstore.VerifiedFailed, app.Message()
	default:
		return nil
	}
	if err := backupstore.WriteVerification(ctx, a.S3, in.Location.Bucket, folder, v); err != nil {
		return fmt.Errorf("record the verification: %w", err)
	}
	return nil
}
