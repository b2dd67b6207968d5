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
// test and prints it, after checking that the bucket exists and its role
// (if any) can reach it (the cluster need not be registered: a backup
// outlives its cluster).
func (a *app) createRedisRestoreTestSchedule(ctx context.Context, s client.Schedule, in redis.RestoreTestInput) error {
	loc, err := backupstore.ParseLocationWith(in.BackupLocation, in.Access)
	if err != nil {
		return usageError{err}
	}
	if err := a.checkBackupReadable(ctx, loc); err != nil {
		return err
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

// checkBackupReadable checks, before a schedule that reads backups is
// created, that the bucket exists and that the location's role, if it
// names one, can be assumed and reach it: bad input (exit 2) otherwise,
// so a schedule is not created to fail every time.
func (a *app) checkBackupReadable(ctx context.Context, loc backupstore.Location) error {
	c, err := a.awsClients(ctx)
	if err != nil {
		return err
	}
	_, err = c.Buckets.HeadBucket(loc.WithRole(ctx), &s3.HeadBucketInput{Bucket: aws.String(loc.Bucket)})
	switch {
	case err == nil:
		return nil
	case backupstore.IsNotFound(err):
		return usagef("backup location %s: bucket %s does not exist", loc, loc.Bucket)
	case backupstore.IsAccessDenied(err):
		err = &backupstore.BucketAccessError{Location: loc, Err: err}
	}
	if aerr := accessError(loc, err); aerr != nil {
		return aerr
	}
	return fmt.Errorf("backup location %s: bucket %s cannot be reached: %w", loc, loc.Bucket, err)
}
