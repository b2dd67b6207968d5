package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestChaosRedis: a cluster of two redis-server nodes, each with its
// sidecar as a worker process (worker --redis-node), backed up and then
// restored under faults; in the restore one node's sidecar is killed a
// random delay after its node stopped answering (mid-swap) and restarted
// 2-5 s later. Every run: both workflows complete; each node holds exactly
// what was backed up; every node answers; no node was down longer than
// nodeDownTarget; the cluster's hold is released.
func TestChaosRedis(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil && !testing.Short() {
		t.Fatalf("redis-server not found (make tools installs it): %v", err)
	}
	s := setup(t)
	sc := newScenario("redis", "node down")
	for i := range runs(t) {
		seed := baseSeed() + uint64(i)
		var faults, kills int
		var down time.Duration
		ok := t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			faults, kills, down = redisRun(t, s, seed)
		})
		sc.record(!ok, seed, faults, kills, 0, down)
	}
}

func redisRun(t *testing.T, s *suite, seed uint64) (faults, kills int, worstDown time.Duration) {
	e := s.e
	ctx := testenv.Context(t, 6*time.Minute)
	r := rng(seed)
	name := e.ID("chaos")
	rec := registry.RedisCluster{Name: name}
	var nodes []*redisNode
	for i := 1; i <= 2; i++ {
		n := startRedisNode(t, s, fmt.Sprintf("%s-n%d", name, i))
		nodes = append(nodes, n)
		rec.Nodes = append(rec.Nodes, registry.RedisNode{ID: n.id, Addr: n.addr, TaskQueue: redisbackup.NodeTaskQueue(e.Config.TaskQueue, n.id)})
		n.fill(t, "backed-up", 200+r.IntN(200))
	}
	if _, err := e.Registry().PutRedisCluster(ctx, rec, false, time.Now()); err != nil {
		t.Fatalf("register cluster %s: %v", name, err)
	}
	loc := e.NewBackupLocation(t)
	want := map[string]map[string]string{}
	for _, n := range nodes {
		want[n.id] = n.dump(t)
	}
	victim := nodes[r.IntN(len(nodes))]
	delay, restart := between(r, 0, 1200*time.Millisecond), between(r, 2*time.Second, 5*time.Second)
	t.Logf("seed %d: kill the sidecar of %s %s after its stop command ran, restart %s later", seed, victim.id,
		delay.Round(time.Millisecond), restart.Round(time.Millisecond))

	if err := e.ResetEmulatorRequests(ctx); err != nil {
		t.Fatal(err)
	}
	s.faults(t, true, seed)
	faultsOn := true
	defer func() {
		if faultsOn {
			s.faults(t, false, 0)
		}
	}()
	brun, err := e.Client().StartRedisBackup(ctx, redis.BackupInput{Cluster: name, BackupLocation: loc})
	if err != nil {
		t.Fatalf("start backup: %v", err)
	}
	bres, err := e.Client().WaitRedisBackup(ctx, brun.ID, nil)
	if err != nil {
		t.Fatalf("backup %s: %v", brun.ID, err)
	}
	for _, n := range nodes {
		n.fill(t, "changed after the backup", 50) // what the restore must undo
	}

	watch := watchNodes(ctx, nodes)
	killCtx, cancelKill := context.WithCancel(ctx)
	defer cancelKill()
	rrun, err := e.Client().StartRedisRestore(ctx, redis.RestoreInput{Cluster: name, BackupLocation: loc, BackupID: bres.BackupID})
	if err != nil {
		t.Fatalf("start restore: %v", err)
	}
	k := killLater(killCtx, t, victim.sidecar, appears(killCtx, victim.stopped), delay, restart)
	_, rerr := e.Client().WaitRedisRestore(ctx, rrun.ID, nil)
	cancelKill() // a kill not sent yet will not be
	<-k.done
	watch.wait(ctx, 5*time.Second) // until every node answers again
	downs := watch.stop()
	faults, byKind := s.faultCount(t)
	s.faults(t, false, 0)
	faultsOn = false
	if !k.at.IsZero() {
		kills = 1
	}
	t.Logf("%s; backup %s, restore %s; %d faults injected: %v", k, brun.ID, rrun.ID, faults, byKind)
	if rerr != nil {
		t.Fatalf("restore %s: %v", rrun.ID, rerr)
	}
	for _, n := range nodes {
		var seen []string
		for _, d := range downs[n.id] {
			worstDown = max(worstDown, d.length())
			seen = append(seen, fmt.Sprintf("%s from %s", d.length().Round(time.Millisecond), d.from.Format("15:04:05.000")))
			if d.length() > nodeDownTarget {
				t.Errorf("node %s answered nothing for %s from %s, want at most %s (%s)", n.id, d.length().Round(time.Millisecond),
					d.from.Format("15:04:05.000"), nodeDownTarget, k)
			}
		}
		t.Logf("node %s down: %v", n.id, seen)
		if err := n.rc.Ping(ctx).Err(); err != nil {
			t.Errorf("node %s does not answer after the restore: %v", n.id, err)
			continue
		}
		got := n.dump(t)
		if d := testenv.DiffItems(want[n.id], got); d != "" {
			t.Errorf("node %s after the restore differs from the backup: %s", n.id, d)
		}
	}
	held, err := e.Registry().GetRedisCluster(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if held.HeldBy != "" {
		t.Errorf("cluster %s still held by %s", name, held.HeldBy)
	}
	return faults, kills, worstDown
}

// redisNode is a redis-server and its sidecar process.
type redisNode struct {
	id, addr, dir, conf string
	port                int
	// stopped is created by the stop command as it stops Redis: the
	// restore has begun its swap.
	stopped string
	rc      *goredis.Client
	sidecar *proc
}

func redisClient(addr string, retries int) *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: retries, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: time.Second, MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

// startRedisNode runs `redis-server <conf>` (the sidecar's start command
// runs the same) and its sidecar; both are stopped in Cleanup.
func startRedisNode(t *testing.T, s *suite, id string) *redisNode {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	n := &redisNode{id: id, dir: dir, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port), conf: filepath.Join(dir, "redis.conf")}
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsave \"\"\nappendonly no\ndaemonize no\nlogfile %s\n",
		port, dir, filepath.Join(dir, "redis.log"))
	if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", n.conf)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	go func() { _ = cmd.Wait() }()
	n.rc = redisClient(n.addr, 5)
	t.Cleanup(func() {
		// Whichever redis-server runs now (this one or one a restore started).
		_ = exec.Command("redis-cli", "-p", fmt.Sprint(port), "shutdown", "nosave").Run()
		_ = n.rc.Close()
	})
	for deadline := time.Now().Add(10 * time.Second); n.rc.Ping(context.Background()).Err() != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s does not answer", n.addr)
		}
	}
	// The stop command returns half a second after Redis stopped and the
	// start command takes half a second, as a service manager's would: the
	// window in which the kill lands mid-swap (a small node is otherwise
	// down for a few milliseconds). A kill during the stop leaves the node
	// down with no sidecar to start it; one during the start, a Redis
	// coming back on its own.
	n.stopped = filepath.Join(t.TempDir(), "stop-issued")
	n.sidecar = newProc(s.e, "sidecar-"+id, s.bin, "--redis-node", id, "--redis-addr", n.addr,
		"--redis-start-cmd", "sleep 0.5; exec redis-server "+n.conf,
		"--redis-stop-cmd", fmt.Sprintf("touch %s; redis-cli -p %d shutdown; sleep 0.5", n.stopped, port),
		"--redis-dir", dir)
	if err := n.sidecar.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.sidecar.kill() })
	return n
}

// fill writes keys strings, a hash and a list, with values from tag.
func (n *redisNode) fill(t *testing.T, tag string, keys int) {
	t.Helper()
	ctx := context.Background()
	p := n.rc.Pipeline()
	for i := range keys {
		p.Set(ctx, fmt.Sprintf("str:%04d", i), fmt.Sprintf("%s value %d of %s", tag, i, n.id), 0)
	}
	p.HSet(ctx, "hash", "tag", tag, "node", n.id)
	p.RPush(ctx, "list", tag)
	if _, err := p.Exec(ctx); err != nil {
		t.Fatalf("node %s: fill: %v", n.id, err)
	}
}

// dump reads every key of database 0 as key -> its content.
func (n *redisNode) dump(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := n.rc.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("node %s: keys: %v", n.id, err)
	}
	out := map[string]string{}
	for _, k := range keys {
		var v any
		switch k {
		case "hash":
			v, err = n.rc.HGetAll(ctx, k).Result()
		case "list":
			v, err = n.rc.LRange(ctx, k, 0, -1).Result()
		default:
			v, err = n.rc.Get(ctx, k).Result()
		}
		if err != nil {
			t.Fatalf("node %s: read %s: %v", n.id, k, err)
		}
		out[k] = fmt.Sprint(v)
	}
	return out
}

// nodeWatch pings every node every 50 ms and measures how long each
// answered nothing (PING failing, or LOADING).
type nodeWatch struct {
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	mu        sync.Mutex
	down      map[string]time.Time // since when a node is down, if it is
	stretches map[string][]stretch
}

func watchNodes(ctx context.Context, nodes []*redisNode) *nodeWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &nodeWatch{cancel: cancel, down: map[string]time.Time{}, stretches: map[string][]stretch{}}
	for _, n := range nodes {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for ctx.Err() == nil {
				sent := time.Now()
				err := ping(n.addr)
				now := time.Now()
				w.mu.Lock()
				since, isDown := w.down[n.id]
				switch {
				case err != nil && ctx.Err() == nil && !isDown:
					w.down[n.id] = sent
				case err == nil && isDown:
					w.stretches[n.id] = append(w.stretches[n.id], stretch{since, now})
					delete(w.down, n.id)
				}
				w.mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	return w
}

// ping sends PING on a new connection and wants PONG: not a pooled
// client, whose dial retries would hide when a node went down.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// wait waits until every node answers, for at most timeout.
func (w *nodeWatch) wait(ctx context.Context, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		w.mu.Lock()
		n := len(w.down)
		w.mu.Unlock()
		if n == 0 {
			return
		}
	}
}

// stop ends the watch and returns each node's downtimes; a node still
// down counts until now.
func (w *nodeWatch) stop() map[string][]stretch {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, since := range w.down {
		w.stretches[id] = append(w.stretches[id], stretch{since, time.Now()})
	}
	return w.stretches
}

// appears is closed once a file exists (polled every 10 ms).
func appears(ctx context.Context, path string) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(path); err == nil {
				close(ch)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return ch
}
