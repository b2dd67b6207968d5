package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

func (a *app) redisCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "redis", Short: "Back up and restore Redis clusters (one sidecar worker per node)"}
	cmd.AddCommand(a.redisClusterCommand(), a.redisBackupCommand(), a.redisRestoreCommand(), a.redisBackupsCommand(), a.redisPruneCommand())
	return cmd
}

// redisInputError gives refusals about clusters the bad-input exit code.
func redisInputError(err error) error {
	var (
		nf   *registry.RedisClusterNotFoundError
		ex   *registry.RedisClusterExistsError
		held *registry.RedisClusterHeldError
		wf   *client.WorkflowFailedError
	)
	switch {
	case errors.As(err, &nf), errors.As(err, &ex), errors.As(err, &held):
		return usageError{err}
	case errors.As(err, &wf) && wf.Type == activities.ErrRedisClusterHeld:
		return usageError{err}
	}
	return err
}

func (a *app) redisClusterCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Register and list Redis clusters"}
	var cluster string
	var nodes []string
	var replace bool
	register := &cobra.Command{
		Use:   "register --cluster C --node n1=host:port [--node n2=host:port ...] [--replace]",
		Short: "Register a cluster and its nodes (each node's sidecar serves <task queue>-redis-<node>)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster", "node"); err != nil {
				return err
			}
			if err := ids.Validate("cluster", cluster); err != nil {
				return err
			}
			c := registry.RedisCluster{Name: cluster}
			seen := map[string]bool{}
			for _, spec := range nodes {
				id, addr, err := redisbackup.ParseNodeSpec(spec)
				if err != nil {
					return usageError{err}
				}
				if seen[id] {
					return usagef("node %s is given twice", id)
				}
				seen[id] = true
				c.Nodes = append(c.Nodes, registry.RedisNode{ID: id, Addr: addr, TaskQueue: redisbackup.NodeTaskQueue(a.cfg.TaskQueue, id)})
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			if err := reg.EnsureControlTable(cmd.Context()); err != nil {
				return err
			}
			others, err := reg.ListRedisClusters(cmd.Context())
			if err != nil {
				return err
			}
			for _, o := range others {
				for _, n := range o.Nodes {
					if o.Name != cluster && seen[n.ID] {
						return usagef("node id %s is taken by cluster %s: node ids name the sidecars' task queues and must be unique", n.ID, o.Name)
					}
				}
			}
			changed, err := reg.PutRedisCluster(cmd.Context(), c, replace, time.Now())
			if err != nil {
				return redisInputError(err)
			}
			verb := "registered"
			if !changed {
				verb = "already registered"
			}
			fmt.Fprintf(a.out, "Redis cluster %s %s with %d nodes\n", cluster, verb, len(c.Nodes))
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tADDRESS\tSIDECAR TASK QUEUE")
			for _, n := range c.Nodes {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", n.ID, n.Addr, n.TaskQueue)
			}
			return tw.Flush()
		},
	}
	register.Flags().StringVar(&cluster, "cluster", "", "cluster name")
	register.Flags().StringArrayVar(&nodes, "node", nil, "a node as id=host:port (repeat, in order)")
	register.Flags().BoolVar(&replace, "replace", false, "replace the nodes of a cluster already registered")

	list := &cobra.Command{
		Use:   "list",
		Short: "List registered clusters with their nodes and the workflow working on them",
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			cs, err := reg.ListRedisClusters(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLUSTER\tNODE\tADDRESS\tSIDECAR TASK QUEUE\tHELD BY")
			for _, c := range cs {
				for i, n := range c.Nodes {
					name, held := c.Name, dash(c.HeldBy)
					if i > 0 {
						name, held = "", ""
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, n.ID, n.Addr, n.TaskQueue, held)
				}
			}
			return tw.Flush()
		},
	}

	var releaseCluster string
	release := &cobra.Command{
		Use:   "release --cluster C",
		Short: "Clear a cluster's hold left by a terminated workflow (a running one releases its own)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster"); err != nil {
				return err
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			if _, err := reg.GetRedisCluster(cmd.Context(), releaseCluster); err != nil {
				return redisInputError(err)
			}
			holder, err := reg.ReleaseRedisCluster(cmd.Context(), releaseCluster, "")
			if err != nil {
				return err
			}
			if holder == "" {
				fmt.Fprintf(a.out, "Redis cluster %s was not held\n", releaseCluster)
				return nil
			}
			fmt.Fprintf(a.out, "Redis cluster %s released (was held by workflow %s)\n", releaseCluster, holder)
			return nil
		},
	}
	release.Flags().StringVar(&releaseCluster, "cluster", "", "cluster name")
	cmd.AddCommand(register, list, release)
	return cmd
}

func (a *app) redisBackupCommand() *cobra.Command {
	var in redis.BackupInput
	var wait bool
	var sidecar time.Duration
	cmd := &cobra.Command{
		Use:   "backup --cluster C --backup-location s3://bucket/prefix [--format rdb|aof] [--wait]",
		Short: "Back up every node of a Redis cluster to S3 (BGSAVE or BGREWRITEAOF, upload, cluster manifest)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster", "backup-location"); err != nil {
				return err
			}
			if err := checkRedisRequest(in.Cluster, in.BackupLocation); err != nil {
				return err
			}
			format, err := redisbackup.ParseFormat(in.Format)
			if err != nil {
				return usageError{fmt.Errorf("--format: %w", err)}
			}
			in.Format = format
			in.SidecarTimeoutSeconds = int(sidecar / time.Second)
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartRedisBackup(ctx, in) })
			if err != nil {
				return redisInputError(err)
			}
			fmt.Fprintln(a.out, run.ID)
			if !wait {
				return nil
			}
			res, err := c.WaitRedisBackup(cmd.Context(), run.ID, a.printRedisProgress())
			if err != nil {
				return redisInputError(err)
			}
			fmt.Fprintf(a.out, "backup %s of %s (%s): %d nodes, %d keys, %d bytes -> %s\n",
				res.BackupID, res.Cluster, res.Format, len(res.Nodes), res.Keys, res.Bytes, res.ManifestURL)
			for _, n := range res.Nodes {
				fmt.Fprintf(a.out, "  %s: %d keys, %d bytes in %d file(s)\n", n.Node, n.Keys, n.Bytes, n.Files)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Cluster, "cluster", "", "registered cluster to back up")
	f.StringVar(&in.BackupLocation, "backup-location", "", "s3://bucket/prefix to back up to")
	f.StringVar(&in.Format, "format", redisbackup.FormatRDB, "rdb (BGSAVE) or aof (BGREWRITEAOF; nodes need appendonly yes)")
	f.BoolVar(&wait, "wait", false, "wait for the backup, showing progress; exit non-zero if it fails")
	f.DurationVar(&sidecar, "sidecar-timeout", redis.DefaultSidecarTimeoutSeconds*time.Second, "how long a node's sidecar may take to pick up its work before the node counts as down")
	return cmd
}

func (a *app) redisRestoreCommand() *cobra.Command {
	var in redis.RestoreInput
	var wait bool
	var sidecar time.Duration
	cmd := &cobra.Command{
		Use:   "restore --cluster C [--node N] [--source-cluster S [--source-node M]] [--date YYYY-mm-dd | --backup-id ID] --backup-location s3://... [--wait]",
		Short: "Restore a Redis cluster, or one node, from a backup (of this cluster or another one)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster", "backup-location"); err != nil {
				return err
			}
			if err := checkRedisRequest(in.Cluster, in.BackupLocation); err != nil {
				return err
			}
			for _, f := range []struct{ kind, id string }{{"node", in.Node}, {"source cluster", in.SourceCluster}, {"source node", in.SourceNode}} {
				if f.id != "" {
					if err := ids.Validate(f.kind, f.id); err != nil {
						return err
					}
				}
			}
			if in.SourceNode != "" && in.Node == "" {
				return usagef("--source-node needs --node: it names the backed-up node one restored node gets")
			}
			if in.Date != "" && in.BackupID != "" {
				return usagef("give --date or --backup-id, not both")
			}
			if in.Date != "" {
				if _, err := redisbackup.ParseDate(in.Date); err != nil {
					return usageError{fmt.Errorf("--date: %w", err)}
				}
			}
			if in.BackupID != "" {
				if _, err := redisbackup.ParseBackupID(in.BackupID); err != nil {
					return usageError{fmt.Errorf("--backup-id: %w", err)}
				}
			}
			in.SidecarTimeoutSeconds = int(sidecar / time.Second)
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartRedisRestore(ctx, in) })
			if err != nil {
				return redisInputError(err)
			}
			fmt.Fprintln(a.out, run.ID)
			if !wait {
				return nil
			}
			res, err := c.WaitRedisRestore(cmd.Context(), run.ID, a.printRedisProgress())
			if err != nil {
				return redisInputError(err)
			}
			fmt.Fprintf(a.out, "restored %s from %s backup %s (%s)\n", res.Cluster, res.SourceCluster, res.BackupID, res.Format)
			for _, n := range res.Nodes {
				fmt.Fprintf(a.out, "  %s <- %s/%s: %d keys, Redis down %d ms\n", n.Node, res.SourceCluster, n.SourceNode, n.Keys, n.DownMillis)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Cluster, "cluster", "", "registered cluster to restore into")
	f.StringVar(&in.Node, "node", "", "restore this node only (default: every node)")
	f.StringVar(&in.SourceCluster, "source-cluster", "", "restore this cluster's backup (default: the cluster's own); nodes pair by position")
	f.StringVar(&in.SourceNode, "source-node", "", "with --node: the backed-up node it gets (default: by id, or by position from another cluster)")
	f.StringVar(&in.Date, "date", "", "the latest backup at or before this day (YYYY-mm-dd, UTC) or time (RFC 3339); default the latest")
	f.StringVar(&in.BackupID, "backup-id", "", "restore this backup (see lifeboat redis backups)")
	f.StringVar(&in.BackupLocation, "backup-location", "", "s3://bucket/prefix the backups were written to")
	f.BoolVar(&wait, "wait", false, "wait for the restore, showing progress; exit non-zero if it fails")
	f.DurationVar(&sidecar, "sidecar-timeout", redis.DefaultSidecarTimeoutSeconds*time.Second, "how long a node's sidecar may take to pick up its work before the node counts as down")
	return cmd
}

func (a *app) redisBackupsCommand() *cobra.Command {
	var cluster, location string
	cmd := &cobra.Command{
		Use:   "backups --cluster C --backup-location s3://...",
		Short: "List a cluster's complete backups: id, date, format, size, nodes",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster", "backup-location"); err != nil {
				return err
			}
			if err := checkRedisRequest(cluster, location); err != nil {
				return err
			}
			loc, _ := backupstore.ParseLocation(location)
			c, err := a.awsClients(cmd.Context())
			if err != nil {
				return err
			}
			found, err := redisbackup.FindBackups(cmd.Context(), c.S3, loc, cluster)
			if err != nil {
				if backupstore.IsNotFound(err) {
					return usageError{fmt.Errorf("backup location %s: bucket %q does not exist", loc, loc.Bucket)}
				}
				return err
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "BACKUP ID\tDATE\tFORMAT\tKEYS\tSIZE\tNODES")
			for _, id := range found {
				m, err := redisbackup.ReadManifest(cmd.Context(), c.S3, loc.Bucket, redisbackup.ManifestKey(loc, cluster, id))
				if err != nil {
					fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tunreadable manifest: %s\n", id, oneLine(err))
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", id, m.StartedAt.UTC().Format("2006-01-02 15:04:05Z"), m.Persistence,
					m.Keys, humanBytes(m.Bytes), strings.Join(m.NodeIDs(), ","))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(found) == 0 {
				fmt.Fprintf(a.err, "no complete backup of Redis cluster %s under %s\n", cluster, loc)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "cluster whose backups to list")
	cmd.Flags().StringVar(&location, "backup-location", "", "s3://bucket/prefix the backups were written to")
	return cmd
}

// checkRedisRequest catches malformed input before a workflow is started.
func checkRedisRequest(cluster, location string) error {
	if err := ids.Validate("cluster", cluster); err != nil {
		return err
	}
	_, err := backupstore.ParseLocation(location)
	return err
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// printRedisProgress prints a line to stderr whenever a Redis workflow's
// progress changes.
func (a *app) printRedisProgress() func(redis.Progress) {
	return func(p redis.Progress) {
		var parts []string
		for _, n := range p.Nodes {
			s := n.Node + " " + n.Step
			if n.Keys > 0 {
				s += fmt.Sprintf(" (%d keys)", n.Keys)
			}
			parts = append(parts, s)
		}
		fmt.Fprintf(a.err, "%s  %-16s %s\n", time.Now().Format("15:04:05"), p.Step, strings.Join(parts, ", "))
	}
}
