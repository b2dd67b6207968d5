package iam

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	rediswf "github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisSidecarRestorePolicy restores a one-node Redis
// cluster's backup with the node's sidecar holding only
// redis-sidecar-policy.json (it downloads the node's file from S3) and the
// workers only worker-policy.json: the node holds the backup's data again.
// Then without each of the sidecar's statements in turn the restore fails
// with one line naming the denied action, and the node answers afterwards
// with the data it had.
func TestIntegrationRedisSidecarRestorePolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	r := newSidecarRig(t, "iam-rrestore")
	e, ctx, loc, sidecar, creds := r.e, r.ctx, r.loc, r.policy, r.creds
	nodeID, addr, dir := r.nodeID, r.addr, r.dir
	cluster := r.cluster
	setSidecarPolicy := r.setPolicy
	_, port, _ := net.SplitHostPort(addr)
	// The restore stops and starts the node with these; the node the
	// sidecar started is shut down at the end.
	commands := func(n *redisact.Node) {
		n.StartCmd = "exec redis-server " + filepath.Join(dir, "redis.conf")
		n.StopCmd = "redis-cli -p " + port + " shutdown nosave"
	}
	t.Cleanup(func() { _ = exec.Command("redis-cli", "-p", port, "shutdown", "nosave").Run() })
	rc := goredis.NewClient(&goredis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer rc.Close()

	// The backup, with the full policies: 50 keys. Each step has a sidecar
	// of its own (stopped with its subtest): a sidecar looks the bucket's
	// region up once (HeadBucket, s3:ListBucket) for its life.
	t.Run("backup", func(t *testing.T) {
		startSidecar(t, e, nodeID, addr, dir, creds, commands)
		run, err := e.Client().StartRedisBackup(ctx, rediswf.BackupInput{Cluster: cluster, BackupLocation: loc, SidecarTimeoutSeconds: 10})
		if err != nil {
			t.Fatalf("start Redis backup: %v", err)
		}
		if _, err := e.Client().WaitRedisBackup(ctx, run.ID, nil); err != nil {
			t.Fatalf("Redis backup: %v", err)
		}
	})
	if t.Failed() {
		return
	}

	// changed writes what the restore must undo and returns the node's
	// state: key:000's value and the key count.
	changed := func(t *testing.T) (string, int64) {
		t.Helper()
		ctx := context.Background()
		if err := rc.Set(ctx, "key:000", "changed after the backup", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rc.Set(ctx, "later", "written after the backup", 0).Err(); err != nil {
			t.Fatal(err)
		}
		return "changed after the backup", 51
	}
	// state waits for the node to answer and returns key:000 and the count.
	state := func(t *testing.T) (string, int64) {
		t.Helper()
		ctx := context.Background()
		for deadline := time.Now().Add(30 * time.Second); rc.Ping(ctx).Err() != nil; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the node at %s does not answer after the restore", addr)
			}
		}
		v, _ := rc.Get(ctx, "key:000").Result()
		n, err := rc.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v, n
	}
	restore := func(t *testing.T) error {
		t.Helper()
		startSidecar(t, e, nodeID, addr, dir, creds, commands)
		ctx := testenv.Context(t, 2*time.Minute)
		run, err := e.Client().StartRedisRestore(ctx, rediswf.RestoreInput{Cluster: cluster, BackupLocation: loc, SidecarTimeoutSeconds: 10})
		if err != nil {
			return err
		}
		_, err = e.Client().WaitRedisRestore(ctx, run.ID, nil)
		return err
	}

	for _, sid := range sidecar.sids() {
		denied := sidecar.only(sid)
		t.Run("without sidecar's "+sid, func(t *testing.T) {
			setSidecarPolicy(t, sidecar.without(sid))
			defer setSidecarPolicy(t, sidecar)
			wantV, wantN := changed(t)
			checkDenied(t, restore(t), denied)
			if v, n := state(t); v != wantV || n != wantN {
				t.Errorf("after the refused restore the node holds key:000=%q and %d keys, want %q and %d as before", v, n, wantV, wantN)
			}
		})
	}
	t.Run("full policies", func(t *testing.T) {
		changed(t)
		if err := restore(t); err != nil {
			t.Fatalf("Redis restore: %v", err)
		}
		if v, n := state(t); v != "value 0" || n != 50 {
			t.Errorf("after the restore the node holds key:000=%q and %d keys, want %q and 50 as backed up", v, n, "value 0")
		}
	})
}
