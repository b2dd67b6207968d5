package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// redisVerifyCommand runs the RedisVerify workflow: a worker downloads
// every node's file of one backup, checks it against the cluster manifest
// and runs redis-check-rdb / redis-check-aof on it.
func (a *app) redisVerifyCommand() *cobra.Command {
	var in redis.VerifyInput
	var at string
	cmd := &cobra.Command{
		Use:   "verify --cluster-id C --backup-location s3://... [--backup-id ID | --at TIME]",
		Short: "Download each node's file of a backup, check its checksum and run redis-check-rdb / redis-check-aof on it",
		Long: `Run the RedisVerify workflow on a worker (any Lifeboat worker, not a sidecar: it needs only S3
and a temporary folder, and redis-check-rdb / redis-check-aof on its PATH): find the backup a
restore would use with the same flags (the latest unless --backup-id or --at picks one),
download each node's files, compare their size and SHA-256 with the cluster manifest and run
redis-check-rdb (RDB backups) or redis-check-aof (AOF backups) on them. The outcome is written
beside the backup as verified.json, which redis backups shows. Exit 0 when the backup is sound,
1 when it is not (one line naming the node, the file and what is wrong), 2 when there is no
such bucket or backup.`,
		Example: `  lifeboat redis verify --cluster-id shop --backup-location s3://my-bucket/redis
  lifeboat redis verify --cluster-id shop --backup-location s3://my-bucket/redis --backup-id 20261122T001730.096Z
  lifeboat redis verify --cluster-id shop --backup-location s3://my-bucket/redis --at 2026-11-21
  lifeboat redis verify --cluster-id shop --backup-location s3://backups-acct/redis --role-arn arn:aws:iam::222222222222:role/lifeboat-writer`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster-id", "backup-location"); err != nil {
				return err
			}
			if err := checkRedisRequest(in.Cluster, in.BackupLocation); err != nil {
				return err
			}
			date, err := redisBackupChoice(at, in.BackupID)
			if err != nil {
				return err
			}
			in.Date = date
			if in.RoleARN != "" {
				// A role the user named: refused here (exit 2) if it cannot be
				// assumed or reach the bucket, before a workflow starts.
				loc, err := backupstore.ParseLocationWith(in.BackupLocation, in.Access)
				if err != nil {
					return usageError{err}
				}
				if err := a.checkBackupReadable(cmd.Context(), loc); err != nil {
					return err
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartRedisVerify(ctx, in) })
			if err != nil {
				return redisInputError(err)
			}
			fmt.Fprintf(a.err, "verifying in workflow %s\n", run.ID)
			res, err := c.WaitRedisVerify(cmd.Context(), run.ID, a.printRedisProgress())
			if err != nil {
				var failed *client.WorkflowFailedError
				if errors.As(err, &failed) {
					return fmt.Errorf("%s (workflow %s)", failed.Msg, run.ID)
				}
				return redisInputError(err)
			}
			if res.RecordWarning != "" {
				fmt.Fprintf(a.err, "warning: %s\n", res.RecordWarning)
			}
			fmt.Fprintf(a.out, "backup %s of Redis cluster %s is sound: %d node(s), %s checked (%s)\n",
				res.BackupID, res.Cluster, len(res.Nodes), humanBytes(res.Bytes), res.Format)
			for _, n := range res.Nodes {
				fmt.Fprintf(a.out, "  %s: %d file(s), %d bytes match the manifest and pass the checker\n", n.Node, n.Files, n.Bytes)
			}
			if res.VerifiedURL != "" {
				fmt.Fprintf(a.out, "recorded in %s\n", res.VerifiedURL)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Cluster, "cluster-id", "", "cluster whose backup to check (it need not be registered any more)")
	f.StringVar(&in.BackupLocation, "backup-location", "", "where the backups were written: s3://bucket/prefix")
	f.StringVar(&in.BackupID, "backup-id", "", "check this backup, an id like 20261122T001730.096Z as redis backups lists it (default: the latest)")
	f.StringVar(&at, "at", "", "check the latest backup taken at or before this moment: "+timeFormats+", a date meaning the end of that day")
	accessFlags(cmd, &in.Access)
	alias(cmd, "cluster-id", "cluster")
	return cmd
}
