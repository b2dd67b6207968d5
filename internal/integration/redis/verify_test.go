package redis

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisVerify drives `lifeboat redis verify` on a real
// backup: a sound one exits 0 and records ok in verified.json (shown by
// redis backups); a node file with one byte changed exits 1 naming the node
// and the checksum mismatch; a garbage file whose checksum was written into
// the manifest passes the checksum and exits 1 naming redis-check-rdb's
// verdict; no such backup exits 2.
func TestIntegrationRedisVerify(t *testing.T) {
	e := shared(t)
	// The CLI reads AWS settings from the environment: no t.Parallel.
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "verify", clusterOptions{nodes: 2})
	loc := e.NewBackupLocation(t)
	for _, n := range c.nodes {
		n.fill(t, "verify", 50)
	}
	res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc})
	lc, _ := backupstore.ParseLocation(loc)
	folder := redisbackup.BackupFolder(lc, c.name, res.BackupID)
	manifestKey := redisbackup.ManifestKey(lc, c.name, res.BackupID)
	m, err := redisbackup.ReadManifest(ctx, e.AWS.S3, lc.Bucket, manifestKey)
	if err != nil {
		t.Fatal(err)
	}

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
	// lastLine is the error line: progress lines come before it.
	lastLine := func(s string) string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return lines[len(lines)-1]
	}
	record := func() *backupstore.Verification {
		t.Helper()
		v, err := backupstore.ReadVerification(ctx, e.AWS.S3, lc.Bucket, folder)
		if err != nil || v == nil {
			t.Fatalf("read %s: %v, %v", backupstore.VerifiedName, v, err)
		}
		return v
	}

	// Sound.
	start := time.Now().UTC().Add(-time.Second)
	code, out, _ := lifeboat("redis", "verify", "--cluster-id", c.name, "--backup-location", loc)
	if code != 0 || !strings.Contains(out, "backup "+res.BackupID+" of Redis cluster "+c.name+" is sound: 2 node(s)") {
		t.Fatalf("verify of a sound backup: exit %d, %q", code, out)
	}
	if v := record(); v.Outcome != backupstore.VerifiedOK || v.BackupID != res.BackupID || v.At.Before(start) || v.Objects != 2 ||
		!strings.Contains(v.Checked, "redis-check-rdb") || !strings.HasPrefix(v.WorkflowID, "redis-verify-"+c.name) {
		t.Errorf("verified.json after a sound verify: %+v", v)
	}
	code, out, _ = lifeboat("redis", "backups", "--cluster-id", c.name, "--backup-location", loc, "--output", "json")
	var listed []struct {
		BackupID string                    `json:"backupId"`
		Verified *backupstore.Verification `json:"verified"`
	}
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || len(listed) != 1 || listed[0].Verified == nil ||
		listed[0].Verified.Outcome != backupstore.VerifiedOK {
		t.Errorf("redis backups json after verify: exit %d, %v, %q", code, err, out)
	}
	if code, out, _ := lifeboat("redis", "backups", "--cluster-id", c.name, "--backup-location", loc); code != 0 ||
		!strings.Contains(out, "VERIFIED") || !strings.Contains(out, "ok "+record().At.Format(time.RFC3339)) {
		t.Errorf("redis backups table after verify: exit %d, %q", code, out)
	}

	// One byte changed in the second node's dump: the checksum catches it.
	bad := m.Nodes[1]
	key := bad.Files[0].Key
	orig := e.GetObject(t, lc.Bucket, key)
	flipped := bytes.Clone(orig)
	flipped[len(flipped)/2] ^= 0xff
	e.PutObject(t, lc.Bucket, key, flipped)
	code, _, stderr := lifeboat("redis", "verify", "--cluster-id", c.name, "--backup-location", loc, "--backup-id", res.BackupID)
	msg := lastLine(stderr)
	if code != 1 || !strings.HasPrefix(msg, "lifeboat: ") {
		t.Fatalf("verify of a flipped byte: exit %d, %q; want 1", code, msg)
	}
	for _, want := range []string{"node " + bad.Node + ":", key, "checksum mismatch", "not sound"} {
		if !strings.Contains(msg, want) {
			t.Errorf("verify of a flipped byte says %q, not %q", msg, want)
		}
	}
	if strings.Contains(msg, "node "+m.Nodes[0].Node+":") {
		t.Errorf("verify of a flipped byte names the sound node: %q", msg)
	}
	if v := record(); v.Outcome != backupstore.VerifiedFailed || !strings.Contains(v.Problem, "node "+bad.Node) {
		t.Errorf("verified.json after a failed verify: %+v", v)
	}
	e.PutObject(t, lc.Bucket, key, orig)

	// Garbage of the same size whose checksum the manifest is made to
	// carry: the checksum passes, redis-check-rdb does not.
	garbage := make([]byte, len(orig))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	e.PutObject(t, lc.Bucket, key, garbage)
	sum := sha256.Sum256(garbage)
	m.Nodes[1].Files[0].SHA256 = hex.EncodeToString(sum[:])
	if err := redisbackup.WriteManifest(ctx, e.AWS.S3, lc.Bucket, manifestKey, m); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = lifeboat("redis", "verify", "--cluster-id", c.name, "--backup-location", loc)
	msg = lastLine(stderr)
	if code != 1 {
		t.Fatalf("verify of a garbage dump: exit %d, %q; want 1", code, msg)
	}
	for _, want := range []string{"node " + bad.Node + ":", "redis-check-rdb rejects dump.rdb", "Wrong signature"} {
		if !strings.Contains(msg, want) {
			t.Errorf("verify of a garbage dump says %q, not %q", msg, want)
		}
	}
	if strings.Contains(msg, "checksum mismatch") {
		t.Errorf("the rewritten manifest's checksum did not pass: %q", msg)
	}
	if v := record(); v.Outcome != backupstore.VerifiedFailed || !strings.Contains(v.Problem, "redis-check-rdb") {
		t.Errorf("verified.json after the checker failed: %+v", v)
	}

	// A dump cut short (a copy interrupted), its size and checksum made to
	// match: redis-check-rdb finds the end missing.
	truncated := orig[:len(orig)/2]
	e.PutObject(t, lc.Bucket, key, truncated)
	sum = sha256.Sum256(truncated)
	m.Nodes[1].Files[0].SHA256, m.Nodes[1].Files[0].Size = hex.EncodeToString(sum[:]), int64(len(truncated))
	m.Nodes[1].Bytes -= int64(len(orig) - len(truncated))
	m.Bytes -= int64(len(orig) - len(truncated))
	if err := redisbackup.WriteManifest(ctx, e.AWS.S3, lc.Bucket, manifestKey, m); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = lifeboat("redis", "verify", "--cluster-id", c.name, "--backup-location", loc)
	msg = lastLine(stderr)
	if code != 1 || !strings.Contains(msg, "node "+bad.Node+":") || !strings.Contains(msg, "redis-check-rdb rejects dump.rdb") {
		t.Errorf("verify of a truncated dump: exit %d, %q; want 1 naming node %s and redis-check-rdb's verdict", code, msg, bad.Node)
	}

	// No such backup: bad input.
	if code, _, stderr := lifeboat("redis", "verify", "--cluster-id", c.name, "--backup-location", loc, "--at", "2001-01-01"); code != 2 ||
		!strings.Contains(stderr, "no complete backup") {
		t.Errorf("verify of no backup: exit %d, %q; want 2", code, stderr)
	}
}

// TestIntegrationRedisVerifyAOF verifies an AOF backup (a multi-part
// append-only directory) through the client: redis-check-aof accepts it.
func TestIntegrationRedisVerifyAOF(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "verifyaof", clusterOptions{nodes: 1, appendOnly: true})
	loc := e.NewBackupLocation(t)
	c.nodes[0].fill(t, "aof", 30)
	b := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc, Format: redisbackup.FormatAOF})
	run, err := e.Client().StartRedisVerify(ctx, redis.VerifyInput{Cluster: c.name, BackupLocation: loc, BackupID: b.BackupID})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Client().WaitRedisVerify(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("verify of an AOF backup: %v", err)
	}
	if res.Format != redisbackup.FormatAOF || len(res.Nodes) != 1 || res.Nodes[0].Files < 2 || res.VerifiedURL == "" {
		t.Errorf("verify result %+v", res)
	}
	p, err := e.Client().RedisProgress(ctx, run.ID)
	if err != nil || p.Step != "done" || len(p.Nodes) != 1 || !strings.Contains(p.Nodes[0].Detail, "redis-check-aof: OK") {
		t.Errorf("progress after the verify: %+v, %v", p, err)
	}
}
