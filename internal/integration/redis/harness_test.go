package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	tclient "go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/worker/app"
	rediswf "github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// One dev server, moto and pair of main workers for the whole package,
// started by the first test that needs them. Each test runs its own Redis
// cluster: its own redis-server processes, data directories and sidecars,
// and node ids no other test uses.
var pkgEnv = testenv.Shared{Name: "redis integration"}

func TestMain(m *testing.M) { os.Exit(pkgEnv.Main(m)) }

// shared returns the package's Env, starting it on first use. It skips the
// test in -short mode and fails it when redis-server is not installed.
func shared(tb testing.TB) *testenv.Env {
	tb.Helper()
	if !testing.Short() {
		if _, err := exec.LookPath("redis-server"); err != nil {
			tb.Fatalf("redis-server not found (make tools installs it): %v", err)
		}
	}
	return pkgEnv.Get(tb)
}

// node is one redis-server process with its own data directory and an
// in-process sidecar worker on its task queue.
type node struct {
	id, addr, dir, conf string
	port                int
	appendOnly          bool
	stopNoSave          bool
	rc                  *goredis.Client
	proc                *exec.Cmd // the first redis-server; restores start others
	procDone            chan struct{}
	sidecar             worker.Worker
	sidecarClient       tclient.Client
}

// cluster is a registered Redis cluster of nodes.
type cluster struct {
	name  string
	nodes []*node
}

type clusterOptions struct {
	nodes      int
	appendOnly bool
	// noCommands leaves the sidecars without start and stop commands.
	noCommands bool
	// unregistered leaves the cluster out of the control table.
	unregistered bool
	// stopNoSave stops Redis with SHUTDOWN NOSAVE (as README advises)
	// rather than SHUTDOWN SAVE.
	stopNoSave bool
}

// startCluster starts the nodes and their sidecars and registers the
// cluster in the control table. Everything is stopped in Cleanup.
func startCluster(t testing.TB, e *testenv.Env, prefix string, o clusterOptions) *cluster {
	t.Helper()
	if o.nodes == 0 {
		o.nodes = 3
	}
	c := &cluster{name: e.ID(prefix)}
	rec := registry.RedisCluster{Name: c.name}
	for i := 1; i <= o.nodes; i++ {
		n := startNode(t, fmt.Sprintf("%s-n%d", c.name, i), o.appendOnly)
		n.stopNoSave = o.stopNoSave
		startSidecar(t, e, n, !o.noCommands)
		c.nodes = append(c.nodes, n)
		rec.Nodes = append(rec.Nodes, registry.RedisNode{ID: n.id, Addr: n.addr, TaskQueue: redisbackup.NodeTaskQueue(e.Config.TaskQueue, n.id)})
	}
	if o.unregistered {
		return c
	}
	if _, err := e.Registry().PutRedisCluster(context.Background(), rec, false, time.Now()); err != nil {
		t.Fatalf("register cluster %s: %v", c.name, err)
	}
	return c
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startNode runs `redis-server <conf>` in the foreground, the command the
// sidecar also starts it with.
func startNode(t testing.TB, id string, appendOnly bool) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{id: id, dir: dir, conf: filepath.Join(dir, "redis.conf"), appendOnly: appendOnly}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		n.port, n.addr = port, fmt.Sprintf("127.0.0.1:%d", port)
		ao := "no"
		if appendOnly {
			ao = "yes"
		}
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsave \"\"\nappendonly %s\ndaemonize no\nlogfile %s\n",
			port, dir, ao, filepath.Join(dir, "redis.log"))
		if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("redis-server", n.conf)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		n.proc, n.procDone = cmd, done
		if lastErr = waitAnswering(n.addr, done, 10*time.Second); lastErr == nil {
			break
		}
		_ = cmd.Process.Kill()
		<-done
	}
	if lastErr != nil {
		t.Fatalf("node %s: %v (log: %s)", id, lastErr, readLog(n))
	}
	n.rc = goredis.NewClient(&goredis.Options{
		Addr: n.addr, Protocol: 2, DisableIdentity: true, MaxRetries: 5,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() {
		// Whichever redis-server runs now (the first or one a restore started).
		_ = exec.Command("redis-cli", "-p", fmt.Sprint(n.port), "shutdown", "nosave").Run()
		_ = n.rc.Close()
		select {
		case <-n.procDone:
		case <-time.After(10 * time.Second):
			_ = n.proc.Process.Kill()
		}
		if t.Failed() {
			t.Logf("node %s log:\n%s", n.id, readLog(n))
		}
	})
	return n
}

func readLog(n *node) string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "redis.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return strings.Join(lines, "\n")
}

// waitAnswering waits until Redis answers PING (not LOADING).
func waitAnswering(addr string, exited <-chan struct{}, timeout time.Duration) error {
	rc := goredis.NewClient(&goredis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer rc.Close()
	deadline := time.Now().Add(timeout)
	for {
		err := rc.Ping(context.Background()).Err()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server does not answer: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSidecar runs the node's sidecar worker in process, as
// `worker --redis-node ... --redis-start-cmd ... --redis-stop-cmd ...` would.
func startSidecar(t testing.TB, e *testenv.Env, n *node, commands bool) {
	t.Helper()
	c, err := tclient.Dial(tclient.Options{
		HostPort: e.TemporalAddress, Namespace: e.Config.Namespace, Identity: "sidecar-" + n.id,
		Logger: tlog.NewStructuredLogger(sidecarLogger(e)),
	})
	if err != nil {
		t.Fatalf("sidecar %s: %v", n.id, err)
	}
	rn := &redisact.Node{
		NodeID: n.id, Addr: n.addr, PartSize: 5 << 20, PollInterval: 50 * time.Millisecond,
		StartTimeout: 30 * time.Second, StopTimeout: 30 * time.Second, StartLog: filepath.Join(n.dir, "start.log"),
	}
	if commands {
		rn.StartCmd = "exec redis-server " + n.conf
		rn.StopCmd = fmt.Sprintf("redis-cli -p %d shutdown save", n.port)
		if n.stopNoSave {
			rn.StopCmd = fmt.Sprintf("redis-cli -p %d shutdown nosave", n.port)
		}
	}
	w, err := app.NewRedisSidecar(c, e.Config, e.AWS, rn, worker.Options{})
	if err != nil {
		t.Fatalf("sidecar %s: %v", n.id, err)
	}
	if err := w.Start(); err != nil {
		t.Fatalf("sidecar %s: %v", n.id, err)
	}
	n.sidecar, n.sidecarClient = w, c
	t.Cleanup(n.stopSidecar)
}

var (
	sidecarLogOnce sync.Once
	sidecarLog     *slog.Logger
)

// sidecarLogger logs the sidecars to sidecars.log beside the Env's logs.
func sidecarLogger(e *testenv.Env) *slog.Logger {
	sidecarLogOnce.Do(func() {
		var w io.Writer = io.Discard
		if f, err := os.Create(filepath.Join(e.LogDir, "sidecars.log")); err == nil {
			w = f // closed with the process
		}
		sidecarLog = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	return sidecarLog
}

func (n *node) stopSidecar() {
	if n.sidecar != nil {
		n.sidecar.Stop()
		n.sidecarClient.Close()
		n.sidecar = nil
	}
}

// restart stops the node's Redis (SHUTDOWN, which saves) and starts it
// again on its files.
func (n *node) restart(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("redis-cli", "-p", fmt.Sprint(n.port), "shutdown").CombinedOutput(); err != nil {
		t.Fatalf("node %s: shutdown: %v: %s", n.id, err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", n.addr); err != nil {
			break
		} else {
			_ = c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not stop", n.id)
		}
	}
	cmd := exec.Command("redis-server", n.conf)
	if err := cmd.Start(); err != nil {
		t.Fatalf("node %s: restart: %v", n.id, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if err := waitAnswering(n.addr, done, 10*time.Second); err != nil {
		t.Fatalf("node %s: restart: %v (log: %s)", n.id, err, readLog(n))
	}
}

// runID identifies the running redis-server process: it changes on restart.
func (n *node) runID(t testing.TB) string {
	t.Helper()
	s, err := n.rc.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatalf("node %s: INFO server: %v", n.id, err)
	}
	return redisbackup.ParseInfo(s)["run_id"]
}

// fill writes a mix of data types into databases 0 and 2 of a node, with
// values derived from tag, and returns nothing: read it back with dump.
func (n *node) fill(t testing.TB, tag string, keys int) {
	t.Helper()
	ctx := context.Background()
	p := n.rc.Pipeline()
	for i := range keys {
		p.Set(ctx, fmt.Sprintf("%s:str:%04d", n.id, i), fmt.Sprintf("%s value %d of %s", tag, i, n.id), 0)
	}
	p.HSet(ctx, n.id+":hash", "a", tag+"-1", "b", tag+"-2", "c", tag+"-3")
	p.RPush(ctx, n.id+":list", tag, "x", "y", "z")
	p.SAdd(ctx, n.id+":set", tag, "m1", "m2")
	p.ZAdd(ctx, n.id+":zset", goredis.Z{Score: 1.5, Member: tag}, goredis.Z{Score: 2, Member: "two"})
	p.Set(ctx, n.id+":ttl", tag, time.Hour)
	if _, err := p.Exec(ctx); err != nil {
		t.Fatalf("node %s: fill: %v", n.id, err)
	}
	db2 := n.db(2)
	defer db2.Close()
	if err := db2.Set(ctx, n.id+":db2", tag+" in db 2", 0).Err(); err != nil {
		t.Fatalf("node %s: db2: %v", n.id, err)
	}
}

// db is a client of one of the node's databases (a pooled connection
// must not be moved to another database with SELECT).
func (n *node) db(db int) *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr: n.addr, DB: db, Protocol: 2, DisableIdentity: true, MaxRetries: 5,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

// putRandom stores size random (incompressible) bytes under key, so the
// node's files need a multipart upload.
func (n *node) putRandom(t testing.TB, key string, size int) {
	t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := n.rc.Set(context.Background(), key, b, 0).Err(); err != nil {
		t.Fatalf("node %s: set %s: %v", n.id, key, err)
	}
}

// change rewrites, deletes and adds keys: what a restore must undo.
func (n *node) change(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	p := n.rc.Pipeline()
	p.Set(ctx, n.id+":str:0000", "changed", 0)
	p.Del(ctx, n.id+":str:0001", n.id+":hash")
	p.RPush(ctx, n.id+":list", "appended")
	p.Set(ctx, n.id+":new", "written after the backup", 0)
	p.ZAdd(ctx, n.id+":zset", goredis.Z{Score: 9, Member: "late"})
	if _, err := p.Exec(ctx); err != nil {
		t.Fatalf("node %s: change: %v", n.id, err)
	}
}

// dump reads every key of every database as "db:key" -> type and content,
// in a form that compares equal for equal data.
func (n *node) dump(t testing.TB) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for db := 0; db < 16; db++ {
		conn := n.db(db)
		defer conn.Close()
		keys, err := conn.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatalf("node %s: keys: %v", n.id, err)
		}
		for _, k := range keys {
			typ, err := conn.Type(ctx, k).Result()
			if err != nil {
				t.Fatalf("node %s: type %s: %v", n.id, k, err)
			}
			var v any
			switch typ {
			case "string":
				v, err = conn.Get(ctx, k).Result()
			case "hash":
				v, err = conn.HGetAll(ctx, k).Result()
			case "list":
				v, err = conn.LRange(ctx, k, 0, -1).Result()
			case "set":
				var m []string
				m, err = conn.SMembers(ctx, k).Result()
				sort.Strings(m)
				v = m
			case "zset":
				v, err = conn.ZRangeWithScores(ctx, k, 0, -1).Result()
			}
			if err != nil {
				t.Fatalf("node %s: read %s: %v", n.id, k, err)
			}
			s := fmt.Sprintf("%s %v", typ, v)
			if len(s) > 200 {
				s = fmt.Sprintf("%s len=%d sum=%x", typ, len(s), hash(s))
			}
			out[fmt.Sprintf("%d:%s", db, k)] = s
		}
	}
	return out
}

func hash(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

func (c *cluster) dump(t testing.TB) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, n := range c.nodes {
		out[n.id] = n.dump(t)
	}
	return out
}

func (c *cluster) runIDs(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range c.nodes {
		out[n.id] = n.runID(t)
	}
	return out
}

// requireSame fails unless a node holds exactly want.
func requireSame(t testing.TB, what string, want, got map[string]string) {
	t.Helper()
	if d := testenv.DiffItems(want, got); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

// requireClean fails if a restore left staging folders or data kept aside
// in a node's data directory.
func (n *node) requireClean(t testing.TB) {
	t.Helper()
	entries, err := os.ReadDir(n.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".lifeboat-restore-") || strings.HasSuffix(e.Name(), ".lifeboat-old") {
			t.Errorf("node %s: %s left in the data directory", n.id, e.Name())
		}
	}
}

func backup(ctx context.Context, t testing.TB, e *testenv.Env, in rediswf.BackupInput) *rediswf.BackupResult {
	t.Helper()
	run, err := e.Client().StartRedisBackup(ctx, in)
	if err != nil {
		t.Fatalf("start Redis backup: %v", err)
	}
	res, err := e.Client().WaitRedisBackup(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("Redis backup %s: %v", run.ID, err)
	}
	return res
}

func restore(ctx context.Context, t testing.TB, e *testenv.Env, in rediswf.RestoreInput) *rediswf.RestoreResult {
	t.Helper()
	res, err := tryRestore(ctx, e, in)
	if err != nil {
		t.Fatalf("Redis restore: %v", err)
	}
	return res
}

func tryRestore(ctx context.Context, e *testenv.Env, in rediswf.RestoreInput) (*rediswf.RestoreResult, error) {
	run, err := e.Client().StartRedisRestore(ctx, in)
	if err != nil {
		return nil, err
	}
	return e.Client().WaitRedisRestore(ctx, run.ID, nil)
}

// failure unwraps a workflow failure.
func failure(t testing.TB, err error) *client.WorkflowFailedError {
	t.Helper()
	var wf *client.WorkflowFailedError
	if !errors.As(err, &wf) {
		t.Fatalf("want a workflow failure, got %T: %v", err, err)
	}
	return wf
}
