package cli

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// redisRetentionFlags are --retain and --retain-days, as on `schedule
// create backup` and `backup prune`.
type redisRetentionFlags struct{ retain, retainDays int }

func (f *redisRetentionFlags) add(cmd *cobra.Command, when string) {
	cmd.Flags().IntVar(&f.retain, "retain", 0, when+"keep the cluster's newest N complete backups (0: no count rule)")
	cmd.Flags().IntVar(&f.retainDays, "retain-days", 0, when+"keep backups younger than D days (0: no age rule)")
}

// policy is nil when neither rule is given.
func (f *redisRetentionFlags) policy() (*redis.RetentionPolicy, error) {
	if f.retain < 0 || f.retainDays < 0 {
		return nil, usagef("--retain and --retain-days cannot be negative")
	}
	if f.retain == 0 && f.retainDays == 0 {
		return nil, nil
	}
	return &redis.RetentionPolicy{Count: f.retain, Days: f.retainDays}, nil
}

func (a *app) scheduleRedisCommand() *cobra.Command {
	var f scheduleFlags
	var r redisRetentionFlags
	var in redis.BackupInput
	var sidecar time.Duration
	var copies redisCopyFlags
	cmd := &cobra.Command{
		Use: "redis --schedule-id S --cluster-id C --backup-location s3://... (--cron EXPR | --every DURATION) [--retain N] [--retain-days D] [--format rdb|aof] [--copy-to s3://...]",
		Example: `  lifeboat schedule create redis --schedule-id shop-nightly --cluster-id shop \
    --backup-location s3://my-bucket/redis --cron '0 3 * * *' --retain 7`,
		Short: "Back up a Redis cluster on a schedule, pruning its older backups after each successful run",
		Long: `Back up a registered Redis cluster on a Temporal Schedule (the RedisBackup workflow, as
lifeboat redis backup starts it). With --retain and/or --retain-days, each successful run then
deletes the cluster's older backups under the location that the policy no longer keeps: never
the run's own backup, never the newest complete one, never a folder without a cluster manifest
(a backup in progress or one that failed). The same rules as lifeboat redis prune.
With --copy-to, each backup is copied there too and retention runs at each location.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.schedule(cmd)
			if err != nil {
				return err
			}
			if err := requireFlags(cmd, "cluster-id", "backup-location"); err != nil {
				return err
			}
			if err := checkRedisRequest(in.Cluster, in.BackupLocation); err != nil {
				return err
			}
			if in.Format, err = redisbackup.ParseFormat(in.Format); err != nil {
				return usageError{fmt.Errorf("--format: %w", err)}
			}
			if in.Retention, err = r.policy(); err != nil {
				return err
			}
			if err := copies.apply(&in); err != nil {
				return err
			}
			in.SidecarTimeoutSeconds = int(sidecar / time.Second)
			if err := a.checkRedisTarget(cmd.Context(), in.Cluster, in.BackupLocation, in.Access, in.AllowUnversioned); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.CreateRedisBackupSchedule(cmd.Context(), s, in); err != nil {
				return err
			}
			return a.printScheduleCreated(cmd.Context(), c, s.ID)
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&in.Cluster, "cluster-id", "", "registered Redis cluster to back up")
	fl.StringVar(&in.BackupLocation, "backup-location", "", "s3://bucket/prefix to back up to")
	fl.StringVar(&in.Format, "format", redisbackup.FormatRDB, "rdb (BGSAVE) or aof (BGREWRITEAOF; nodes need appendonly yes)")
	allowUnversionedFlag(cmd, &in.AllowUnversioned)
	accessFlags(cmd, &in.Access)
	redisKMSFlag(cmd, &in.KMSKeyID)
	copies.add(cmd)
	fl.DurationVar(&sidecar, "sidecar-timeout", redis.DefaultSidecarTimeoutSeconds*time.Second, "how long a node's sidecar may take to pick up its work before the node counts as down")
	r.add(cmd, "after each successful run ")
	return cmd
}

// checkRedisTarget refuses a cluster that is not registered, a bucket that
// does not exist and an unversioned bucket not allowed, so a schedule is not
// created to fail every night.
func (a *app) checkRedisTarget(ctx context.Context, cluster, location string, access backupstore.Access, allowUnversioned bool) error {
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	if _, err := reg.GetRedisCluster(ctx, cluster); err != nil {
		return redisInputError(err)
	}
	loc, err := backupstore.ParseLocationWith(location, access)
	if err != nil {
		return err
	}
	b, err := checkBucket(ctx, a.aws.Buckets, loc)
	if err != nil {
		return err
	}
	if err := b.Require(loc.Bucket, allowUnversioned); err != nil {
		return usageError{err}
	}
	return nil
}

func (a *app) redisPruneCommand() *cobra.Command {
	var cluster, location string
	var r redisRetentionFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:     "prune --cluster-id C --backup-location s3://... (--retain N | --retain-days D) [--dry-run]",
		Example: `  lifeboat redis prune --cluster-id shop --backup-location s3://my-bucket/redis --retain 7 --dry-run`,
		Short:   "Delete a Redis cluster's backups that a retention policy no longer keeps",
		Long: `Delete a Redis cluster's backups that a retention policy no longer keeps, now: the rules of a
scheduled Redis backup's retention step (and of lifeboat backup prune). Kept: the newest N complete
backups (--retain), those younger than D days (--retain-days), and the newest complete backup
always. A folder without a cluster manifest (a backup in progress, or one that failed) is left
alone, and so are objects the manifest does not list; each backup's manifest is deleted last.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster-id", "backup-location"); err != nil {
				return err
			}
			if err := checkRedisRequest(cluster, location); err != nil {
				return err
			}
			p, err := r.policy()
			if err != nil {
				return err
			}
			if p == nil {
				return usagef("give --retain N, --retain-days D or both")
			}
			loc, _ := backupstore.ParseLocation(location)
			c, err := a.awsClients(cmd.Context())
			if err != nil {
				return err
			}
			run, err := redisbackup.ApplyRetention(cmd.Context(), c.Buckets, loc, cluster, p.Rules(), time.Now(), nil, dryRun, nil)
			if run != nil {
				a.printRedisPrune(run, dryRun)
			}
			if err != nil {
				if backupstore.IsNotFound(err) {
					return usageError{fmt.Errorf("backup location %s: bucket %q does not exist", loc, loc.Bucket)}
				}
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster-id", "", "cluster whose backups to prune")
	cmd.Flags().StringVar(&location, "backup-location", "", "s3://bucket/prefix the backups were written to")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be deleted; delete nothing")
	r.add(cmd, "")
	return cmd
}

func (a *app) printRedisPrune(run *redisbackup.RetentionRun, dryRun bool) {
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKUP ID\tACTION\tWHY")
	for _, v := range run.Plan.Keep {
		fmt.Fprintf(tw, "%s\tkeep\t%s\n", v.BackupID, v.Reason)
	}
	objects := 0
	for _, v := range run.Plan.Delete {
		action := "not deleted"
		switch {
		case dryRun:
			action, objects = "would delete", objects+len(v.Keys)
		case slices.Contains(run.Deleted, v.BackupID):
			action = "deleted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.BackupID, action, v.Reason)
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
