package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
)

// backupsCommand is the `backup` group: a dataset's backups under a backup
// root, keep markers and retention. These commands act on S3 directly with
// the same library code the workflow's retention step runs
// (backupstore.ApplyRetention); they need AWS credentials, not a worker.
// `backup verify` is the exception: it runs the DatasetVerify workflow.
func (a *app) backupsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "List a dataset's backups, mark them keep, prune old ones, and verify one",
		Example: `  lifeboat backup list --backup-location s3://my-bucket/backups --env-id demo --dataset-id orders
  lifeboat backup prune --backup-location s3://my-bucket/backups --env-id demo --dataset-id orders --retain 7 --dry-run`,
	}
	cmd.AddCommand(a.backupListCommand(), a.backupKeepCommand(true), a.backupKeepCommand(false), a.backupPruneCommand(), a.backupVerifyCommand())
	return cmd
}

// backupTarget is the flags every `backup` subcommand takes.
type backupTarget struct {
	location, envID, datasetID string
	access                     backupstore.Access
}

func (t *backupTarget) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.location, "backup-location", "", "the backup root given to backup-dataset: s3://bucket/prefix")
	f.StringVar(&t.envID, "env-id", "", "environment id")
	f.StringVar(&t.datasetID, "dataset-id", "", "dataset id")
	accessFlags(cmd, &t.access)
}

func (t *backupTarget) parse(cmd *cobra.Command) (backupstore.Location, error) {
	if err := requireFlags(cmd, "backup-location", "env-id", "dataset-id"); err != nil {
		return backupstore.Location{}, err
	}
	if err := ids.Validate("environment", t.envID); err != nil {
		return backupstore.Location{}, err
	}
	if err := ids.Validate("dataset", t.datasetID); err != nil {
		return backupstore.Location{}, err
	}
	loc, err := backupstore.ParseLocationWith(t.location, t.access)
	if err != nil {
		return backupstore.Location{}, err
	}
	// Every S3 call the command makes on the location uses its role.
	cmd.SetContext(loc.WithRole(cmd.Context()))
	return loc, nil
}

// s3Error makes a missing bucket or backup bad input (exit 2).
func s3Error(err error) error {
	var (
		nb     *backupstore.NoBackupError
		bucket *backupstore.NoBucketError
	)
	if errors.As(err, &nb) || errors.As(err, &bucket) {
		return usageError{err}
	}
	var ar *awsx.AssumeRoleError
	var ba *backupstore.BucketAccessError
	if errors.As(err, &ar) || errors.As(err, &ba) {
		return usageError{err}
	}
	if backupstore.IsAccessDenied(err) {
		return usageError{fmt.Errorf("access denied (see README, Backups in another account): %w", err)}
	}
	return err
}

// cutTime prints a cut time as backup ids name it, to the millisecond.
func cutTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (a *app) s3(ctx context.Context) (backupstore.DeleteAPI, error) {
	c, err := a.awsClients(ctx)
	if err != nil {
		return nil, err
	}
	return c.Buckets, nil
}

// listingReads is how many small objects (manifests, verified.json,
// restore-test.json) a backup listing reads at once.
const listingReads = 16

func (a *app) backupListCommand() *cobra.Command {
	var t backupTarget
	var out *output
	cmd := &cobra.Command{
		Use:     "list --backup-location s3://... --env-id E --dataset-id D [--output table|json]",
		Short:   "List a dataset's backups in every store, newest first",
		Example: "  lifeboat backup list --backup-location s3://my-bucket/backups --env-id demo --dataset-id orders --output json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc, err := t.parse(cmd)
			if err != nil {
				return err
			}
			api, err := a.s3(cmd.Context())
			if err != nil {
				return err
			}
			found, err := backupstore.ListBackups(cmd.Context(), api, loc, t.envID, t.datasetID)
			if err != nil {
				return s3Error(err)
			}
			backups := found.Backups
			backupstore.SortNewestFirst(backups)
			// Up to two small GETs per backup (verified.json,
			// restore-test.json, only where the listing shows them), read
			// listingReads at a time.
			doc := make([]backupJSON, len(backups))
			g, gctx := errgroup.WithContext(cmd.Context())
			g.SetLimit(listingReads)
			for i, b := range backups {
				j := backupJSON{BackupID: b.ID, StoreID: b.StoreID, Kept: b.Kept, Complete: b.Complete(), Problem: b.Problem}
				if b.Complete() {
					t := b.Manifest.CutTime.UTC()
					j.CutTime, j.ItemCount, j.Bytes = &t, b.Manifest.ItemCount, b.Manifest.Bytes
					j.Bucket, j.KMSKeyID = b.Manifest.Bucket, b.Manifest.KMSKeyID
				}
				doc[i] = j
				g.Go(func() error {
					var err error
					if slices.Contains(b.Keys, backupstore.VerifiedKey(b.Folder)) {
						if doc[i].Verified, err = backupstore.ReadVerification(gctx, api, loc.Bucket, b.Folder); err != nil {
							return err
						}
					}
					if slices.Contains(b.Keys, backupstore.RestoreTestKey(b.Folder)) {
						if doc[i].RestoreTest, err = backupstore.ReadRestoreTest(gctx, api, loc.Bucket, b.Folder); err != nil {
							return err
						}
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				return s3Error(err)
			}
			if err := a.render(out, doc, func(tw io.Writer) {
				fmt.Fprintln(tw, "BACKUP ID\tSTORE\tCUT TIME\tITEMS\tBYTES\tKEPT\tSTATUS\tVERIFIED\tRESTORE TEST\tOBJECT LOCK")
				for i, b := range backups {
					kept := "-"
					if b.Kept {
						kept = "keep"
					}
					if !b.Complete() {
						fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%s\t%s\t-\t-\n", b.ID, b.StoreID, kept, b.Problem)
						continue
					}
					m := b.Manifest
					lock := "-" // not recorded by older backups
					if m.Bucket != nil {
						lock = m.Bucket.ObjectLock.String()
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\tcomplete\t%s\t%s\t%s\n", b.ID, b.StoreID, cutTime(m.CutTime), m.ItemCount, m.Bytes, kept,
						doc[i].Verified.Short(), doc[i].RestoreTest.Short(), lock)
				}
			}); err != nil {
				return err
			}
			if len(backups) == 0 && *out == outputTable {
				fmt.Fprintf(a.err, "no backups of dataset %q under %s\n", t.envID+"/"+t.datasetID, loc)
			}
			return nil
		},
	}
	t.flags(cmd)
	out = outputFlag(cmd)
	return cmd
}

// backupJSON is one backup in the JSON of backup list.
type backupJSON struct {
	BackupID  string     `json:"backupId"`
	StoreID   string     `json:"storeId"`
	CutTime   *time.Time `json:"cutTime,omitempty"`
	ItemCount int64      `json:"itemCount"`
	Bytes     int64      `json:"bytes"`
	Kept      bool       `json:"kept"`
	Complete  bool       `json:"complete"`
	Problem   string     `json:"problem,omitempty"`
	// Verified is the backup's last verification (verified.json), if any.
	Verified *backupstore.Verification `json:"verified,omitempty"`
	// RestoreTest is the backup's last restore test (restore-test.json), if any.
	RestoreTest *backupstore.RestoreTest `json:"restoreTest,omitempty"`
	// Bucket is the bucket as the backup found it: region, versioning,
	// Object Lock and its default retention.
	Bucket   *backupstore.Bucket `json:"bucket,omitempty"`
	KMSKeyID string              `json:"kmsKeyId,omitempty"`
}

func (a *app) backupKeepCommand(keep bool) *cobra.Command {
	var t backupTarget
	var backupID, reason string
	name, short := "keep", "Mark a backup keep: retention never deletes it"
	if !keep {
		name, short = "unkeep", "Remove a backup's keep mark: retention may delete it again"
	}
	example := "  lifeboat backup keep --backup-location s3://my-bucket/backups --env-id demo --dataset-id orders --backup-id 20261122T020556.939Z --reason audit"
	if !keep {
		example = "  lifeboat backup unkeep --backup-location s3://my-bucket/backups --env-id demo --dataset-id orders --backup-id 20261122T020556.939Z"
	}
	cmd := &cobra.Command{
		Use:     name + " --backup-location s3://... --env-id E --dataset-id D --backup-id B",
		Short:   short,
		Example: example,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc, err := t.parse(cmd)
			if err != nil {
				return err
			}
			if err := requireFlags(cmd, "backup-id"); err != nil {
				return err
			}
			api, err := a.s3(cmd.Context())
			if err != nil {
				return err
			}
			found, err := backupstore.FindBackups(cmd.Context(), api, loc, t.envID, t.datasetID, backupID)
			if err != nil {
				return s3Error(err)
			}
			for _, b := range found {
				marker := "s3://" + loc.Bucket + "/" + path.Join(b.Folder, backupstore.KeepMarkerName)
				switch {
				case keep:
					if err := backupstore.MarkKeep(cmd.Context(), api, loc.Bucket, b, reason, time.Now()); err != nil {
						return err
					}
					fmt.Fprintf(a.out, "backup %s of %s/%s (store %s) marked keep: %s\n", b.ID, t.envID, t.datasetID, b.StoreID, marker)
				case !b.Kept:
					fmt.Fprintf(a.out, "backup %s of %s/%s (store %s) was not marked keep\n", b.ID, t.envID, t.datasetID, b.StoreID)
				default:
					if err := backupstore.Unkeep(cmd.Context(), api, loc.Bucket, b); err != nil {
						return err
					}
					fmt.Fprintf(a.out, "backup %s of %s/%s (store %s) no longer marked keep\n", b.ID, t.envID, t.datasetID, b.StoreID)
				}
			}
			return nil
		},
	}
	t.flags(cmd)
	cmd.Flags().StringVar(&backupID, "backup-id", "", "the backup's id, like 20261122T020556.939Z, as backup list shows it")
	if keep {
		cmd.Flags().StringVar(&reason, "reason", "", "why it is kept (free text, recorded in the marker)")
		alias(cmd, "reason", "note")
	}
	return cmd
}

func (a *app) backupPruneCommand() *cobra.Command {
	var t backupTarget
	var retain, retainDays int
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune --backup-location s3://... --env-id E --dataset-id D (--retain N | --retain-days D) [--dry-run]",
		Short: "Delete a dataset's backups that a retention policy no longer keeps",
		Long: `Delete a dataset's backups that a retention policy no longer keeps, now: the same rules as a
backup's retention step. Kept: the newest N complete backups (--retain), those younger than D days
(--retain-days), the newest complete backup always, and backups marked keep. Only the objects a
backup's manifest lists and the manifest are deleted; folders without a manifest and objects
Lifeboat did not write are left and reported.`,
		Example: `  lifeboat backup prune --backup-location s3://my-bucket/backups --env-id demo --dataset-id orders --retain 7 --dry-run
  lifeboat backup prune --backup-location s3://my-bucket/backups --env-id demo --dataset-id orders --retain 2 --retain-days 30`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc, err := t.parse(cmd)
			if err != nil {
				return err
			}
			policy := backupstore.Retention{Count: retain, Days: retainDays}
			if err := policy.Validate(); err != nil {
				return usagef("--retain / --retain-days: %v", err)
			}
			api, err := a.s3(cmd.Context())
			if err != nil {
				return err
			}
			run, err := backupstore.ApplyRetention(cmd.Context(), api, loc, t.envID, t.datasetID, policy, time.Now(), nil, dryRun, nil)
			if run != nil {
				a.printPrune(run, dryRun)
			}
			if err != nil {
				return s3Error(err)
			}
			return nil
		},
	}
	t.flags(cmd)
	f := cmd.Flags()
	f.IntVar(&retain, "retain", 0, "keep the newest N complete backups (a number; 0: no count rule)")
	f.IntVar(&retainDays, "retain-days", 0, "keep backups younger than D days (a number; 0: no age rule)")
	f.BoolVar(&dryRun, "dry-run", false, "show what would be deleted; delete nothing")
	return cmd
}

func (a *app) printPrune(run *backupstore.RetentionRun, dryRun bool) {
	deleted := map[string]bool{}
	for _, v := range run.Deleted {
		deleted[v.Backup.Name()] = true
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKUP ID\tSTORE\tCUT TIME\tACTION\tWHY")
	row := func(v backupstore.Verdict, action string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Backup.ID, v.Backup.StoreID, cutTime(v.Backup.Manifest.CutTime), action, v.Reason)
	}
	all := append(append([]backupstore.Verdict{}, run.Plan.Keep...), run.Plan.Delete...)
	byName := map[string]backupstore.Verdict{}
	backups := make([]backupstore.Backup, 0, len(all))
	for _, v := range all {
		byName[v.Backup.Name()] = v
		backups = append(backups, v.Backup)
	}
	backupstore.SortNewestFirst(backups)
	kept := map[string]bool{}
	for _, v := range run.Plan.Keep {
		kept[v.Backup.Name()] = true
	}
	objects := 0
	for _, b := range backups {
		v := byName[b.Name()]
		switch {
		case kept[b.Name()]:
			row(v, "keep")
		case dryRun:
			row(v, "would delete")
			objects += len(v.Keys)
		case deleted[b.Name()]:
			row(v, "deleted")
		default:
			row(v, "not deleted")
		}
	}
	_ = tw.Flush()
	for _, l := range run.Plan.Left {
		fmt.Fprintln(a.out, "note: "+l)
	}
	if dryRun {
		fmt.Fprintf(a.out, "dry run: %d backups would be deleted (%d objects), %d kept; nothing was deleted\n", len(run.Plan.Delete), objects, len(run.Plan.Keep))
		return
	}
	fmt.Fprintf(a.out, "%d backups deleted (%d objects), %d kept\n", len(run.Deleted), run.Objects, len(run.Plan.Keep))
}
