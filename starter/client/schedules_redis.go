package client

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// CreateRedisBackupSchedule creates a Temporal Schedule that starts a
// RedisBackup of in (with its retention policy, if any) on s's timetable.
func (c *Client) CreateRedisBackupSchedule(ctx context.Context, s Schedule, in redis.BackupInput) error {
	if err := checkRedisBackup(in); err != nil {
		return err
	}
	if in.RPOSeconds == 0 {
		in.RPOSeconds = s.rpoSeconds(time.Now())
	}
	format := in.Format
	if format == "" {
		format = redisbackup.FormatRDB
	}
	summary := fmt.Sprintf("scheduled Redis backup of %s (%s) to %s", in.Cluster, format, in.BackupLocation)
	if in.Retention != nil {
		summary += ", " + in.Retention.Rules().String()
	}
	return c.createSchedule(ctx, s, redis.BackupName, "redis-backup", summary, in)
}

// checkRedisBackup refuses a Redis backup request that cannot run.
func checkRedisBackup(in redis.BackupInput) error {
	if in.Cluster == "" {
		return &InvalidInputError{Msg: "no Redis cluster to back up"}
	}
	if err := ids.Validate("cluster", in.Cluster); err != nil {
		return &InvalidInputError{Msg: err.Error()}
	}
	if _, err := backupstore.ParseLocation(in.BackupLocation); err != nil {
		return &InvalidInputError{Msg: err.Error()}
	}
	if _, err := redisbackup.ParseFormat(in.Format); err != nil {
		return &InvalidInputError{Msg: err.Error()}
	}
	if r := in.Retention; r != nil {
		if err := r.Rules().Validate(); err != nil {
			return &InvalidInputError{Msg: "retention: " + err.Error()}
		}
	}
	return nil
}
