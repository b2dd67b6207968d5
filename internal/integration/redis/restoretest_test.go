package redis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisRestoreTest drives `lifeboat redis restore-test` on a
// real backup of a two-node cluster whose data changed since: it passes,
// the check command reads the backup's data (not the live node's) from the
// scratch node, restore-test.json records the RTO and redis backups shows
// it; a failing check command fails it with its output's first line; a
// truncated dump whose checksum was written into the manifest fails it
// naming the node and Redis's verdict. After each run no scratch
// redis-server runs and no scratch directory is left, and throughout the
// live nodes answer, keep their run ids and data, and the cluster's record
// in the control table does not change.
func TestIntegrationRedisRestoreTest(t *testing.T) {
	e := shared(t)
	// The CLI reads AWS settings from the environment, and the scratch
	// directories go to TMPDIR: no t.Parallel.
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 4*time.Minute)
	c := startCluster(t, e, "rtest", clusterOptions{nodes: 2})
	loc := e.NewBackupLocation(t)
	for _, n := range c.nodes {
		n.fill(t, "rtest", 60)
	}
	res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc})
	for _, n := range c.nodes {
		n.change(t) // the scratch nodes must hold the backup, not this
	}
	scratchRoot := useScratchRoot(t)
	live := watchLive(t, c)
	lc, _ := backupstore.ParseLocation(loc)
	folder := redisbackup.BackupFolder(lc, c.name, res.BackupID)

	lifeboat := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		all := append([]string{
			"--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue, "--control-table", e.Config.ControlTable,
		}, args...)
		code := cli.Main(ctx, all, &out, &errOut)
		t.Logf("lifeboat %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}
	lastLine := func(s string) string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return lines[len(lines)-1]
	}
	record := func() *backupstore.RestoreTest {
		t.Helper()
		r, err := backupstore.ReadRestoreTest(ctx, e.AWS.S3, lc.Bucket, folder)
		if err != nil || r == nil {
			t.Fatalf("read %s: %v, %v", backupstore.RestoreTestName, r, err)
		}
		return r
	}

	// Passes. The check command notes where it ran and what it read.
	seen := filepath.Join(t.TempDir(), "seen")
	check := fmt.Sprintf(`echo "$LIFEBOAT_REDIS_NODE $LIFEBOAT_SCRATCH_REDIS_ADDR $LIFEBOAT_REDIS_BACKUP_ID $(redis-cli -u "$LIFEBOAT_SCRATCH_REDIS_URL" get "$LIFEBOAT_REDIS_NODE:str:0000")" >> %s`, seen)
	start := time.Now().UTC().Add(-time.Second)
	code, out, _ := lifeboat("redis", "restore-test", "--cluster-id", c.name, "--backup-location", loc, "--check-command", check, "--sample-size", "10")
	if code != 0 || !strings.Contains(out, "backup "+res.BackupID+" of Redis cluster "+c.name+" restores: 2 node(s)") {
		t.Fatalf("restore test of a sound backup: exit %d, %q", code, out)
	}
	raw, err := os.ReadFile(seen)
	if err != nil {
		t.Fatalf("the check command did not run: %v", err)
	}
	var scratchAddrs []string
	for _, n := range c.nodes {
		var line string
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(l, n.id+" ") {
				line = l
			}
		}
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 || f[2] != res.BackupID || f[3] != "rtest value 0 of "+n.id || f[1] == n.addr || !strings.HasPrefix(f[1], "127.0.0.1:") {
			t.Errorf("node %s: the check command saw %q; want its scratch node (not %s) holding the backup's value", n.id, line, n.addr)
			continue
		}
		scratchAddrs = append(scratchAddrs, f[1])
	}
	r := record()
	if r.Outcome != backupstore.VerifiedOK || r.BackupID != res.BackupID || r.At.Before(start) || r.RTOSeconds <= 0 ||
		!strings.HasPrefix(r.WorkflowID, "redis-restore-test-"+c.name) || !strings.Contains(r.Checked, "key counts") ||
		!strings.Contains(r.Checked, "check command") {
		t.Errorf("restore-test.json after a passing test: %+v", r)
	}
	for _, a := range scratchAddrs {
		if !strings.Contains(r.Target, a) {
			t.Errorf("restore-test.json's target %q does not name scratch node %s", r.Target, a)
		}
	}
	requireNoScratch(t, scratchRoot, scratchAddrs)
	code, out, _ = lifeboat("redis", "backups", "--cluster-id", c.name, "--backup-location", loc, "--output", "json")
	var listed []struct {
		BackupID    string                   `json:"backupId"`
		RestoreTest *backupstore.RestoreTest `json:"restoreTest"`
	}
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || len(listed) != 1 || listed[0].RestoreTest == nil ||
		listed[0].RestoreTest.RTOSeconds != r.RTOSeconds {
		t.Errorf("redis backups json after a restore test: exit %d, %v, %q", code, err, out)
	}
	if code, out, _ := lifeboat("redis", "backups", "--cluster-id", c.name, "--backup-location", loc); code != 0 ||
		!strings.Contains(out, "RESTORE TEST") || !strings.Contains(out, r.Short()) {
		t.Errorf("redis backups table after a restore test: exit %d, %q; want %q", code, out, r.Short())
	}

	// A failing check command fails the test with its first line, and the
	// scratch nodes still go.
	failing := `echo "orders index missing on $LIFEBOAT_REDIS_NODE"; echo second line; exit 3`
	code, _, stderr := lifeboat("redis", "restore-test", "--cluster-id", c.name, "--backup-location", loc, "--node-id", c.nodes[1].id, "--check-command", failing)
	msg := lastLine(stderr)
	if code != 1 || !strings.HasPrefix(msg, "lifeboat: ") {
		t.Fatalf("restore test with a failing check: exit %d, %q; want 1", code, msg)
	}
	for _, want := range []string{"node " + c.nodes[1].id + ":", "check command failed", "exit status 3", "orders index missing on " + c.nodes[1].id} {
		if !strings.Contains(msg, want) {
			t.Errorf("restore test with a failing check says %q, not %q", msg, want)
		}
	}
	if strings.Contains(msg, "second line") {
		t.Errorf("restore test with a failing check: %q has more than the first line of output", msg)
	}
	if r := record(); r.Outcome != backupstore.VerifiedFailed || !strings.Contains(r.Problem, "orders index missing") {
		t.Errorf("restore-test.json after a failing check: %+v", r)
	}
	requireNoScratch(t, scratchRoot, nil)

	// A truncated dump whose checksum the manifest is made to carry: the
	// download passes, the load does not.
	manifestKey := redisbackup.ManifestKey(lc, c.name, res.BackupID)
	m, err := redisbackup.ReadManifest(ctx, e.AWS.S3, lc.Bucket, manifestKey)
	if err != nil {
		t.Fatal(err)
	}
	bad := &m.Nodes[1]
	f := &bad.Files[0]
	orig := e.GetObject(t, lc.Bucket, f.Key)
	cut := orig[:len(orig)*2/3]
	e.PutObject(t, lc.Bucket, f.Key, cut)
	sum := sha256.Sum256(cut)
	f.SHA256, f.Size = hex.EncodeToString(sum[:]), int64(len(cut))
	m.Bytes -= bad.Bytes - f.Size
	bad.Bytes = f.Size
	if err := redisbackup.WriteManifest(ctx, e.AWS.S3, lc.Bucket, manifestKey, m); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = lifeboat("redis", "restore-test", "--cluster-id", c.name, "--backup-location", loc)
	msg = lastLine(stderr)
	if code != 1 {
		t.Fatalf("restore test of a truncated dump: exit %d, %q; want 1", code, msg)
	}
	for _, want := range []string{"node " + bad.Node + ":", "did not load dump.rdb", "Unexpected EOF"} {
		if !strings.Contains(msg, want) {
			t.Errorf("restore test of a truncated dump says %q, not %q", msg, want)
		}
	}
	if strings.Contains(msg, "checksum mismatch") || strings.Contains(msg, "node "+m.Nodes[0].Node+":") {
		t.Errorf("restore test of a truncated dump blames the wrong thing: %q", msg)
	}
	if r := record(); r.Outcome != backupstore.VerifiedFailed || !strings.Contains(r.Problem, "node "+bad.Node) {
		t.Errorf("restore-test.json after a truncated dump: %+v", r)
	}
	requireNoScratch(t, scratchRoot, nil)

	// The file loads but holds other data than the manifest says: a key
	// count the manifest is made to carry fails the test.
	e.PutObject(t, lc.Bucket, f.Key, orig)
	m, err = redisbackup.ReadManifest(ctx, e.AWS.S3, lc.Bucket, manifestKey) // still the truncated file's checksum
	if err != nil {
		t.Fatal(err)
	}
	sum = sha256.Sum256(orig)
	m.Nodes[1].Files[0].SHA256, m.Nodes[1].Files[0].Size = hex.EncodeToString(sum[:]), int64(len(orig))
	m.Bytes += int64(len(orig)) - m.Nodes[1].Bytes
	m.Nodes[1].Bytes = int64(len(orig))
	first := &m.Nodes[0]
	first.Keys, first.MinKeys, first.MaxKeys = first.Keys+1000, first.MinKeys+1000, first.MaxKeys+1000
	m.Keys += 1000
	if err := redisbackup.WriteManifest(ctx, e.AWS.S3, lc.Bucket, manifestKey, m); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = lifeboat("redis", "restore-test", "--cluster-id", c.name, "--backup-location", loc)
	msg = lastLine(stderr)
	if want := fmt.Sprintf("node %s: backup %s loads %d keys into a scratch node, its manifest says %s",
		first.Node, res.BackupID, first.Keys-1000, first.ExpectedKeys()); code != 1 || !strings.Contains(msg, want) {
		t.Errorf("restore test of a manifest claiming 1000 more keys: exit %d, %q; want 1 and %q", code, msg, want)
	}
	if strings.Contains(msg, "node "+m.Nodes[1].Node+":") {
		t.Errorf("restore test of a manifest claiming more keys names the sound node: %q", msg)
	}
	requireNoScratch(t, scratchRoot, nil)

	// No such backup, no such node: bad input.
	if code, _, stderr := lifeboat("redis", "restore-test", "--cluster-id", c.name, "--backup-location", loc, "--at", "2001-01-01"); code != 2 ||
		!strings.Contains(stderr, "no complete backup") {
		t.Errorf("restore test of no backup: exit %d, %q; want 2", code, stderr)
	}
	if code, _, stderr := lifeboat("redis", "restore-test", "--cluster-id", c.name, "--backup-location", loc, "--node-id", "nope"); code != 2 ||
		!strings.Contains(stderr, `no node "nope"`) {
		t.Errorf("restore test of an unknown node: exit %d, %q; want 2", code, stderr)
	}
	live.requireUntouched(t)
}

// TestIntegrationRedisRestoreTestAOF restore-tests an AOF backup (a
// multi-part append-only directory) through the client, then cancels a
// restore test while its check command runs: the scratch node and its
// directory are gone when the cancelled run ends, and nothing is recorded.
func TestIntegrationRedisRestoreTestAOF(t *testing.T) {
	e := shared(t)
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "rtestaof", clusterOptions{nodes: 1, appendOnly: true})
	loc := e.NewBackupLocation(t)
	c.nodes[0].fill(t, "aof", 30)
	b := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc, Format: redisbackup.FormatAOF})
	scratchRoot := useScratchRoot(t)
	live := watchLive(t, c)

	in := redis.RestoreTestInput{Cluster: c.name, BackupLocation: loc, BackupID: b.BackupID}
	run, err := e.Client().StartRedisRestoreTest(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Client().WaitRedisRestoreTest(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("restore test of an AOF backup: %v", err)
	}
	if res.Format != redisbackup.FormatAOF || len(res.Nodes) != 1 || res.Nodes[0].Keys != b.Keys || res.Nodes[0].Sampled == 0 || res.RecordURL == "" {
		t.Errorf("restore test result %+v", res)
	}
	requireNoScratch(t, scratchRoot, []string{res.Nodes[0].Addr})

	// Cancelled while the check command runs.
	running := filepath.Join(t.TempDir(), "running")
	in.CheckCommand = fmt.Sprintf(`echo "$LIFEBOAT_SCRATCH_REDIS_ADDR" > %s; sleep 120`, running)
	run, err = e.Client().StartRedisRestoreTest(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var addr []byte
	for deadline := time.Now().Add(time.Minute); len(addr) == 0; time.Sleep(50 * time.Millisecond) {
		addr, _ = os.ReadFile(running)
		if time.Now().After(deadline) {
			t.Fatal("the check command did not start")
		}
	}
	scratch := strings.TrimSpace(string(addr))
	if conn, err := net.Dial("tcp", scratch); err != nil {
		t.Fatalf("the scratch node %s does not answer while the check runs: %v", scratch, err)
	} else {
		_ = conn.Close()
	}
	before, _ := backupstore.ReadRestoreTest(ctx, e.AWS.S3, mustLocation(t, loc).Bucket, redisbackup.BackupFolder(mustLocation(t, loc), c.name, b.BackupID))
	if err := e.Client().Temporal.CancelWorkflow(ctx, run.ID, run.RunID); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := e.Client().WaitRedisRestoreTest(ctx, run.ID, nil); err == nil {
		t.Fatal("a cancelled restore test succeeded")
	}
	t.Logf("cancelled restore test ended %s after the cancel", time.Since(began).Round(time.Millisecond))
	requireNoScratch(t, scratchRoot, []string{scratch})
	after, _ := backupstore.ReadRestoreTest(ctx, e.AWS.S3, mustLocation(t, loc).Bucket, redisbackup.BackupFolder(mustLocation(t, loc), c.name, b.BackupID))
	if !reflect.DeepEqual(before, after) {
		t.Errorf("a cancelled restore test recorded %+v (was %+v)", after, before)
	}
	live.requireUntouched(t)
}

func mustLocation(t *testing.T, loc string) backupstore.Location {
	t.Helper()
	l, err := backupstore.ParseLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// useScratchRoot points the in-process workers' temporary folder, where
// scratch nodes live, at a folder of the test's own (so no t.Parallel).
func useScratchRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	t.Setenv("TMPDIR", root)
	return root
}

// requireNoScratch fails if a scratch directory is left in root, a
// redis-server started on one still runs, or one of addrs still answers.
func requireNoScratch(t *testing.T, root string, addrs []string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "lifeboat-scratch-") {
			t.Errorf("scratch directory %s left behind", e.Name())
		}
	}
	// A scratch redis-server runs in its directory (its title hides its
	// arguments), which outlives its removal as "<dir> (deleted)".
	procs, _ := filepath.Glob("/proc/[0-9]*/cwd")
	for _, p := range procs {
		if cwd, err := os.Readlink(p); err == nil && strings.HasPrefix(cwd, filepath.Join(root, "lifeboat-scratch-")) {
			cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			t.Errorf("a scratch process still runs in %s: %s", cwd, strings.Join(strings.Fields(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))), " "))
		}
	}
	for _, a := range addrs {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			_ = conn.Close()
			t.Errorf("something still answers on scratch address %s", a)
		}
	}
}

// liveWatch pings a cluster's live nodes throughout a test and remembers
// what they held, their run ids and the cluster's control-table record.
type liveWatch struct {
	c        *cluster
	e        *testenv.Env
	data     map[string]map[string]string
	runIDs   map[string]string
	record   any
	failures atomic.Int64
	pings    atomic.Int64
	lastErr  atomic.Value
	stop     chan struct{}
	wg       sync.WaitGroup
}

func watchLive(t *testing.T, c *cluster) *liveWatch {
	t.Helper()
	e := shared(t)
	w := &liveWatch{c: c, e: e, data: c.dump(t), runIDs: c.runIDs(t), stop: make(chan struct{})}
	rec, err := e.Registry().GetRedisCluster(context.Background(), c.name)
	if err != nil {
		t.Fatal(err)
	}
	w.record = *rec
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for _, n := range c.nodes {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				err := n.rc.Ping(ctx).Err()
				cancel()
				w.pings.Add(1)
				if err != nil {
					w.failures.Add(1)
					w.lastErr.Store(fmt.Sprintf("%s: %v", n.id, err))
				}
			}
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *liveWatch) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// requireUntouched fails unless every live node answered every ping and
// holds what it held, under the same run id, and the cluster's record
// (nodes, hold) is as it was.
func (w *liveWatch) requireUntouched(t *testing.T) {
	t.Helper()
	w.halt()
	if f := w.failures.Load(); f > 0 || w.pings.Load() == 0 {
		t.Errorf("live nodes missed %d of %d pings during the restore tests (last: %v)", f, w.pings.Load(), w.lastErr.Load())
	}
	if got := w.c.runIDs(t); !reflect.DeepEqual(got, w.runIDs) {
		t.Errorf("live nodes were restarted: run ids %v, were %v", got, w.runIDs)
	}
	for _, n := range w.c.nodes {
		requireSame(t, "live node "+n.id+" after restore tests", w.data[n.id], n.dump(t))
	}
	rec, err := w.e.Registry().GetRedisCluster(context.Background(), w.c.name)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*rec, w.record) {
		t.Errorf("the cluster's control-table record changed: %+v, was %+v", *rec, w.record)
	}
}
