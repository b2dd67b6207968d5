package cli

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// scheduleRedisRestoreTestCommand is `schedule create redis-restore-test`:
// a RedisRestoreTest of the newest backup on a timetable.
func (a *app) scheduleRedisRestoreTestCommand() *cobra.Command {
	var f scheduleFlags
	var t redisRestoreTestFlags
	var in redis.RestoreTestInput
	cmd := &cobra.Command{
		Use: "redis-restore-test --schedule-id S --cluster-id C --backup-location s3://... (--cron EXPR | --every DURATION) [--node-id N] [--check-command CMD]",
		Example: `  lifeboat schedule create redis-restore-test --schedule-id shop-weekly-test --cluster-id shop \
    --backup-location s3://my-bucket/redis --cron '0 5 * * 0' --check-command ./check-shop.sh`,
		Short: "Restore-test a Redis cluster's newest backup on a schedule (scratch nodes on a worker, RTO recorded)",
		Long: `Run lifeboat redis restore-test on a Temporal Schedule: each run loads the newest complete
backup of the cluster under the location into scratch redis-servers on a worker, checks them
(key counts, a sample of keys, --check-command), records the outcome and the restore time (RTO)
beside the backup as restore-test.json, and removes the scratch nodes. The cluster is never
touched.`,
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
			if err := t.apply(&in); err != nil {
				return err
			}
			return a.createRedisRestoreTestSchedule(cmd.Context(), s, in)
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&in.Cluster, "cluster-id", "", "cluster whose newest backup each run tests")
	fl.StringVar(&in.BackupLocation, "backup-location", "", "where the cluster's backups are written: s3://bucket/prefix")
	t.add(cmd)
	return cmd
}

// createRedisRestoreTestSchedule creates the schedule of a Redis restore
// test and prints it, after checking that the bucket exists (the cluster
// need not be registered: a backup outlives its cluster).
func (a *app) createRedisRestoreTestSchedule(ctx context.Context, s client.Schedule, in redis.RestoreTestInput) error {
	loc, err := backupstore.ParseLocation(in.BackupLocation)
	if err != nil {
		return usageError{err}
	}
	c, err := a.awsClients(ctx)
	if err != nil {
		return err
	}
	if _, err := c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(loc.Bucket)}); err != nil {
		if backupstore.IsNotFound(err) {
			return usagef("backup location %s: bucket %s does not exist", in.BackupLocation, loc.Bucket)
		}
		return fmt.Errorf("backup location %s: bucket %s cannot be reached: %w", in.BackupLocation, loc.Bucket, err)
	}
	tc, err := a.client()
	if err != nil {
		return err
	}
	if err := tc.CreateRedisRestoreTestSchedule(ctx, s, in); err != nil {
		return err
	}
	return a.printScheduleCreated(ctx, tc, s.ID)
}
