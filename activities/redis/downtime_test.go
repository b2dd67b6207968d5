package redis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
)

// testRedis starts a redis-server with save points in a temporary data
// directory; it is skipped when redis-server is not installed.
func testRedis(t *testing.T) (port int, dir string) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir = t.TempDir()
	return port, dir
}

func redisCmdline(port int, dir string) string {
	return fmt.Sprintf("redis-server --port %d --bind 127.0.0.1 --dir %s --dbfilename dump.rdb --save '3600 1' --appendonly no", port, dir)
}

func waitAnswers(t *testing.T, a *Node, want bool) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if a.answers() == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("Redis answers = %v after 5 s", !want)
}

// The stop clears the save points first (no save of the old dataset on
// shutdown), and calls issuing before the stop command runs.
func TestStopDoesNotSaveAndMarksTheStart(t *testing.T) {
	port, dir := testRedis(t)
	marker := filepath.Join(t.TempDir(), "stop-ran")
	a := &Node{NodeID: "n1", Addr: fmt.Sprintf("127.0.0.1:%d", port), PollInterval: 20 * time.Millisecond,
		StopCmd: fmt.Sprintf("redis-cli -p %d config get save > %s; redis-cli -p %d shutdown", port, marker, port)}
	if _, err := launchDetached(redisCmdline(port, dir), filepath.Join(dir, "start.log")); err != nil {
		t.Fatal(err)
	}
	waitAnswers(t, a, true)
	rc := a.client()
	defer rc.Close()
	ctx := context.Background()
	if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	issued := false
	if err := a.stop(ctx, rc, func() {
		issued = true
		if pathExists(marker) {
			t.Error("issuing called after the stop command ran")
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !issued {
		t.Fatal("issuing not called")
	}
	got, _ := os.ReadFile(marker)
	if fields := strings.Fields(string(got)); len(fields) != 1 || fields[0] != "save" {
		t.Errorf("save points while the stop command ran: %q, want none", got)
	}
	if pathExists(filepath.Join(dir, "dump.rdb")) {
		t.Error("Redis saved its dataset on shutdown")
	}
}

// DownMillis covers the stop command: a stop command that takes 1 s before
// Redis goes away counts in the downtime.
func TestRestoreNodeDownMillisCoversTheStop(t *testing.T) {
	port, dir := testRedis(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	a := &Node{NodeID: "n1", Addr: addr, PollInterval: 20 * time.Millisecond,
		StartCmd: redisCmdline(port, dir), StartLog: filepath.Join(dir, "start.log"),
		StopCmd: fmt.Sprintf("sleep 1; redis-cli -p %d shutdown", port)}
	if _, err := launchDetached(a.StartCmd, a.StartLog); err != nil {
		t.Fatal(err)
	}
	waitAnswers(t, a, true)
	rc := a.client()
	defer rc.Close()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := rc.Set(ctx, fmt.Sprint("k", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rc.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// The staged backup: this dump, 3 keys. Then the node moves on.
	staging := filepath.Join(dir, stagingPrefix+"test")
	raw, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileSync(filepath.Join(staging, "dump.rdb"), raw); err != nil {
		t.Fatal(err)
	}
	if err := writeJournal(staging, &restoreJournal{State: stateStaged}); err != nil {
		t.Fatal(err)
	}
	if err := rc.Set(ctx, "k9", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("redis-cli", "-p", fmt.Sprint(port), "shutdown", "nosave").Run() })

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	val, err := env.ExecuteActivity(a.RestoreNode, NodeRestoreInput{
		Node: "n1", BackupID: "b", SourceNode: "n1", MinKeys: 3, MaxKeys: 3,
		Stage: NodeStageResult{Layout: Layout{Dir: dir, DBFilename: "dump.rdb"}, StagingDir: staging, Target: "dump.rdb"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var res NodeRestoreResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Keys != 3 || res.DownMillis < 1000 {
		t.Errorf("restored %d keys, down %d ms: want 3 keys and a downtime counting the 1 s stop", res.Keys, res.DownMillis)
	}
}
