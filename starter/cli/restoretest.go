package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// Restore test kinds, as --kind takes them.
const (
	kindDataset   = "dataset"
	kindSnapshots = "snapshots"
	kindRedis     = "redis"
)

// restoreTestFlags are the flags of restore-test run and schedule create
// restore-test: one set for every kind, each kind reading its own.
type restoreTestFlags struct {
	kind string
	// dataset
	envID, location, backupID string
	datasetIDs                []string
	sampleSize                int
	// snapshots
	region, groupID, instanceID, zone string
	// redis
	clusterID, at string
	nodeIDs       []string
	// dataset, redis: a backup in another account
	access backupstore.Access
	// every kind
	checkCommand string
	checkTimeout time.Duration
}

func (f *restoreTestFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.kind, "kind", "", "what to restore-test: dataset, redis or snapshots")
	fl.StringVar(&f.envID, "env-id", "", "dataset: the environment whose backups to restore")
	fl.StringSliceVar(&f.datasetIDs, "dataset-id", nil, "dataset: datasets to restore, repeated or comma-separated (default: every dataset of the environment)")
	fl.StringVar(&f.location, "backup-location", "", "dataset, redis: the backup root given to the backups: s3://bucket/prefix")
	fl.StringVar(&f.backupID, "backup-id", "", "dataset, redis: restore this backup id (default: the newest complete backup)")
	fl.IntVar(&f.sampleSize, "sample-size", 100, "dataset: items of each dataset read from the backup and compared with the restored table; redis: keys per node read back (default 20)")
	fl.StringVar(&f.clusterID, "cluster-id", "", "redis: the cluster whose backup to restore into scratch redis-servers on a worker")
	fl.StringVar(&f.at, "at", "", "redis: the latest backup taken at or before this moment: "+timeFormats)
	fl.StringArrayVar(&f.nodeIDs, "node-id", nil, "redis: test this backed-up node only (repeat for several; default: every node)")
	fl.StringVar(&f.region, "region", "", "snapshots: region of the group, like us-east-1")
	fl.StringVar(&f.groupID, "group-id", "", "snapshots: the group to restore (or --instance-id)")
	fl.StringVar(&f.instanceID, "instance-id", "", "snapshots: restore this instance's newest complete group (what a schedule wants)")
	fl.StringVar(&f.zone, "availability-zone", "", "snapshots: zone to create the scratch volumes in, like us-east-1a")
	fl.StringVar(&f.checkCommand, "check-command", "", "a command the worker runs (/bin/sh -c) against the restored copy; LIFEBOAT_SCRATCH_* variables name it; a non-zero exit fails the test")
	fl.DurationVar(&f.checkTimeout, "check-timeout", 10*time.Minute, "how long the check command may run: "+durationFormat)
	accessFlags(cmd, &f.access) // dataset, redis
}

// backupLocation parses --backup-location with --role-arn, --external-id and
// --bucket-owner (bad input when malformed).
func (f *restoreTestFlags) backupLocation() (backupstore.Location, error) {
	loc, err := backupstore.ParseLocationWith(f.location, f.access)
	if err != nil {
		return loc, usageError{err}
	}
	return loc, nil
}

// kindOf checks --kind.
func (f *restoreTestFlags) kindOf(cmd *cobra.Command) (string, error) {
	if err := requireFlags(cmd, "kind"); err != nil {
		return "", err
	}
	switch f.kind {
	case kindDataset, kindSnapshots, kindRedis:
		return f.kind, nil
	}
	return "", usagef("--kind %q: want dataset, redis or snapshots", f.kind)
}

func (f *restoreTestFlags) checkTimeoutSeconds() (int, error) {
	if f.checkTimeout < 0 {
		return 0, usagef("--check-timeout cannot be negative")
	}
	return int(f.checkTimeout / time.Second), nil
}

// datasetInput reads the dataset kind's flags.
func (f *restoreTestFlags) datasetInput(cmd *cobra.Command) (dataset.RestoreTestInput, error) {
	if err := requireFlags(cmd, "env-id", "backup-location"); err != nil {
		return dataset.RestoreTestInput{}, err
	}
	if err := ids.Validate("environment", f.envID); err != nil {
		return dataset.RestoreTestInput{}, err
	}
	loc, err := f.backupLocation()
	if err != nil {
		return dataset.RestoreTestInput{}, err
	}
	if f.backupID != "" && !backupIDPattern.MatchString(f.backupID) {
		return dataset.RestoreTestInput{}, usagef("--backup-id %q is not a backup id (like 20210901T120000.000Z, as backup list shows them)", f.backupID)
	}
	if f.sampleSize < 0 {
		return dataset.RestoreTestInput{}, usagef("--sample-size cannot be negative")
	}
	secs, err := f.checkTimeoutSeconds()
	if err != nil {
		return dataset.RestoreTestInput{}, err
	}
	in := dataset.RestoreTestInput{
		EnvID: f.envID, DatasetIDs: f.datasetIDs, BackupLocation: loc.String(), BackupID: f.backupID,
		SampleSize: f.sampleSize, CheckCommand: f.checkCommand, CheckTimeoutSeconds: secs, Access: f.access,
	}
	if err := in.Validate(); err != nil {
		return in, usageError{err}
	}
	return in, nil
}

// redisInput reads the redis kind's flags (those of redis restore-test).
func (f *restoreTestFlags) redisInput(cmd *cobra.Command) (redis.RestoreTestInput, error) {
	in := redis.RestoreTestInput{Cluster: f.clusterID, BackupLocation: f.location, BackupID: f.backupID}
	if err := requireFlags(cmd, "cluster-id", "backup-location"); err != nil {
		return in, err
	}
	if err := checkRedisRequest(in.Cluster, in.BackupLocation); err != nil {
		return in, err
	}
	if _, err := f.backupLocation(); err != nil {
		return in, err
	}
	in.Access = f.access
	date, err := redisBackupChoice(f.at, in.BackupID)
	if err != nil {
		return in, err
	}
	in.Date = date
	rf := redisRestoreTestFlags{nodes: f.nodeIDs, checkCommand: f.checkCommand, checkTimeout: f.checkTimeout, sample: 20}
	if cmd.Flags().Changed("sample-size") {
		rf.sample = f.sampleSize
	}
	return in, rf.apply(&in)
}

// snapshotsInput reads the snapshots kind's flags.
func (f *restoreTestFlags) snapshotsInput(cmd *cobra.Command) (ebs.RestoreTestInput, error) {
	if err := requireFlags(cmd, "region", "availability-zone"); err != nil {
		return ebs.RestoreTestInput{}, err
	}
	if err := checkRegionFlag("region", f.region); err != nil {
		return ebs.RestoreTestInput{}, err
	}
	if f.access != (backupstore.Access{}) {
		return ebs.RestoreTestInput{}, usagef("--role-arn, --external-id and --bucket-owner are for --kind dataset and redis (a backup location in another account)")
	}
	if (f.groupID == "") == (f.instanceID == "") {
		return ebs.RestoreTestInput{}, usagef("give --group-id or --instance-id (one of them)")
	}
	if !strings.HasPrefix(f.zone, f.region) {
		return ebs.RestoreTestInput{}, usagef("--availability-zone %q is not a zone of %s", f.zone, f.region)
	}
	secs, err := f.checkTimeoutSeconds()
	if err != nil {
		return ebs.RestoreTestInput{}, err
	}
	return ebs.RestoreTestInput{
		Region: f.region, GroupID: f.groupID, InstanceID: f.instanceID, AvailabilityZone: f.zone,
		CheckCommand: f.checkCommand, CheckTimeoutSeconds: secs,
	}, nil
}

func (a *app) restoreTestCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore-test",
		Short: "Prove that backups restore: restore into a scratch target, check it, measure the RTO, clean up",
		Long: `A restore test restores a backup into a scratch target, checks it, measures how long the
restore took (the RTO), records the outcome beside the backup and always removes the scratch
target again, also when it fails or is cancelled. The live environment or instance is never
touched. Run one now with 'restore-test run', or on a timetable with
'schedule create restore-test'.

  dataset    the newest backup (or --backup-id) of an environment's datasets is restored into a
             scratch environment <env>-rt-<id>; each table's item count is checked against the
             manifest and --sample-size items read from the backup's data files are compared with
             the restored tables. Recorded as restore-test.json beside each backup (backup list).
  snapshots  one volume per snapshot of a group (or of an instance's newest complete group) is
             created in --availability-zone, tagged lifeboat:restore-test; sizes and snapshot ids
             are checked. Recorded as the lifeboat:restore-tested tag (snapshots list).

A backup in another account is read (and its record written) through a role, as
restore-dataset and redis restore reach it: --role-arn, --external-id, --bucket-owner. A role
that cannot be assumed or cannot reach the bucket is refused before anything is made (exit 2).

--check-command runs on the worker after the checks, with LIFEBOAT_SCRATCH_ENV,
LIFEBOAT_SCRATCH_TABLES and LIFEBOAT_SCRATCH_TABLE_<DATASET> (dataset), or
LIFEBOAT_SCRATCH_VOLUMES (device=volume,...) and LIFEBOAT_SCRATCH_VOLUME_IDS (snapshots), plus
AWS_REGION and AWS_ENDPOINT_URL as the worker uses them.`,
		Example: `  lifeboat restore-test run --kind dataset --env-id prod --backup-location s3://my-bucket/backups
  lifeboat schedule create restore-test --schedule-id prod-weekly --kind dataset --env-id prod \
    --backup-location s3://my-bucket/backups --cron '0 4 * * 0'`,
	}
	cmd.AddCommand(a.restoreTestRunCommand())
	return cmd
}

func (a *app) restoreTestRunCommand() *cobra.Command {
	var f restoreTestFlags
	cmd := &cobra.Command{
		Use:   "run --kind dataset|redis|snapshots ...",
		Short: "Run one restore test and wait for it: exit 0 passed, 1 failed (one line why), 2 bad input or no backup",
		Example: `  lifeboat restore-test run --kind dataset --env-id prod --backup-location s3://my-bucket/backups
  lifeboat restore-test run --kind dataset --env-id prod --dataset-id orders --backup-location s3://my-bucket/backups \
    --check-command 'test "$(aws dynamodb describe-table --table-name "$LIFEBOAT_SCRATCH_TABLE_ORDERS" --query Table.TableStatus --output text)" = ACTIVE'
  lifeboat restore-test run --kind snapshots --region us-east-1 --instance-id i-0846123af87f3dfea --availability-zone us-east-1a
  lifeboat restore-test run --kind redis --cluster-id shop --backup-location s3://my-bucket/redis
  lifeboat restore-test run --kind dataset --env-id prod --backup-location s3://dr-bucket/backups \
    --role-arn arn:aws:iam::222222222222:role/lifeboat-backup-writer`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kind, err := f.kindOf(cmd)
			if err != nil {
				return err
			}
			switch kind {
			case kindDataset:
				in, err := f.datasetInput(cmd)
				if err != nil {
					return err
				}
				return a.runDatasetRestoreTest(cmd.Context(), in)
			case kindRedis:
				in, err := f.redisInput(cmd)
				if err != nil {
					return err
				}
				return a.runRedisRestoreTest(cmd.Context(), in)
			}
			in, err := f.snapshotsInput(cmd)
			if err != nil {
				return err
			}
			return a.runSnapshotsRestoreTest(cmd.Context(), in)
		},
	}
	f.add(cmd)
	return cmd
}

// restoreTestFailed turns a failed test into its one line.
func restoreTestFailed(err error, id string) error {
	var failed *client.WorkflowFailedError
	if errors.As(err, &failed) {
		return fmt.Errorf("restore test failed (workflow %s): %s", id, failed.Msg)
	}
	return err
}

func (a *app) runDatasetRestoreTest(ctx context.Context, in dataset.RestoreTestInput) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	run, err := a.start(ctx, func(ctx context.Context) (client.Run, error) { return c.StartDatasetRestoreTest(ctx, in) })
	if err != nil {
		return restoreTestFailed(err, run.ID)
	}
	fmt.Fprintf(a.err, "restore test in workflow %s\n", run.ID)
	res, err := c.WaitDatasetRestoreTest(ctx, run.ID, a.printProgress())
	if err != nil {
		return restoreTestFailed(err, run.ID)
	}
	fmt.Fprintf(a.out, "restore test passed: %s restored into scratch environment %s in %.1fs (RTO), scratch environment deleted\n",
		res.EnvID, res.ScratchEnvID, res.RTOSeconds)
	for _, d := range res.Datasets {
		fmt.Fprintf(a.out, "  %s: backup %s, %d items, %d sampled items match the backup\n", d.DatasetID, d.BackupID, d.ItemCount, d.Sampled)
	}
	return nil
}

func (a *app) runSnapshotsRestoreTest(ctx context.Context, in ebs.RestoreTestInput) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	run, err := a.start(ctx, func(ctx context.Context) (client.Run, error) { return c.StartSnapshotsRestoreTest(ctx, in) })
	if err != nil {
		return restoreTestFailed(err, run.ID)
	}
	fmt.Fprintf(a.err, "restore test in workflow %s\n", run.ID)
	res, err := c.WaitSnapshotsRestoreTest(ctx, run.ID, a.printSnapshotProgress())
	if err != nil {
		return restoreTestFailed(err, run.ID)
	}
	fmt.Fprintf(a.out, "restore test passed: group %s (generation %d of %s) restored to %d volume(s) in %s in %.1fs (RTO), %d deleted\n",
		res.GroupID, res.Generation, res.InstanceID, len(res.Volumes), res.AvailabilityZone, res.RTOSeconds, len(res.Deleted))
	fmt.Fprintf(a.out, "tagged the group's snapshots lifeboat:restore-tested=%s\n", res.RestoreTested)
	return nil
}

func (a *app) scheduleRestoreTestCommand() *cobra.Command {
	var sf scheduleFlags
	var f restoreTestFlags
	cmd := &cobra.Command{
		Use:   "restore-test --schedule-id S --kind dataset|redis|snapshots ... (--cron EXPR | --every DURATION)",
		Short: "Run a restore test on a schedule (see lifeboat restore-test --help)",
		Example: `  lifeboat schedule create restore-test --schedule-id prod-weekly --kind dataset --env-id prod \
    --backup-location s3://my-bucket/backups --cron '0 4 * * 0'
  lifeboat schedule create restore-test --schedule-id web-weekly --kind snapshots --region us-east-1 \
    --instance-id i-0846123af87f3dfea --availability-zone us-east-1a --every 168h
  lifeboat schedule create restore-test --schedule-id shop-weekly --kind redis --cluster-id shop \
    --backup-location s3://my-bucket/redis --cron '0 5 * * 0'`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := sf.schedule(cmd)
			if err != nil {
				return err
			}
			kind, err := f.kindOf(cmd)
			if err != nil {
				return err
			}
			if kind == kindRedis {
				in, err := f.redisInput(cmd)
				if err != nil {
					return err
				}
				if in.BackupID != "" || in.Date != "" {
					return usagef("a scheduled restore test restores the newest backup: --backup-id and --at are for restore-test run")
				}
				return a.createRedisRestoreTestSchedule(cmd.Context(), s, in)
			}
			// Input first, then the bucket, then Temporal: bad input is exit 2
			// whatever can be reached.
			if kind == kindDataset {
				in, err := f.datasetInput(cmd)
				if err != nil {
					return err
				}
				if in.BackupID != "" {
					return usagef("a scheduled restore test restores the newest backup: --backup-id is for restore-test run")
				}
				loc, _ := f.backupLocation()
				if err := a.checkBackupReadable(cmd.Context(), loc); err != nil {
					return err
				}
				c, err := a.client()
				if err != nil {
					return err
				}
				if err := c.CreateDatasetRestoreTestSchedule(cmd.Context(), s, in); err != nil {
					return err
				}
				return a.printScheduleCreated(cmd.Context(), c, s.ID)
			}
			in, err := f.snapshotsInput(cmd)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.CreateSnapshotsRestoreTestSchedule(cmd.Context(), s, in); err != nil {
				return err
			}
			return a.printScheduleCreated(cmd.Context(), c, s.ID)
		},
	}
	sf.add(cmd)
	f.add(cmd)
	return cmd
}
