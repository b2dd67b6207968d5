package redis

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisBackupRestoreCluster writes keys to three nodes,
// backs the cluster up (RDB; one node's dump large enough for a multipart
// upload), changes and deletes keys, restores the whole cluster and checks
// that every node holds exactly what it held at the backup.
func TestIntegrationRedisBackupRestoreCluster(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "rdb", clusterOptions{})
	loc := e.NewBackupLocation(t)
	for i, n := range c.nodes {
		n.fill(t, "v1", 200*(i+1))
	}
	c.nodes[0].putRandom(t, "big", 7<<20) // a 7 MiB dump: two 5 MiB parts
	want := c.dump(t)

	res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc})
	if res.Format != redisbackup.FormatRDB || len(res.Nodes) != 3 {
		t.Fatalf("backup result %+v", res)
	}
	requireManifest(t, e, loc, c, res)
	// The first node's dump went up in parts.
	lc, _ := backupstore.ParseLocation(loc)
	m, err := redisbackup.ReadManifest(ctx, e.AWS.S3, lc.Bucket, redisbackup.ManifestKey(lc, c.name, res.BackupID))
	if err != nil {
		t.Fatal(err)
	}
	head, err := e.AWS.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(lc.Bucket), Key: aws.String(m.Nodes[0].Files[0].Key)})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(head.ETag); !strings.Contains(etag, "-") {
		t.Errorf("node %s's %d-byte dump was not uploaded in parts (ETag %s)", c.nodes[0].id, m.Nodes[0].Bytes, etag)
	}

	for _, n := range c.nodes {
		n.change(t)
	}
	before := c.runIDs(t)
	out := restore(ctx, t, e, redis.RestoreInput{Cluster: c.name, BackupLocation: loc})
	if out.BackupID != res.BackupID || len(out.Nodes) != 3 {
		t.Fatalf("restore result %+v, want backup %s on 3 nodes", out, res.BackupID)
	}
	after := c.runIDs(t)
	for _, n := range c.nodes {
		requireSame(t, "node "+n.id+" after the restore", want[n.id], n.dump(t))
		if before[n.id] == after[n.id] {
			t.Errorf("node %s was not restarted", n.id)
		}
		n.requireClean(t)
	}
	requireReleased(t, e, c)
}

// TestIntegrationRedisRestoreSingleNode restores one node from an older
// backup chosen by id, and leaves the other nodes alone.
func TestIntegrationRedisRestoreSingleNode(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "single", clusterOptions{})
	loc := e.NewBackupLocation(t)
	for _, n := range c.nodes {
		n.fill(t, "v1", 100)
	}
	want := c.dump(t)
	first := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc})
	for _, n := range c.nodes {
		n.change(t)
	}
	second := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc})
	if second.BackupID <= first.BackupID {
		t.Fatalf("backup ids do not sort in time order: %s then %s", first.BackupID, second.BackupID)
	}
	changed := c.dump(t)
	before := c.runIDs(t)

	target := c.nodes[1]
	out := restore(ctx, t, e, redis.RestoreInput{Cluster: c.name, Node: target.id, BackupID: first.BackupID, BackupLocation: loc})
	if len(out.Nodes) != 1 || out.Nodes[0].Node != target.id || out.BackupID != first.BackupID {
		t.Fatalf("restore result %+v", out)
	}
	after := c.runIDs(t)
	for _, n := range c.nodes {
		if n == target {
			requireSame(t, "restored node "+n.id, want[n.id], n.dump(t))
			continue
		}
		requireSame(t, "untouched node "+n.id, changed[n.id], n.dump(t))
		if before[n.id] != after[n.id] {
			t.Errorf("node %s was restarted by a restore of node %s", n.id, target.id)
		}
	}

	// By date: the latest backup of today is the second one.
	out = restore(ctx, t, e, redis.RestoreInput{
		Cluster: c.name, Node: target.id, Date: time.Now().UTC().Format(time.DateOnly), BackupLocation: loc,
	})
	if out.BackupID != second.BackupID {
		t.Errorf("restore by today's date used backup %s, want the latest, %s", out.BackupID, second.BackupID)
	}
	requireSame(t, "node restored from today's latest backup", changed[target.id], target.dump(t))
	target.requireClean(t)
}

// TestIntegrationRedisRestoreIntoAnotherCluster restores one cluster's
// backup into a second cluster (a refresh), node by node in order. The
// second cluster runs with appendonly yes, so the RDB files become the
// base of each node's append-only directory.
func TestIntegrationRedisRestoreIntoAnotherCluster(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	src := startCluster(t, e, "prod", clusterOptions{})
	dst := startCluster(t, e, "test", clusterOptions{appendOnly: true})
	loc := e.NewBackupLocation(t)
	for _, n := range src.nodes {
		n.fill(t, "prod", 150)
	}
	for _, n := range dst.nodes {
		n.fill(t, "test", 20)
	}
	want := src.dump(t)
	res := backup(ctx, t, e, redis.BackupInput{Cluster: src.name, BackupLocation: loc})
	srcRuns := src.runIDs(t)

	out := restore(ctx, t, e, redis.RestoreInput{Cluster: dst.name, SourceCluster: src.name, BackupLocation: loc})
	if out.SourceCluster != src.name || out.BackupID != res.BackupID {
		t.Fatalf("restore result %+v", out)
	}
	for i, n := range dst.nodes {
		requireSame(t, "node "+n.id+" refreshed from "+src.nodes[i].id, want[src.nodes[i].id], n.dump(t))
		n.requireClean(t)
	}
	// The refreshed nodes keep running on their append-only files.
	n := dst.nodes[0]
	if err := n.rc.Set(ctx, "after-refresh", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	n.restart(t)
	if v, err := n.rc.Get(ctx, "after-refresh").Result(); err != nil || v != "1" {
		t.Errorf("node %s lost a write made after the refresh across a restart: %q, %v", n.id, v, err)
	}
	if got := n.dump(t); len(got) != len(want[src.nodes[0].id])+1 {
		t.Errorf("node %s holds %d keys after a restart, want %d", n.id, len(got), len(want[src.nodes[0].id])+1)
	}
	for _, n := range src.nodes {
		requireSame(t, "source node "+n.id, want[n.id], n.dump(t))
	}
	if got := src.runIDs(t); got[src.nodes[0].id] != srcRuns[src.nodes[0].id] {
		t.Errorf("the source cluster was restarted")
	}
}

// TestIntegrationRedisAOF backs up and restores a cluster in AOF format:
// every part of each node's multi-part append-only directory.
func TestIntegrationRedisAOF(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "aof", clusterOptions{appendOnly: true})
	loc := e.NewBackupLocation(t)
	for _, n := range c.nodes {
		n.fill(t, "aof", 120)
	}
	want := c.dump(t)
	res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc, Format: redisbackup.FormatAOF})
	if res.Format != redisbackup.FormatAOF {
		t.Fatalf("backup format %s", res.Format)
	}
	m := requireManifest(t, e, loc, c, res)
	for _, nb := range m.Nodes {
		roles := map[string]int{}
		for _, f := range nb.Files {
			roles[f.Role]++
			if !strings.HasPrefix(f.Name, "appendonlydir/") {
				t.Errorf("node %s: AOF file %s is not in appendonlydir/", nb.Node, f.Name)
			}
		}
		if roles[redisbackup.RoleAOFManifest] != 1 || roles[redisbackup.RoleAOFBase] != 1 || roles[redisbackup.RoleAOFIncr] < 1 {
			t.Errorf("node %s: AOF backup files %+v, want its manifest, base and incremental files", nb.Node, nb.Files)
		}
	}
	for _, n := range c.nodes {
		n.change(t)
	}
	restore(ctx, t, e, redis.RestoreInput{Cluster: c.name, BackupLocation: loc})
	for _, n := range c.nodes {
		requireSame(t, "node "+n.id+" after the AOF restore", want[n.id], n.dump(t))
		n.requireClean(t)
	}
}

// requireManifest reads the backup's cluster manifest and checks it
// against the cluster and the result.
func requireManifest(t *testing.T, e *testenv.Env, location string, c *cluster, res *redis.BackupResult) *redisbackup.Manifest {
	t.Helper()
	loc, err := backupstore.ParseLocation(location)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := redisbackup.FindBackups(context.Background(), e.AWS.S3, loc, c.name)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, id := range ids {
		found = found || id == res.BackupID
	}
	if !found {
		t.Fatalf("backup %s not listed (found %v)", res.BackupID, ids)
	}
	m, err := redisbackup.ReadManifest(context.Background(), e.AWS.S3, loc.Bucket, redisbackup.ManifestKey(loc, c.name, res.BackupID))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if m.Cluster != c.name || len(m.Nodes) != len(c.nodes) || m.Keys != res.Keys || m.Bytes != res.Bytes {
		t.Fatalf("manifest %+v does not match the cluster or result %+v", m, res)
	}
	for i, n := range c.nodes {
		nb := m.Nodes[i]
		keys, err := n.rc.DBSize(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if nb.Node != n.id || nb.RedisVersion == "" || nb.MinKeys > nb.Keys || nb.Keys > nb.MaxKeys || nb.Keys < keys {
			t.Errorf("manifest entry %+v for node %s (db0 has %d keys)", nb, n.id, keys)
		}
		for _, f := range nb.Files {
			body := e.GetObject(t, loc.Bucket, f.Key)
			if int64(len(body)) != f.Size {
				t.Errorf("s3://%s/%s: %d bytes, manifest says %d", loc.Bucket, f.Key, len(body), f.Size)
			}
		}
	}
	return m
}

func requireReleased(t *testing.T, e *testenv.Env, c *cluster) {
	t.Helper()
	rec, err := e.Registry().GetRedisCluster(context.Background(), c.name)
	if err != nil {
		t.Fatal(err)
	}
	if rec.HeldBy != "" {
		t.Errorf("cluster %s still held by %s", c.name, rec.HeldBy)
	}
}

// TestIntegrationRedisBackupUnderWrites backs up while a client keeps
// writing numbered keys, in RDB and in AOF format: each restored node holds
// an unbroken prefix of the writes (a consistent cut), and its key count
// passes the restore's check against the manifest.
func TestIntegrationRedisBackupUnderWrites(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	for _, format := range []string{redisbackup.FormatRDB, redisbackup.FormatAOF} {
		c := startCluster(t, e, "writes-"+format, clusterOptions{nodes: 1, appendOnly: format == redisbackup.FormatAOF})
		n := c.nodes[0]
		n.fill(t, "base", 1000)
		loc := e.NewBackupLocation(t)
		stop, done := make(chan struct{}), make(chan int)
		go func() {
			i := 0
			for ; ; i++ {
				select {
				case <-stop:
					done <- i
					return
				default:
				}
				if err := n.rc.Set(ctx, fmt.Sprintf("w:%07d", i), i, 0).Err(); err != nil {
					t.Errorf("write %d: %v", i, err)
					done <- i
					return
				}
			}
		}()
		time.Sleep(100 * time.Millisecond)
		res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc, Format: format})
		close(stop)
		written := <-done
		restore(ctx, t, e, redis.RestoreInput{Cluster: c.name, BackupLocation: loc})
		keys, err := n.rc.Keys(ctx, "w:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if want := fmt.Sprintf("w:%07d", i); k != want {
				t.Fatalf("%s: restored writes have a gap: key #%d is %s, want %s", format, i, k, want)
			}
		}
		if len(keys) == 0 || len(keys) >= written {
			t.Errorf("%s: restored %d of %d writes: the cut is not inside the writes", format, len(keys), written)
		}
		t.Logf("%s: %d writes while backing up, %d of them in the backup (%d keys in all)", format, written, len(keys), res.Keys)
	}
}
