package iam

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	tclient "go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/worker/app"
	rediswf "github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// startRedisNode runs one redis-server (no persistence until BGSAVE) and
// returns its address; it is shut down in Cleanup.
func startRedisNode(t *testing.T) (addr, dir string) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found (make tools installs it): %v", err)
	}
	dir = t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	conf := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsave \"\"\nappendonly no\ndaemonize no\nlogfile %s\n",
		port, dir, filepath.Join(dir, "redis.log"))), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	rc := goredis.NewClient(&goredis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer rc.Close()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); rc.Ping(ctx).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server at %s does not answer", addr)
		}
	}
	for i := range 50 {
		if err := rc.Set(ctx, fmt.Sprintf("key:%03d", i), fmt.Sprintf("value %d", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return addr, dir
}

// startSidecar runs a node's sidecar in process, as `lifeboat-worker
// --redis-node` would, with creds as its AWS identity; opts set more of
// the node's configuration (the start and stop commands a restore needs).
func startSidecar(t *testing.T, e *testenv.Env, nodeID, addr, dir string, creds aws.CredentialsProvider, opts ...func(*redisact.Node)) {
	t.Helper()
	c, err := tclient.Dial(tclient.Options{
		HostPort: e.TemporalAddress, Namespace: e.Config.Namespace, Identity: "sidecar-" + nodeID,
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	})
	if err != nil {
		t.Fatalf("sidecar %s: %v", nodeID, err)
	}
	cfg := e.AWS.Config.Copy()
	cfg.Credentials = creds
	rn := &redisact.Node{
		NodeID: nodeID, Addr: addr, PartSize: 5 << 20, PollInterval: 50 * time.Millisecond,
		StartTimeout: 30 * time.Second, StopTimeout: 30 * time.Second, StartLog: filepath.Join(dir, "start.log"),
	}
	for _, o := range opts {
		o(rn)
	}
	w, err := app.NewRedisSidecar(c, e.Config, awsx.New(cfg), rn, worker.Options{})
	if err != nil {
		t.Fatalf("sidecar %s: %v", nodeID, err)
	}
	if err := w.Start(); err != nil {
		t.Fatalf("sidecar %s: %v", nodeID, err)
	}
	t.Cleanup(func() {
		w.Stop()
		c.Close()
	})
}

// sidecarRig is what the sidecar policy tests share: workers holding only
// worker-policy.json, a sidecar user holding only redis-sidecar-policy.json,
// a bucket, and a one-node cluster registered on a redis-server of its own.
type sidecarRig struct {
	e                          *testenv.Env
	u                          *users
	ctx                        context.Context
	loc                        string
	policy                     policy // the sidecar's, as shipped
	creds                      aws.CredentialsProvider
	cluster, nodeID, addr, dir string
}

const sidecarUser = "lifeboat-redis-sidecar"

func newSidecarRig(t *testing.T, name string) *sidecarRig {
	t.Helper()
	e, u := start(t)
	r := &sidecarRig{e: e, u: u, ctx: testenv.Context(t, time.Minute)}
	bucket := e.ID("lbtest-iam")
	e.CreateBucket(t, bucket)
	r.loc = "s3://" + bucket + "/redis"
	values := map[string]string{
		"LIFEBOAT_ACCOUNT_ID": account,
		"CONTROL_TABLE":       e.Config.ControlTable,
		"TABLE_PREFIX":        e.Config.TablePrefix,
		"BACKUP_BUCKET":       bucket,
	}
	u.setWorkerPolicy(t, forMoto(loadPolicy(t, "worker-policy.json", values)))
	r.policy = forMoto(loadPolicy(t, "redis-sidecar-policy.json", values))
	var err error
	if r.creds, err = newUser(r.ctx, u.iam, sidecarUser, "sidecar", r.policy.json(t)); err != nil {
		t.Fatal(err)
	}
	r.cluster = e.ID(name)
	r.nodeID = r.cluster + "-n1"
	r.addr, r.dir = startRedisNode(t)
	if _, err := e.Registry().PutRedisCluster(r.ctx, registry.RedisCluster{Name: r.cluster, Nodes: []registry.RedisNode{
		{ID: r.nodeID, Addr: r.addr, TaskQueue: redisbackup.NodeTaskQueue(e.Config.TaskQueue, r.nodeID)},
	}}, false, time.Now()); err != nil {
		t.Fatalf("register cluster %s: %v", r.cluster, err)
	}
	return r
}

// setPolicy replaces the sidecar user's policy.
func (r *sidecarRig) setPolicy(t *testing.T, p policy) {
	t.Helper()
	if _, err := r.u.iam.PutUserPolicy(context.Background(), &iam.PutUserPolicyInput{
		UserName: aws.String(sidecarUser), PolicyName: aws.String("sidecar"), PolicyDocument: aws.String(p.json(t)),
	}); err != nil {
		t.Fatalf("set the sidecar's policy: %v", err)
	}
}

// TestIntegrationRedisSidecarPolicy backs a one-node Redis cluster up with
// the workers holding only worker-policy.json and the node's sidecar only
// redis-sidecar-policy.json; then without each of the sidecar's statements
// in turn, the backup fails with one line naming the denied action.
func TestIntegrationRedisSidecarPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	r := newSidecarRig(t, "iam-redis")
	e, loc, sidecar, creds := r.e, r.loc, r.policy, r.creds
	cluster, nodeID, addr, dir := r.cluster, r.nodeID, r.addr, r.dir
	setSidecarPolicy := r.setPolicy
	// Each backup has a sidecar of its own: a sidecar keeps the bucket's
	// region it looked up once (HeadBucket) for its life.
	backup := func(t *testing.T) (*rediswf.BackupResult, error) {
		t.Helper()
		startSidecar(t, e, nodeID, addr, dir, creds)
		ctx := testenv.Context(t, 2*time.Minute)
		run, err := e.Client().StartRedisBackup(ctx, rediswf.BackupInput{Cluster: cluster, BackupLocation: loc, SidecarTimeoutSeconds: 10})
		if err != nil {
			t.Fatalf("start Redis backup: %v", err)
		}
		return e.Client().WaitRedisBackup(ctx, run.ID, nil)
	}

	t.Run("full policies", func(t *testing.T) {
		res, err := backup(t)
		if err != nil {
			t.Fatalf("Redis backup: %v", err)
		}
		if res.Keys != 50 || len(res.Nodes) != 1 {
			t.Errorf("backed up %d keys of %d nodes, want 50 of 1: %+v", res.Keys, len(res.Nodes), res)
		}
	})
	if t.Failed() {
		return
	}
	for _, sid := range sidecar.sids() {
		denied := sidecar.only(sid)
		t.Run("without sidecar's "+sid, func(t *testing.T) {
			setSidecarPolicy(t, sidecar.without(sid))
			defer setSidecarPolicy(t, sidecar)
			_, err := backup(t)
			checkDenied(t, err, denied)
		})
	}
}
