package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// Error types of a restore test. Neither is retried: a worker without
// redis-server needs it installed, and a backup that does not load into a
// scratch node, or loads other data than its manifest says, will not load
// better the next time.
const (
	ErrServerMissing     = "RedisServerMissing"
	ErrRestoreTestFailed = "RedisRestoreTestFailed"
)

// Environment of a restore test's check command: where the scratch node
// answers, and what it was restored from.
const (
	EnvScratchAddr = "LIFEBOAT_SCRATCH_REDIS_ADDR" // 127.0.0.1:port
	EnvScratchHost = "LIFEBOAT_SCRATCH_REDIS_HOST"
	EnvScratchPort = "LIFEBOAT_SCRATCH_REDIS_PORT"
	EnvScratchURL  = "LIFEBOAT_SCRATCH_REDIS_URL" // redis://127.0.0.1:port
	EnvCluster     = "LIFEBOAT_REDIS_CLUSTER"
	EnvNode        = "LIFEBOAT_REDIS_NODE"
	EnvBackupID    = "LIFEBOAT_REDIS_BACKUP_ID"
)

// DefaultSampleSize is how many keys a restore test reads back per node
// when the input does not say.
const DefaultSampleSize = 20

// DefaultCheckTimeout bounds a restore test's check command.
const DefaultCheckTimeout = 10 * time.Minute

// RestoreTestRedisNodeInput is one node's file of a backup, to be loaded
// into a scratch Redis on this worker and checked there.
type RestoreTestRedisNodeInput struct {
	Bucket string `json:"bucket"`
	// Location is the backup's location with its role, when the backup is
	// in another account (the download uses the role's credentials); zero
	// in histories from before it was added (the worker's own credentials).
	Location    backupstore.Location `json:"location"`
	Cluster     string               `json:"cluster"`
	BackupID    string               `json:"backupId"`
	Persistence string               `json:"persistence"`
	Node        redisbackup.Node     `json:"node"`
	// SampleSize is how many keys to read back (RANDOMKEY, TYPE); 0 is
	// DefaultSampleSize.
	SampleSize int `json:"sampleSize,omitempty"`
	// CheckCommand, if set, runs (sh -c) once the node has loaded, with
	// the Env* variables naming it; a non-zero exit fails the test.
	CheckCommand        string `json:"checkCommand,omitempty"`
	CheckTimeoutSeconds int    `json:"checkTimeoutSeconds,omitempty"`
}

// RestoreTestRedisNodeResult is a node's file found to restore: loaded by
// a scratch Redis, which held the manifest's key count and answered for
// the sample. The scratch node is gone.
type RestoreTestRedisNodeResult struct {
	Node string `json:"node"`
	// Addr is where the scratch node answered, on Host (the worker).
	Addr         string `json:"addr"`
	Host         string `json:"host"`
	RedisVersion string `json:"redisVersion"`
	Keys         int64  `json:"keys"`
	Bytes        int64  `json:"bytes"`
	// Sampled is how many distinct keys were read back, and their types
	// ("string 14, hash 3").
	Sampled int    `json:"sampled"`
	Types   string `json:"types,omitempty"`
	// RTOMillis is the restore time: from the download's start until the
	// scratch node answered with its data loaded. DownloadMillis is its
	// first part.
	RTOMillis      int64 `json:"rtoMillis"`
	DownloadMillis int64 `json:"downloadMillis"`
	// CheckOutput is the check command's first line of output, if it ran.
	CheckOutput string `json:"checkOutput,omitempty"`
}

// RestoreTestRedisNode proves that one node's file of a backup restores,
// without going near the live cluster: it downloads the file into a scratch
// directory on this worker (checking its size and SHA-256 against the
// manifest), starts a fresh redis-server on it on a free 127.0.0.1 port,
// waits until it answers with the data loaded (the restore time, RTO,
// counted from the download's start), compares its key count over every
// database with the manifest's, reads back a sample of keys (RANDOMKEY,
// TYPE) and runs the check command if given. It heartbeats every few
// seconds, and whatever happens, also when cancelled or timed out, it
// kills the scratch redis-server and removes the directory before it
// returns. Should the worker itself die, the kernel kills the scratch
// process with it (Linux) and DiscardRedisScratch removes the directory.
//
// A load failure, a key count outside the manifest's, an unreadable sample
// or a failing check command fail the test (RedisRestoreTestFailed) with
// one line naming the node; a file that does not match the manifest fails
// with ChecksumMismatch; a worker without redis-server with
// RedisServerMissing.
func (a *Clusters) RestoreTestRedisNode(ctx context.Context, in RestoreTestRedisNodeInput) (*RestoreTestRedisNodeResult, error) {
	n := in.Node
	if strings.TrimSpace(in.CheckCommand) != "" && !a.AllowCheckCommands {
		return nil, activities.CheckCommandsOff() // before anything is downloaded
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"node %s: cannot restore-test: redis-server is not on this worker's PATH (install Debian's redis-server, or run restore tests on a worker that has it)", n.Node),
			ErrServerMissing, err)
	}
	conf, err := scratchConfig(in.Persistence, n)
	if err != nil {
		return nil, err
	}
	dir := scratchDir(ctx, n.Node)
	unlock, err := lockScratch(dir)
	if err != nil {
		return nil, fmt.Errorf("node %s: scratch directory %s: %w", n.Node, dir, err)
	}
	var proc *scratchProc
	// Whatever happens from here on, the scratch node and its files go.
	defer func() {
		proc.kill()
		if rerr := os.RemoveAll(dir); rerr != nil {
			activity.GetLogger(ctx).Error("Could not remove a scratch directory", "dir", dir, "error", rerr)
		}
		unlock()
	}()

	step := new(atomic.Pointer[string])
	defer keepHeartbeating(ctx, n.Node, step)()
	host, _ := os.Hostname()
	res := &RestoreTestRedisNodeResult{Node: n.Node, Host: host, Bytes: n.Bytes}

	began := time.Now()
	progress := &transferProgress{step: step, verb: "downloaded", total: n.Bytes}
	dctx := in.Location.WithRole(ctx) // the backup's role, when it has one
	for _, f := range n.Files {
		url := "s3://" + in.Bucket + "/" + f.Key
		got, sum, derr := downloadFile(dctx, a.S3, verifyPartSize, in.Bucket, f.Key, filepath.Join(dir, filepath.FromSlash(f.Name)), progress)
		switch {
		case derr != nil && backupstore.IsNotFound(derr):
			return nil, activities.Corrupt(fmt.Errorf("node %s: %s (%s) is missing", n.Node, url, f.Name))
		case derr != nil:
			return nil, fmt.Errorf("node %s: download %s: %w", n.Node, url, derr)
		case got != f.Size || sum != f.SHA256:
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"node %s: %s (%s) does not match the cluster manifest: checksum mismatch (%d bytes with SHA-256 %s, want %d bytes with %s)",
				n.Node, url, f.Name, got, sum, f.Size, f.SHA256), activities.ErrChecksumMismatch, nil)
		}
	}
	res.DownloadMillis = time.Since(began).Milliseconds()

	setStep(step, "starting a scratch redis-server")
	proc, err = startScratch(ctx, server, dir, conf)
	var rc *redis.Client
	if err == nil {
		res.Addr = proc.addr
		rc = scratchClient(proc.addr)
		defer rc.Close()
		err = proc.waitLoaded(ctx, rc, step)
	}
	var failed *loadError
	switch {
	case errors.As(err, &failed):
		// It exited: the file does not load (or not into this redis-server).
		return nil, testFailed("node %s: a scratch redis-server did not load %s of backup %s: %s", n.Node, conf.file, in.BackupID, failed.verdict)
	case err != nil:
		return nil, fmt.Errorf("node %s: scratch redis-server: %w", n.Node, err)
	}
	res.RTOMillis = time.Since(began).Milliseconds()

	setStep(step, "checking the scratch node's keys")
	srv, err := redisInfo(ctx, rc, "server")
	if err != nil {
		return nil, fmt.Errorf("node %s: scratch node: INFO server: %w", n.Node, err)
	}
	res.RedisVersion = srv["redis_version"]
	kinfo, err := redisInfo(ctx, rc, "keyspace")
	if err != nil {
		return nil, fmt.Errorf("node %s: scratch node: INFO keyspace: %w", n.Node, err)
	}
	ks, err := redisbackup.ParseKeyspace(kinfo)
	if err != nil {
		return nil, fmt.Errorf("node %s: scratch node: %w", n.Node, err)
	}
	res.Keys = ks.Keys
	if !n.KeysMatch(ks.Keys) {
		return nil, testFailed("node %s: backup %s loads %d keys into a scratch node, its manifest says %s", n.Node, in.BackupID, ks.Keys, n.ExpectedKeys())
	}
	sample := in.SampleSize
	if sample <= 0 {
		sample = DefaultSampleSize
	}
	types, sampled, err := sampleKeys(ctx, rc, keyspaceDBs(kinfo), sample)
	if err != nil {
		return nil, testFailed("node %s: backup %s in a scratch node: %v", n.Node, in.BackupID, err)
	}
	res.Sampled, res.Types = sampled, types
	if ks.Keys > 0 && sampled == 0 {
		return nil, testFailed("node %s: backup %s in a scratch node: %d keys counted but none could be read", n.Node, in.BackupID, ks.Keys)
	}

	if strings.TrimSpace(in.CheckCommand) != "" {
		setStep(step, "running the check command")
		timeout := DefaultCheckTimeout
		if in.CheckTimeoutSeconds > 0 {
			timeout = time.Duration(in.CheckTimeoutSeconds) * time.Second
		}
		out, err := runCheck(ctx, in, proc, timeout)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			if out == "" {
				out = "no output"
			}
			return nil, testFailed("node %s: the check command failed (%v): %s", n.Node, err, out)
		}
		res.CheckOutput = out
	}
	activity.GetLogger(ctx).Info("Redis backup node restore-tested", "cluster", in.Cluster, "backup", in.BackupID, "node", n.Node,
		"addr", proc.addr, "keys", ks.Keys, "rtoMillis", res.RTOMillis)
	return res, nil
}

func testFailed(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrRestoreTestFailed, nil)
}

// sampleKeys reads back up to size random keys, spread over the databases
// that hold keys (dbs: database -> key count): each must still be there
// with a type. It returns the types seen ("hash 3, string 14") and how
// many distinct keys were read.
func sampleKeys(ctx context.Context, rc *redis.Client, dbs map[int]int64, size int) (string, int, error) {
	if len(dbs) == 0 {
		return "", 0, nil
	}
	order := make([]int, 0, len(dbs))
	for db := range dbs {
		order = append(order, db)
	}
	sort.Ints(order)
	conn := rc.Conn()
	defer conn.Close()
	per := (size + len(dbs) - 1) / len(dbs)
	types := map[string]int{}
	seen := 0
	for _, db := range order {
		if err := conn.Select(ctx, db).Err(); err != nil {
			return "", 0, fmt.Errorf("SELECT %d: %w", db, err)
		}
		want := int(min(int64(per), int64(size-seen), dbs[db]))
		keys := map[string]bool{}
		// RANDOMKEY repeats itself: a few more tries for distinct keys.
		for try := 0; len(keys) < want && try < 3*want; try++ {
			k, err := conn.RandomKey(ctx).Result()
			if errors.Is(err, redis.Nil) {
				return "", 0, fmt.Errorf("database %d is counted in INFO keyspace but RANDOMKEY finds no key", db)
			}
			if err != nil {
				return "", 0, fmt.Errorf("RANDOMKEY in database %d: %w", db, err)
			}
			keys[k] = true
		}
		for k := range keys {
			t, err := conn.Type(ctx, k).Result()
			if err != nil {
				return "", 0, fmt.Errorf("TYPE %q in database %d: %w", k, db, err)
			}
			if t == "none" {
				return "", 0, fmt.Errorf("key %q of database %d vanished while sampled", k, db)
			}
			types[t]++
		}
		seen += len(keys)
		if seen >= size {
			break
		}
	}
	names := make([]string, 0, len(types))
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, t := range names {
		parts[i] = fmt.Sprintf("%s %d", t, types[t])
	}
	return strings.Join(parts, ", "), seen, nil
}

// keyspaceDBs is the key count of each database INFO keyspace shows keys in
// ("db2:keys=1,expires=0,avg_ttl=0").
func keyspaceDBs(info map[string]string) map[int]int64 {
	dbs := map[int]int64{}
	for k, v := range info {
		db, err := strconv.Atoi(strings.TrimPrefix(k, "db"))
		if !strings.HasPrefix(k, "db") || err != nil {
			continue
		}
		for _, field := range strings.Split(v, ",") {
			if name, val, _ := strings.Cut(field, "="); name == "keys" {
				if n, err := strconv.ParseInt(val, 10, 64); err == nil && n > 0 {
					dbs[db] = n
				}
			}
		}
	}
	return dbs
}

// runCheck runs the user's check command against the scratch node and
// returns its first line of output.
func runCheck(ctx context.Context, in RestoreTestRedisNodeInput, p *scratchProc, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, port, _ := net.SplitHostPort(p.addr)
	cmd := shellCommand(ctx, in.CheckCommand)
	cmd.Env = append(os.Environ(),
		EnvScratchAddr+"="+p.addr, EnvScratchHost+"="+host, EnvScratchPort+"="+port, EnvScratchURL+"=redis://"+p.addr,
		EnvCluster+"="+in.Cluster, EnvNode+"="+in.Node.Node, EnvBackupID+"="+in.BackupID)
	out, err := cmd.CombinedOutput()
	first := firstLine(out)
	if ctx.Err() == context.DeadlineExceeded {
		return first, fmt.Errorf("timed out after %s", timeout)
	}
	return first, err
}

// firstLine is a command's first non-empty line of output.
func firstLine(out []byte) string {
	for _, l := range strings.Split(string(out), "\n") {
		if s := strings.TrimSpace(l); s != "" {
			return s
		}
	}
	return ""
}

// RecordRedisRestoreTestInput is a restore test's outcome, to be kept
// beside the backup.
type RecordRedisRestoreTestInput struct {
	Location    backupstore.Location    `json:"location"`
	Cluster     string                  `json:"cluster"`
	BackupID    string                  `json:"backupId"`
	RestoreTest backupstore.RestoreTest `json:"restoreTest"`
}

// RecordRedisRestoreTestResult is where the record went.
type RecordRedisRestoreTestResult struct {
	URL string `json:"url"`
}

// RecordRedisRestoreTest writes restore-test.json into the backup's folder,
// beside the cluster manifest, replacing an earlier record.
func (a *Clusters) RecordRedisRestoreTest(ctx context.Context, in RecordRedisRestoreTestInput) (*RecordRedisRestoreTestResult, error) {
	folder := redisbackup.BackupFolder(in.Location, in.Cluster, in.BackupID)
	if err := backupstore.WriteRestoreTest(in.Location.WithRole(ctx), a.S3, in.Location.Bucket, folder, &in.RestoreTest); err != nil {
		return nil, err
	}
	return &RecordRedisRestoreTestResult{URL: "s3://" + in.Location.Bucket + "/" + backupstore.RestoreTestKey(folder)}, nil
}
