package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

func (a *app) redisCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "redis", Short: "Back up and restore Redis clusters (one sidecar worker per node)",
		Example: `  lifeboat redis cluster register --cluster-id shop --node n1=10.0.0.1:6379 --node n2=10.0.0.2:6379
  lifeboat redis backup --cluster-id shop --backup-location s3://my-bucket/redis --wait
  lifeboat redis restore --cluster-id shop --backup-location s3://my-bucket/redis --at 2026-11-21 --wait`}
	cmd.AddCommand(a.redisClusterCommand(), a.redisBackupCommand(), a.redisRestoreCommand(), a.redisBackupsCommand(), a.redisPruneCommand(), a.redisVerifyCommand(), a.redisRestoreTestCommand())
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
	cmd := &cobra.Command{Use: "cluster", Short: "Register, list and release Redis clusters",
		Example: "  lifeboat redis cluster list"}
	var cluster string
	var nodes []string
	var replace bool
	var rpo time.Duration
	var out *output
	register := &cobra.Command{
		Use:     "register --cluster-id C --node n1=host:port [--node n2=host:port ...] [--replace] [--rpo DURATION]",
		Short:   "Register a cluster and its nodes (each node's sidecar serves <task queue>-redis-<node>)",
		Example: "  lifeboat redis cluster register --cluster-id shop --node n1=10.0.0.1:6379 --node n2=10.0.0.2:6379 --node n3=10.0.0.3:6379",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster-id", "node"); err != nil {
				return err
			}
			if err := ids.Validate("cluster", cluster); err != nil {
				return err
			}
			if err := checkRPO(rpo); err != nil {
				return err
			}
			c := registry.RedisCluster{Name: cluster, RPOSeconds: int64(rpo / time.Second)}
			seen := map[string]bool{}
			for _, spec := range nodes {
				id, addr, err := redisbackup.ParseNodeSpec(spec)
				if err != nil {
					return usageError{err}
				}
				if seen[id] {
					return usagef("node %q is given twice", id)
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
						return usagef("node id %q is taken by cluster %q: node ids name the sidecars' task queues and must be unique", n.ID, o.Name)
					}
				}
			}
			changed, err := reg.PutRedisCluster(cmd.Context(), c, replace, time.Now())
			if err != nil {
				return redisInputError(err)
			}
			if rpo > 0 && !changed { // the same nodes: only the objective changes
				if err := reg.SetRedisClusterRPO(cmd.Context(), cluster, rpo); err != nil {
					return redisInputError(err)
				}
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
	register.Flags().StringVar(&cluster, "cluster-id", "", "cluster id (1-63 letters, digits, '-' or '_')")
	register.Flags().StringArrayVar(&nodes, "node", nil, "a node as id=host:port (repeat, in order)")
	register.Flags().BoolVar(&replace, "replace", false, "replace the nodes of a cluster already registered")
	rpoFlag(register, &rpo, "cluster")
	alias(register, "cluster-id", "cluster")

	list := &cobra.Command{
		Use:     "list [--output table|json]",
		Short:   "List registered clusters with their nodes and the workflow working on them",
		Example: "  lifeboat redis cluster list --output json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			cs, err := reg.ListRedisClusters(cmd.Context())
			if err != nil {
				return err
			}
			doc := make([]redisClusterJSON, 0, len(cs))
			for _, c := range cs {
				j := redisClusterJSON{ClusterID: c.Name, HeldBy: c.HeldBy, Nodes: []redisNodeJSON{}}
				for _, n := range c.Nodes {
					j.Nodes = append(j.Nodes, redisNodeJSON{NodeID: n.ID, Addr: n.Addr, TaskQueue: n.TaskQueue})
				}
				doc = append(doc, j)
			}
			return a.render(out, doc, func(tw io.Writer) {
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
			})
		},
	}
	out = outputFlag(list)

	var releaseCluster string
	release := &cobra.Command{
		Use:     "release --cluster-id C",
		Short:   "Clear a cluster's hold left by a terminated workflow (a running one releases its own)",
		Example: "  lifeboat redis cluster release --cluster-id shop",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster-id"); err != nil {
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
	release.Flags().StringVar(&releaseCluster, "cluster-id", "", "cluster id")
	alias(release, "cluster-id", "cluster")
	cmd.AddCommand(register, list, release, a.redisSetRPOCommand())
	return cmd
}

// redisClusterJSON is one cluster in redis cluster list's JSON.
type redisClusterJSON struct {
	ClusterID string          `json:"clusterId"`
	Nodes     []redisNodeJSON `json:"nodes"`
	HeldBy    string          `json:"heldBy,omitempty"`
}

type redisNodeJSON struct {
	NodeID    string `json:"nodeId"`
	Addr      string `json:"addr"`
	TaskQueue string `json:"taskQueue"`
}

// redisBackupJSON is one backup in redis backups' JSON.
type redisBackupJSON struct {
	BackupID  string     `json:"backupId"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	Format    string     `json:"format,omitempty"`
	Keys      int64      `json:"keys"`
	Bytes     int64      `json:"bytes"`
	NodeIDs   []string   `json:"nodeIds"`
	Problem   string     `json:"problem,omitempty"`
	// Verified is the backup's last verification (verified.json), if any.
	Verified *backupstore.Verification `json:"verified,omitempty"`
	// RestoreTest is the backup's last restore test (restore-test.json), if any.
	RestoreTest *backupstore.RestoreTest `json:"restoreTest,omitempty"`
}

func (a *app) redisBackupCommand() *cobra.Command {
	var in redis.BackupInput
	var wait bool
	var sidecar time.Duration
	var copies redisCopyFlags
	cmd := &cobra.Command{
		Use:   "backup --cluster-id C --backup-location s3://bucket/prefix [--format rdb|aof] [--copy-to s3://... [--copy-role-arn R]] [--wait]",
		Short: "Back up every node of a Redis cluster to S3 (BGSAVE or BGREWRITEAOF, upload, cluster manifest)",
		Example: `  lifeboat redis backup --cluster-id shop --backup-location s3://my-bucket/redis --wait
  lifeboat redis backup --cluster-id shop --backup-location s3://my-bucket/redis --format aof --wait
  lifeboat redis backup --cluster-id shop --backup-location s3://my-bucket/redis \
    --copy-to s3://dr-bucket/redis --copy-role-arn arn:aws:iam::222222222222:role/lifeboat-backup-writer --wait`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster-id", "backup-location"); err != nil {
				return err
			}
			if err := checkRedisRequest(in.Cluster, in.BackupLocation); err != nil {
				return err
			}
			if err := in.Access.Validate(); err != nil {
				return usageError{err}
			}
			if err := copies.apply(&in); err != nil {
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
			printRedisCopies(a.out, res.Copies)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Cluster, "cluster-id", "", "registered cluster to back up")
	f.StringVar(&in.BackupLocation, "backup-location", "", "where to back up to: s3://bucket/prefix")
	f.StringVar(&in.Format, "format", redisbackup.FormatRDB, "rdb (BGSAVE) or aof (BGREWRITEAOF; nodes need appendonly yes)")
	allowUnversionedFlag(cmd, &in.AllowUnversioned)
	accessFlags(cmd, &in.Access)
	redisKMSFlag(cmd, &in.KMSKeyID)
	copies.add(cmd)
	f.BoolVar(&wait, "wait", false, "wait for the backup, showing progress; exit non-zero if it fails")
	f.DurationVar(&sidecar, "sidecar-timeout", redis.DefaultSidecarTimeoutSeconds*time.Second, "how long a node's sidecar may take to pick up its work before the node counts as down: "+durationFormat)
	alias(cmd, "cluster-id", "cluster")
	return cmd
}

// redisKMSFlag is --kms-key-id of the Redis backup commands.
func redisKMSFlag(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVar(v, "kms-key-id", "", "encrypt the nodes' files and the cluster manifest with this KMS key (SSE-KMS): id, ARN or alias")
}

func (a *app) redisRestoreCommand() *cobra.Command {
	var in redis.RestoreInput
	var wait bool
	var sidecar time.Duration
	var at string
	cmd := &cobra.Command{
		Use:   "restore --cluster-id C [--node-id N] [--source-cluster-id S [--source-node-id M]] [--at TIME | --backup-id ID] --backup-location s3://... [--wait]",
		Short: "Restore a Redis cluster, or one node, from a backup (of this cluster or another one)",
		Example: `  lifeboat redis restore --cluster-id shop --backup-location s3://my-bucket/redis --wait
  lifeboat redis restore --cluster-id shop --node-id n2 --backup-id 20261122T001730.096Z --backup-location s3://my-bucket/redis --wait
  lifeboat redis restore --cluster-id shop --at 2026-11-21 --backup-location s3://my-bucket/redis --wait
  lifeboat redis restore --cluster-id shop-test --source-cluster-id shop --backup-location s3://my-bucket/redis --wait`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster-id", "backup-location"); err != nil {
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
			if err := in.Access.Validate(); err != nil {
				return usageError{err}
			}
			if in.SourceNode != "" && in.Node == "" {
				return usagef("--source-node-id needs --node-id: it names the backed-up node one restored node gets")
			}
			date, err := redisBackupChoice(at, in.BackupID)
			if err != nil {
				return err
			}
			in.Date = date
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
	f.StringVar(&in.Cluster, "cluster-id", "", "registered cluster to restore into")
	f.StringVar(&in.Node, "node-id", "", "restore this node only (default: every node)")
	f.StringVar(&in.SourceCluster, "source-cluster-id", "", "restore this cluster's backup (default: the cluster's own); nodes pair by position")
	f.StringVar(&in.SourceNode, "source-node-id", "", "with --node-id: the backed-up node it gets (default: by id, or by position from another cluster)")
	f.StringVar(&at, "at", "", "restore the latest backup taken at or before this moment: "+timeFormats+", a date meaning the end of that day (default: the latest)")
	f.StringVar(&in.BackupID, "backup-id", "", "restore this backup, an id like 20261122T001730.096Z as redis backups lists it")
	f.StringVar(&in.BackupLocation, "backup-location", "", "where the backups were written: s3://bucket/prefix")
	accessFlags(cmd, &in.Access)
	f.BoolVar(&wait, "wait", false, "wait for the restore, showing progress; exit non-zero if it fails")
	f.DurationVar(&sidecar, "sidecar-timeout", redis.DefaultSidecarTimeoutSeconds*time.Second, "how long a node's sidecar may take to pick up its work before the node counts as down: "+durationFormat)
	alias(cmd, "cluster-id", "cluster")
	alias(cmd, "node-id", "node")
	alias(cmd, "source-cluster-id", "source-cluster")
	alias(cmd, "source-node-id", "source-node")
	alias(cmd, "at", "date")
	return cmd
}

func (a *app) redisBackupsCommand() *cobra.Command {
	var cluster, location string
	var access backupstore.Access
	var out *output
	cmd := &cobra.Command{
		Use:     "backups --cluster-id C --backup-location s3://... [--output table|json]",
		Short:   "List a cluster's complete backups: id, date, format, size, nodes, last verification and restore test",
		Example: "  lifeboat redis backups --cluster-id shop --backup-location s3://my-bucket/redis --output json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster-id", "backup-location"); err != nil {
				return err
			}
			if err := checkRedisRequest(cluster, location); err != nil {
				return err
			}
			loc, err := backupstore.ParseLocationWith(location, access)
			if err != nil {
				return usageError{err}
			}
			cmd.SetContext(loc.WithRole(cmd.Context()))
			c, err := a.awsClients(cmd.Context())
			if err != nil {
				return err
			}
			found, err := redisbackup.FindBackups(cmd.Context(), c.Buckets, loc, cluster)
			if err != nil {
				if backupstore.IsNotFound(err) {
					return usageError{&backupstore.NoBucketError{Location: loc}}
				}
				if aerr := accessError(loc, err); aerr != nil {
					return aerr
				}
				return err
			}
			// Three small GETs per backup (manifest, verified.json,
			// restore-test.json), read listingReads at a time.
			doc := make([]redisBackupJSON, len(found))
			g, gctx := errgroup.WithContext(cmd.Context())
			g.SetLimit(listingReads)
			for i, id := range found {
				g.Go(func() error {
					m, err := redisbackup.ReadManifest(gctx, c.Buckets, loc.Bucket, redisbackup.ManifestKey(loc, cluster, id))
					if err != nil {
						doc[i] = redisBackupJSON{BackupID: id, NodeIDs: []string{}, Problem: "unreadable manifest: " + oneLine(err)}
						return nil
					}
					t := m.StartedAt.UTC()
					folder := redisbackup.BackupFolder(loc, cluster, id)
					v, err := backupstore.ReadVerification(gctx, c.Buckets, loc.Bucket, folder)
					if err != nil {
						return err
					}
					rt, err := backupstore.ReadRestoreTest(gctx, c.Buckets, loc.Bucket, folder)
					if err != nil {
						return err
					}
					doc[i] = redisBackupJSON{BackupID: id, StartedAt: &t, Format: m.Persistence, Keys: m.Keys, Bytes: m.Bytes, NodeIDs: m.NodeIDs(),
						Verified: v, RestoreTest: rt}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				return err
			}
			if err := a.render(out, doc, func(tw io.Writer) {
				fmt.Fprintln(tw, "BACKUP ID\tDATE\tFORMAT\tKEYS\tSIZE\tNODES\tVERIFIED\tRESTORE TEST")
				for _, b := range doc {
					if b.StartedAt == nil {
						fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\t-\t-\n", b.BackupID, b.Problem)
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", b.BackupID, b.StartedAt.Format("2006-01-02 15:04:05Z"), b.Format,
						b.Keys, humanBytes(b.Bytes), strings.Join(b.NodeIDs, ","), b.Verified.Short(), b.RestoreTest.Short())
				}
			}); err != nil {
				return err
			}
			if len(found) == 0 && *out == outputTable {
				fmt.Fprintf(a.err, "no complete backup of Redis cluster %q under %s\n", cluster, loc)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster-id", "", "cluster whose backups to list")
	cmd.Flags().StringVar(&location, "backup-location", "", "where the backups were written: s3://bucket/prefix")
	alias(cmd, "cluster-id", "cluster")
	out = outputFlag(cmd)
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

// redisBackupChoice checks --at and --backup-id of a Redis restore or
// verify and returns the workflow's Date: a day (read as the whole day) or
// an RFC 3339 time; empty without --at.
func redisBackupChoice(at, backupID string) (string, error) {
	if at != "" && backupID != "" {
		return "", usagef("give --at or --backup-id, not both")
	}
	if backupID != "" {
		if _, err := redisbackup.ParseBackupID(backupID); err != nil {
			return "", usageError{fmt.Errorf("--backup-id: %w", err)}
		}
	}
	if at == "" {
		return "", nil
	}
	w, err := parseTime("at", at)
	if err != nil {
		return "", err
	}
	if !w.date {
		return w.t.Format(time.RFC3339Nano), nil
	}
	return w.day(), nil
}

// redisCopyFlags are --copy-to (repeatable) and the role to write them with.
type redisCopyFlags struct {
	to     []string
	access backupstore.Access
}

func (o *redisCopyFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&o.to, "copy-to", nil, "after the backup succeeded, copy it to this s3://bucket/prefix too (repeatable; a failed copy is a warning, the backup stands)")
	f.StringVar(&o.access.RoleARN, "copy-role-arn", "", "assume this IAM role to write the --copy-to locations (a bucket in another account)")
	f.StringVar(&o.access.ExternalID, "copy-external-id", "", "external id the --copy-role-arn role's trust policy requires")
}

// apply adds the copy destinations to a backup and checks them (exit 2).
func (o *redisCopyFlags) apply(in *redis.BackupInput) error {
	if len(o.to) == 0 && (o.access.RoleARN != "" || o.access.ExternalID != "") {
		return usageError{errors.New("--copy-role-arn and --copy-external-id need --copy-to")}
	}
	if err := o.access.Validate(); err != nil {
		return usageError{fmt.Errorf("--copy-role-arn: %w", err)}
	}
	for _, c := range o.to {
		in.CopyTo = append(in.CopyTo, redis.CopyDestination{Location: c, Access: o.access})
	}
	if _, err := in.CopyDests(); err != nil {
		return usageError{err}
	}
	return nil
}

// printRedisCopies prints a backup's copies, one line each.
func printRedisCopies(w io.Writer, rows []redis.CopyRow) {
	for _, c := range rows {
		if c.OK {
			fmt.Fprintf(w, "  copy -> %s (%d objects, %d bytes)\n", c.ManifestURL, c.Objects, c.Bytes)
		} else {
			fmt.Fprintf(w, "  copy to %s FAILED, the backup stands: %s\n", c.Location, c.Error)
		}
	}
}
