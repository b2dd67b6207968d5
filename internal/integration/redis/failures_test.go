package redis

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisNodeDownDuringBackup stops one node's Redis and
// another node's sidecar: the backup fails naming both, writes no cluster
// manifest and deletes what the healthy node uploaded.
func TestIntegrationRedisNodeDownDuringBackup(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "down", clusterOptions{})
	loc := e.NewBackupLocation(t)
	for _, n := range c.nodes {
		n.fill(t, "v1", 50)
	}
	down, noSidecar := c.nodes[1], c.nodes[2]
	if out, err := exec.Command("redis-cli", "-p", fmt.Sprint(down.port), "shutdown", "nosave").CombinedOutput(); err != nil {
		t.Fatalf("stop node %s: %v: %s", down.id, err, out)
	}
	noSidecar.stopSidecar()

	run, err := e.Client().StartRedisBackup(ctx, redis.BackupInput{Cluster: c.name, BackupLocation: loc, SidecarTimeoutSeconds: 3})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	_, err = e.Client().WaitRedisBackup(ctx, run.ID, nil)
	if err == nil {
		t.Fatal("backup with a node down succeeded")
	}
	wf := failure(t, err)
	t.Logf("backup failure: %s", wf.Msg)
	for _, want := range []string{
		"failed on nodes " + down.id + ", " + noSidecar.id,
		"node " + down.id + " (" + down.addr + "): Redis does not answer",
		"node " + noSidecar.id + ": no sidecar picked up its work",
		"no manifest was written",
	} {
		if !strings.Contains(wf.Msg, want) {
			t.Errorf("failure %q does not say %q", wf.Msg, want)
		}
	}
	if strings.Contains(wf.Msg, "node "+c.nodes[0].id) {
		t.Errorf("failure names the healthy node %s: %q", c.nodes[0].id, wf.Msg)
	}
	lc, _ := backupstore.ParseLocation(loc)
	if ids, err := redisbackup.FindBackups(ctx, e.AWS.S3, lc, c.name); err != nil || len(ids) != 0 {
		t.Errorf("complete backups after a failed run: %v, %v", ids, err)
	}
	if objs, err := backupstore.List(ctx, e.AWS.S3, lc.Bucket, redisbackup.ClusterPrefix(lc, c.name)); err != nil || len(objs) != 0 {
		t.Errorf("the failed run left %d objects (%v)", len(objs), err)
	}
	p, err := e.Client().RedisProgress(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, np := range p.Nodes {
		wantStep := workflows.StepFailed
		if np.Node == c.nodes[0].id {
			wantStep = redis.StepUploaded
		}
		if np.Step != wantStep {
			t.Errorf("node %s ended %s, want %s (%s)", np.Node, np.Step, wantStep, np.Detail)
		}
	}
	requireReleased(t, e, c)
}

// TestIntegrationRedisCorruptDownloadRefused damages one node's file in
// S3: the restore fails on that node's checksum before Redis is stopped
// anywhere, and every node keeps its data and process.
func TestIntegrationRedisCorruptDownloadRefused(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "corrupt", clusterOptions{})
	loc := e.NewBackupLocation(t)
	for _, n := range c.nodes {
		n.fill(t, "v1", 80)
	}
	res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc})
	lc, _ := backupstore.ParseLocation(loc)
	m, err := redisbackup.ReadManifest(ctx, e.AWS.S3, lc.Bucket, redisbackup.ManifestKey(lc, c.name, res.BackupID))
	if err != nil {
		t.Fatal(err)
	}
	bad := c.nodes[1]
	key := m.Nodes[1].Files[0].Key
	body := e.GetObject(t, lc.Bucket, key)
	body[len(body)/2] ^= 0xff // same size, one byte flipped
	e.PutObject(t, lc.Bucket, key, body)
	for _, n := range c.nodes {
		n.change(t)
	}
	want, runs := c.dump(t), c.runIDs(t)

	_, err = tryRestore(ctx, e, redis.RestoreInput{Cluster: c.name, BackupLocation: loc})
	if err == nil {
		t.Fatal("restore from a corrupted backup succeeded")
	}
	wf := failure(t, err)
	t.Logf("restore failure: %s", wf.Msg)
	if wf.Type != activities.ErrChecksumMismatch {
		t.Errorf("failure type %q, want %s", wf.Type, activities.ErrChecksumMismatch)
	}
	for _, s := range []string{"failed on node " + bad.id + ":", key, "does not match the cluster manifest", "Redis was not stopped on any node"} {
		if !strings.Contains(wf.Msg, s) {
			t.Errorf("failure %q does not say %q", wf.Msg, s)
		}
	}
	for _, n := range c.nodes {
		requireSame(t, "node "+n.id+" after a refused restore", want[n.id], n.dump(t))
		if got := n.runID(t); got != runs[n.id] {
			t.Errorf("node %s was restarted by a refused restore", n.id)
		}
		n.requireClean(t)
	}
	requireReleased(t, e, c)
}

// TestIntegrationRedisNodeNotBackIsRolledBack makes one node's restore
// fail after Redis was stopped (the manifest promises more keys than its
// file holds): that node is put back on its old data and named in the
// failure; the other nodes are restored.
func TestIntegrationRedisNodeNotBackIsRolledBack(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "rollback", clusterOptions{})
	loc := e.NewBackupLocation(t)
	for _, n := range c.nodes {
		n.fill(t, "v1", 60)
	}
	backedUp := c.dump(t)
	res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc})
	lc, _ := backupstore.ParseLocation(loc)
	mkey := redisbackup.ManifestKey(lc, c.name, res.BackupID)
	m, err := redisbackup.ReadManifest(ctx, e.AWS.S3, lc.Bucket, mkey)
	if err != nil {
		t.Fatal(err)
	}
	m.Nodes[1].Keys += 1000
	m.Nodes[1].MinKeys += 1000
	m.Nodes[1].MaxKeys += 1000
	m.Keys += 1000
	raw, _ := json.Marshal(m)
	e.PutObject(t, lc.Bucket, mkey, raw)
	for _, n := range c.nodes {
		n.change(t)
	}
	changed, runs := c.dump(t), c.runIDs(t)

	_, err = tryRestore(ctx, e, redis.RestoreInput{Cluster: c.name, BackupLocation: loc})
	if err == nil {
		t.Fatal("restore succeeded although a node cannot reach its key count")
	}
	wf := failure(t, err)
	t.Logf("restore failure: %s", wf.Msg)
	bad := c.nodes[1]
	for _, s := range []string{
		"failed on node " + bad.id + ":", "did not come back on backup " + res.BackupID,
		"it was put back on its old data", "restored: " + c.nodes[0].id + ", " + c.nodes[2].id,
	} {
		if !strings.Contains(wf.Msg, s) {
			t.Errorf("failure %q does not say %q", wf.Msg, s)
		}
	}
	if wf.Type != activities.ErrRedisNodeFailed {
		t.Errorf("failure type %q, want %s", wf.Type, activities.ErrRedisNodeFailed)
	}
	requireSame(t, "rolled-back node "+bad.id, changed[bad.id], bad.dump(t))
	if bad.runID(t) == runs[bad.id] {
		t.Errorf("node %s was not restarted", bad.id)
	}
	for _, n := range []*node{c.nodes[0], c.nodes[2]} {
		requireSame(t, "restored node "+n.id, backedUp[n.id], n.dump(t))
	}
	for _, n := range c.nodes {
		n.requireClean(t)
	}
}

// TestIntegrationRedisRestoreRefusals: restores that cannot be done are
// refused before any Redis is touched, with a clear reason.
func TestIntegrationRedisRestoreRefusals(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "refuse", clusterOptions{nodes: 2, noCommands: true})
	rdbOnly := startCluster(t, e, "rdbonly", clusterOptions{nodes: 2})
	aof := startCluster(t, e, "aofsrc", clusterOptions{nodes: 2, appendOnly: true})
	loc := e.NewBackupLocation(t)
	for _, n := range append(append(c.nodes, rdbOnly.nodes...), aof.nodes...) {
		n.fill(t, "v1", 10)
	}
	backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc})
	backup(ctx, t, e, redis.BackupInput{Cluster: aof.name, BackupLocation: loc, Format: redisbackup.FormatAOF})
	runs := c.runIDs(t)

	cases := []struct {
		name    string
		in      redis.RestoreInput
		invalid bool // refused at validation (InvalidInputError)
		errType string
		says    string
	}{
		{"no start command", redis.RestoreInput{Cluster: c.name, BackupLocation: loc}, false, activities.ErrNoStartCommand,
			"its sidecar has no --redis-start-cmd or --redis-stop-cmd"},
		{"AOF into appendonly no", redis.RestoreInput{Cluster: rdbOnly.name, SourceCluster: aof.name, BackupLocation: loc}, true, "",
			"an AOF backup is loaded only with appendonly yes"},
		{"unknown cluster", redis.RestoreInput{Cluster: "no-such-cluster", BackupLocation: loc}, true, "", `Redis cluster "no-such-cluster" is not registered`},
		{"unknown node", redis.RestoreInput{Cluster: c.name, Node: "zz", BackupLocation: loc}, true, "", `node "zz" is not in the cluster`},
		{"no backup that early", redis.RestoreInput{Cluster: c.name, Date: "2001-01-01", BackupLocation: loc}, true, "", "taken at or before 2001-01-01"},
		{"unknown backup id", redis.RestoreInput{Cluster: c.name, BackupID: "20010101T000000.000Z", BackupLocation: loc}, true, "", "no complete backup 20010101T000000.000Z"},
		{"no bucket", redis.RestoreInput{Cluster: c.name, BackupLocation: "s3://no-such-bucket-lb/x"}, true, "", `bucket "no-such-bucket-lb" does not exist`},
		{"source cluster without backups", redis.RestoreInput{Cluster: aof.name, SourceCluster: "other", BackupLocation: loc}, true, "", `no complete backup of Redis cluster "other"`},
	}
	for _, tc := range cases {
		_, err := tryRestore(ctx, e, tc.in)
		var invalid *client.InvalidInputError
		var wf *client.WorkflowFailedError
		switch {
		case err == nil:
			t.Errorf("%s: restore succeeded", tc.name)
			continue
		case tc.invalid && !errors.As(err, &invalid):
			t.Errorf("%s: want an InvalidInputError, got %T: %v", tc.name, err, err)
		case !tc.invalid && (!errors.As(err, &wf) || wf.Type != tc.errType):
			t.Errorf("%s: want a %s failure, got %T: %v", tc.name, tc.errType, err, err)
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: error %q does not say %q", tc.name, err, tc.says)
		}
	}
	for _, n := range c.nodes {
		if n.runID(t) != runs[n.id] {
			t.Errorf("node %s was restarted by a refused restore", n.id)
		}
	}

	// A cluster is worked on by one run at a time.
	if _, err := e.Registry().ReleaseRedisCluster(ctx, c.name, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.Registry().HoldRedisCluster(ctx, c.name, "someone-else", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := e.Client().StartRedisBackup(ctx, redis.BackupInput{Cluster: c.name, BackupLocation: loc})
	var wf *client.WorkflowFailedError
	if !errors.As(err, &wf) || wf.Type != activities.ErrRedisClusterHeld || !strings.Contains(wf.Msg, "held by workflow someone-else") {
		t.Errorf("backup of a held cluster: %v", err)
	}
	if _, err := e.Registry().ReleaseRedisCluster(ctx, c.name, "someone-else"); err != nil {
		t.Fatal(err)
	}
}
