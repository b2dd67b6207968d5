package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// backupIDPattern matches backup ids (ids.BackupID).
var backupIDPattern = regexp.MustCompile(`^\d{8}T\d{6}\.\d{3}Z$`)

// verifyFlag adds --verify, shared by backup-dataset and schedule create backup.
func verifyFlag(cmd *cobra.Command, verify *bool) {
	cmd.Flags().BoolVar(verify, "verify", false, "after writes resume, download every file of each new backup and check its items and checksums against the manifest (as backup verify does); the run fails if one does not match")
}

// backupVerifyCommand runs the DatasetVerify workflow: a worker downloads
// every object of one backup and checks it against the manifest.
func (a *app) backupVerifyCommand() *cobra.Command {
	var t backupTarget
	var backupID, sourceEnv string
	cmd := &cobra.Command{
		Use:   "verify --backup-location s3://... --env-id E --dataset-id D [--backup-id B] [--source-env-id S]",
		Short: "Download every object of a backup and check its items and checksums against the manifest",
		Long: `Run the DatasetVerify workflow on a worker: find the backup restore-dataset would use with the
same flags (the latest complete one unless --backup-id names one), download every data object,
count its items and compare its checksum with the manifest. Exit 0 when the backup is sound,
1 when it is not (the message names the object and what differs), 2 when there is no such
bucket or backup.`,
		Example: `  lifeboat backup verify --backup-location s3://my-bucket/backups --env-id demo --dataset-id orders
  lifeboat backup verify --backup-location s3://my-bucket/backups --env-id demo --dataset-id orders --backup-id 20261122T020556.939Z`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc, err := t.parse(cmd)
			if err != nil {
				return err
			}
			if backupID != "" && !backupIDPattern.MatchString(backupID) {
				return usagef("--backup-id %q is not a backup id (like 20210901T120000.000Z, as backup list shows them)", backupID)
			}
			if sourceEnv != "" {
				if err := ids.Validate("environment", sourceEnv); err != nil {
					return err
				}
			}
			in := dataset.VerifyInput{
				BackupLocation: loc.String(), EnvID: t.envID, DatasetID: t.datasetID, SourceEnvID: sourceEnv, BackupID: backupID,
				Access: t.access,
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartVerify(ctx, in) })
			if err != nil {
				return err
			}
			fmt.Fprintf(a.err, "verifying in workflow %s\n", run.ID)
			res, err := c.WaitVerify(cmd.Context(), run.ID, a.printProgress())
			if err != nil {
				var failed *client.WorkflowFailedError
				if errors.As(err, &failed) && failed.Type == activities.ErrBackupCorrupt {
					return fmt.Errorf("backup of dataset %q is not sound (workflow %s): %s", t.envID+"/"+t.datasetID, run.ID, failed.Msg)
				}
				return err
			}
			fmt.Fprintf(a.out, "backup %s of %s/%s is sound: %d objects, %d items, %d bytes checked\n",
				res.BackupID, res.EnvID, res.DatasetID, res.Objects, res.ItemCount, res.Bytes)
			return nil
		},
	}
	t.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&backupID, "backup-id", "", "check this backup, an id like 20261122T020556.939Z (default: the latest complete one)")
	f.StringVar(&sourceEnv, "source-env-id", "", "environment the backup was taken from, when the location holds several")
	return cmd
}
