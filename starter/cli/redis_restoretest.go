package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// redisRestoreTestFlags are what a Redis restore test checks, shared by
// `redis restore-test` and its schedule.
type redisRestoreTestFlags struct {
	nodes        []string
	checkCommand string
	checkTimeout time.Duration
	sample       int
}

func (f *redisRestoreTestFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.nodes, "node-id", nil, "test this backed-up node only (repeat for several; default: every node of the backup)")
	fl.StringVar(&f.checkCommand, "check-command", "", "shell command the worker runs against each loaded scratch node, which "+
		"LIFEBOAT_SCRATCH_REDIS_ADDR (host:port) names; a non-zero exit fails the test")
	fl.DurationVar(&f.checkTimeout, "check-timeout", 10*time.Minute, "how long the check command may run: "+durationFormat)
	fl.IntVar(&f.sample, "sample-size", 20, "how many keys per node are read back from the scratch node (RANDOMKEY, TYPE)")
}

// apply checks the flags and copies them into in.
func (f *redisRestoreTestFlags) apply(in *redis.RestoreTestInput) error {
	for _, n := range f.nodes {
		if err := ids.Validate("node", n); err != nil {
			return err
		}
	}
	if f.sample < 1 {
		return usagef("--sample-size must be at least 1")
	}
	if f.checkTimeout < time.Second {
		return usagef("--check-timeout must be at least 1s")
	}
	in.Nodes, in.CheckCommand, in.SampleSize = f.nodes, f.checkCommand, f.sample
	in.CheckTimeoutSeconds = int(f.checkTimeout / time.Second)
	return nil
}

// redisRestoreTestCommand runs the RedisRestoreTest workflow: a worker
// loads each node's file of one backup into a scratch redis-server and
// checks it there.
func (a *app) redisRestoreTestCommand() *cobra.Command {
	var in redis.RestoreTestInput
	var at string
	var f redisRestoreTestFlags
	cmd := &cobra.Command{
		Use:   "restore-test --cluster-id C --backup-location s3://... [--backup-id ID | --at TIME] [--node-id N] [--check-command CMD]",
		Short: "Restore a backup into scratch Redis nodes on a worker, check it, measure the restore time, and remove them",
		Long: `Run the RedisRestoreTest workflow: prove that a backup restores without going near the
cluster. A Lifeboat worker (any main worker with redis-server on its PATH, not a sidecar: a
copy of a node's data must not compete with the live node for its machine's memory) finds the
backup a restore would use with the same flags (the latest unless --backup-id or --at picks
one), and for each node's file downloads it, checks its SHA-256 against the cluster manifest,
starts a fresh redis-server on it on a free 127.0.0.1 port in a scratch directory, and waits
until it answers with the data loaded: that time, from the download's start, is the restore
time (RTO). It then compares the scratch node's key count (every database) with the manifest's,
reads back a sample of keys, and runs --check-command if given, with
LIFEBOAT_SCRATCH_REDIS_ADDR, _HOST, _PORT and _URL naming the scratch node (and
LIFEBOAT_REDIS_CLUSTER, LIFEBOAT_REDIS_NODE, LIFEBOAT_REDIS_BACKUP_ID). The scratch
redis-server and its directory are removed whatever happens, also when the test fails or is
cancelled. The outcome and the RTO are written beside the backup as restore-test.json, which
redis backups shows. Exit 0 when the backup restores, 1 when it does not (one line naming the
node and what went wrong), 2 when there is no such bucket, backup or node.`,
		Example: `  lifeboat redis restore-test --cluster-id shop --backup-location s3://my-bucket/redis
  lifeboat redis restore-test --cluster-id shop --backup-location s3://my-bucket/redis --backup-id 20261122T001730.096Z --node-id n1
  lifeboat redis restore-test --cluster-id shop --backup-location s3://my-bucket/redis \
    --check-command 'test "$(redis-cli -u "$LIFEBOAT_SCRATCH_REDIS_URL" exists orders:index)" = 1'`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster-id", "backup-location"); err != nil {
				return err
			}
			if err := checkRedisRequest(in.Cluster, in.BackupLocation); err != nil {
				return err
			}
			if _, err := backupstore.ParseLocationWith(in.BackupLocation, in.Access); err != nil {
				return usageError{err}
			}
			date, err := redisBackupChoice(at, in.BackupID)
			if err != nil {
				return err
			}
			in.Date = date
			if err := f.apply(&in); err != nil {
				return err
			}
			return a.runRedisRestoreTest(cmd.Context(), in)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Cluster, "cluster-id", "", "cluster whose backup to test (it need not be registered any more)")
	fl.StringVar(&in.BackupLocation, "backup-location", "", "where the backups were written: s3://bucket/prefix")
	fl.StringVar(&in.BackupID, "backup-id", "", "test this backup, an id like 20261122T001730.096Z as redis backups lists it (default: the latest)")
	fl.StringVar(&at, "at", "", "test the latest backup taken at or before this moment: "+timeFormats+", a date meaning the end of that day")
	f.add(cmd)
	accessFlags(cmd, &in.Access)
	alias(cmd, "cluster-id", "cluster")
	return cmd
}

// runRedisRestoreTest starts a RedisRestoreTest, waits for it and prints
// its outcome (redis restore-test, restore-test run --kind redis).
func (a *app) runRedisRestoreTest(ctx context.Context, in redis.RestoreTestInput) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	run, err := a.start(ctx, func(ctx context.Context) (client.Run, error) { return c.StartRedisRestoreTest(ctx, in) })
	if err != nil {
		return redisInputError(err)
	}
	fmt.Fprintf(a.err, "restore-testing in workflow %s\n", run.ID)
	res, err := c.WaitRedisRestoreTest(ctx, run.ID, a.printRedisProgress())
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
	fmt.Fprintf(a.out, "backup %s of Redis cluster %s restores: %d node(s) loaded into scratch Redis and checked (%s), RTO %.1fs\n",
		res.BackupID, res.Cluster, len(res.Nodes), res.Format, res.RTOSeconds)
	for _, n := range res.Nodes {
		line := fmt.Sprintf("  %s: %d keys, %d sampled", n.Node, n.Keys, n.Sampled)
		if n.Types != "" {
			line += " (" + n.Types + ")"
		}
		line += fmt.Sprintf(", loaded in %.1fs (download %.1fs) on scratch %s of %s", float64(n.RTOMillis)/1000, float64(n.DownloadMillis)/1000, n.Addr, n.Host)
		if n.CheckOutput != "" {
			line += "; check: " + n.CheckOutput
		}
		fmt.Fprintln(a.out, line)
	}
	if res.RecordURL != "" {
		fmt.Fprintf(a.out, "recorded in %s\n", res.RecordURL)
	}
	return nil
}
