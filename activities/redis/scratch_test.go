package redis

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

func TestScratchVerdict(t *testing.T) {
	t.Parallel()
	cases := []struct{ log, want string }{
		{"1:M 02 Dec 2026 05:27:24.377 * RDB age 0 seconds\n1:M 02 Dec 2026 05:27:24.377 # Short read or OOM loading DB. Unrecoverable error, aborting now.\n" +
			"[offset 0] Checking RDB file dump.rdb\n--- RDB ERROR DETECTED ---\n[offset 2987] Unexpected EOF reading RDB file\n[info] 101 keys read\n",
			"[offset 2987] Unexpected EOF reading RDB file"},
		{"1:M 02 Dec 2026 05:27:24.377 * Server initialized\n1:M 02 Dec 2026 05:27:24.377 # Can't handle RDB format version 12\n1:M 02 Dec 2026 05:27:24.377 * bye\n",
			"Can't handle RDB format version 12"},
		{"something odd\nlast words\n", "last words"},
		{"", "it exited without a word"},
	}
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), "redis.log")
		if err := os.WriteFile(p, []byte(c.log), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := scratchVerdict(p); got != c.want {
			t.Errorf("scratchVerdict(%q) = %q, want %q", c.log, got, c.want)
		}
	}
}

func TestKeyspaceDBs(t *testing.T) {
	t.Parallel()
	got := keyspaceDBs(redisbackup.ParseInfo("# Keyspace\r\ndb0:keys=65,expires=1,avg_ttl=0\r\ndb2:keys=1,expires=0,avg_ttl=0\r\ndb3:keys=0,expires=0,avg_ttl=0\r\n"))
	if want := map[int]int64{0: 65, 2: 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("keyspaceDBs = %v, want %v", got, want)
	}
}

// A scratch node loads the backup's own layout: the dump file by its name,
// or the AOF directory and appendfilename its manifest's path gives.
func TestScratchConfig(t *testing.T) {
	t.Parallel()
	rdb := redisbackup.Node{Node: "n1", Files: []redisbackup.File{{Name: "backup.rdb", Role: redisbackup.RoleRDB}}}
	c, err := scratchConfig(redisbackup.FormatRDB, rdb)
	if err != nil || !reflect.DeepEqual(c.args, []string{"--appendonly", "no", "--dbfilename", "backup.rdb"}) {
		t.Errorf("RDB: %+v, %v", c, err)
	}
	aof := redisbackup.Node{Node: "n1", Files: []redisbackup.File{
		{Name: "aofdir/shop.aof.1.base.rdb", Role: redisbackup.RoleAOFBase},
		{Name: "aofdir/shop.aof.manifest", Role: redisbackup.RoleAOFManifest},
	}}
	c, err = scratchConfig(redisbackup.FormatAOF, aof)
	if err != nil || !reflect.DeepEqual(c.args, []string{"--appendonly", "yes", "--appenddirname", "aofdir", "--appendfilename", "shop.aof"}) {
		t.Errorf("AOF: %+v, %v", c, err)
	}
	if _, err := scratchConfig(redisbackup.FormatAOF, rdb); err == nil {
		t.Error("an RDB node's files taken for an AOF backup")
	}
}

// DiscardRedisScratch removes the run's scratch directories and stale ones
// of other runs, never one a scratch activity holds.
func TestDiscardRedisScratch(t *testing.T) {
	root := t.TempDir()
	t.Setenv("TMPDIR", root)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	a := &Clusters{}
	env.RegisterActivity(a)

	// The run's scratch directories are named by its workflow run, which
	// the test environment keeps from one activity to the next.
	env.RegisterActivityWithOptions(func(ctx context.Context) (string, error) { return runToken(ctx), nil }, activity.RegisterOptions{Name: "token"})
	v, err := env.ExecuteActivity("token")
	if err != nil {
		t.Fatal(err)
	}
	var token string
	if err := v.Get(&token); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, age time.Duration) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "dump.rdb"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// n1's directory is in use, n2's not; another run's was left an hour
	// ago by a dead worker; a third run's is fresh.
	n1 := mk(scratchPrefix+token+"-n1", 0)
	unlock, err := lockScratch(n1)
	if err != nil {
		t.Fatal(err)
	}
	n2 := mk(scratchPrefix+token+"-n2", 0)
	stale := mk(scratchPrefix+"0123456789ab-x1", time.Hour)
	fresh := mk(scratchPrefix+"ba9876543210-x1", time.Minute)

	if _, err := env.ExecuteActivity(a.DiscardRedisScratch, DiscardRedisScratchInput{Nodes: []string{"n1", "n2"}}); err == nil ||
		!strings.Contains(err.Error(), "in use by a restore test still running on this worker") {
		t.Errorf("discarding a directory in use: %v", err)
	}
	if _, err := os.Stat(n1); err != nil {
		t.Errorf("the directory in use was removed: %v", err)
	}
	unlock()
	v, err = env.ExecuteActivity(a.DiscardRedisScratch, DiscardRedisScratchInput{Nodes: []string{"n1", "n2"}})
	if err != nil {
		t.Fatal(err)
	}
	var res DiscardRedisScratchResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if want := []string{n1, n2, stale}; !reflect.DeepEqual(res.Removed, want) {
		t.Errorf("removed %v, want %v", res.Removed, want)
	}
	for _, d := range []string{n1, n2, stale} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s is still there", d)
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("another run's fresh directory was removed: %v", err)
	}
}

// A worker not allowed to run check commands refuses a restore test that
// has one before it downloads anything or starts a scratch node.
func TestRestoreTestRefusesCheckCommandsUnlessAllowed(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	a := &Clusters{} // no S3: anything beyond the refusal would panic
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.RestoreTestRedisNode, RestoreTestRedisNodeInput{
		Node: redisbackup.Node{Node: "n1"}, BackupID: "b1", CheckCommand: "true"})
	if err == nil || !strings.Contains(err.Error(), "--allow-check-commands") {
		t.Fatalf("restore test with a check command on a worker that does not allow them: %v", err)
	}
}
