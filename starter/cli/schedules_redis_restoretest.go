package cli

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

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
	if _, err := c.Buckets.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(loc.Bucket)}); err != nil {
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
