package redis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
)

// midSwap leaves a node as a sidecar killed inside RestoreNode would: a
// backup of 3 keys staged, the node's own data (4 keys) saved, and, with
// swapped, the backup moved in place and the own data aside; Redis stopped.
func midSwap(t *testing.T, state string, minKeys int64) (*Node, string) {
	t.Helper()
	port, dir := testRedis(t)
	a := &Node{NodeID: "n1", Addr: fmt.Sprintf("127.0.0.1:%d", port), PollInterval: 20 * time.Millisecond,
		StartCmd: redisCmdline(port, dir), StartLog: filepath.Join(dir, "start.log"),
		StopCmd: fmt.Sprintf("redis-cli -p %d shutdown nosave", port), DataDir: dir}
	if _, err := launchDetached(a.StartCmd, a.StartLog); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("redis-cli", "-p", fmt.Sprint(port), "shutdown", "nosave").Run() })
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
	target := filepath.Join(dir, "dump.rdb")
	staging := filepath.Join(dir, stagingPrefix+"test")
	raw, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileSync(filepath.Join(staging, "dump.rdb"), raw); err != nil {
		t.Fatal(err)
	}
	if err := rc.Set(ctx, "own", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("sh", "-c", a.StopCmd).Run(); err != nil {
		t.Fatal(err)
	}
	waitAnswers(t, a, false)
	j := &restoreJournal{State: stateStaged, DownAt: time.Now().UnixMilli(), Target: "dump.rdb", BackupID: "b1",
		SourceNode: "n1", MinKeys: minKeys, MaxKeys: minKeys}
	if state == stateSwapped {
		if err := swapIn(filepath.Join(staging, "dump.rdb"), target, target+asideSuffix); err != nil {
			t.Fatal(err)
		}
		j.State = stateSwapped
	}
	if err := writeJournal(staging, j); err != nil {
		t.Fatal(err)
	}
	return a, staging
}

func dbsize(t *testing.T, a *Node) int64 {
	t.Helper()
	rc := a.client()
	defer rc.Close()
	n, err := rc.DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A sidecar restarted after dying mid-swap brings the node up on the
// restored data and finishes the restore before taking work; the retried
// RestoreNode returns that outcome without stopping Redis again.
func TestRecoverFinishesAnInterruptedSwap(t *testing.T) {
	a, staging := midSwap(t, stateSwapped, 3)
	done, err := a.Recover(context.Background(), quiet)
	if err != nil || len(done) != 1 {
		t.Fatalf("Recover = %q, %v; want one restore finished", done, err)
	}
	if !a.answers() || dbsize(t, a) != 3 {
		t.Fatalf("node after recovery: answers %v, want the backup's 3 keys", a.answers())
	}
	j, err := readJournal(staging)
	if err != nil || j.State != stateDone || j.Result == nil || j.Result.Keys != 3 {
		t.Fatalf("journal after recovery: %+v, %v", j, err)
	}
	if pathExists(filepath.Join(a.DataDir, "dump.rdb"+asideSuffix)) {
		t.Error("the old data is still kept aside after the restore finished")
	}
	runID := j.Result.RunID

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	val, err := env.ExecuteActivity(a.RestoreNode, NodeRestoreInput{Node: "n1", BackupID: "b1", SourceNode: "n1", MinKeys: 3, MaxKeys: 3,
		Stage: NodeStageResult{Layout: Layout{Dir: a.DataDir, DBFilename: "dump.rdb"}, StagingDir: staging, Target: "dump.rdb"}})
	if err != nil {
		t.Fatal(err)
	}
	var res NodeRestoreResult
	if err := val.Get(&res); err != nil || res.RunID != runID {
		t.Fatalf("retried RestoreNode = %+v, %v; want the recorded outcome (run %s)", res, err, runID)
	}
	if got := a.runID(t); got != runID {
		t.Errorf("the retry restarted Redis (run %s, was %s)", got, runID)
	}
}

// With the wrong key count the recovery puts the node back on its own data.
func TestRecoverRollsBackAWrongRestore(t *testing.T) {
	a, staging := midSwap(t, stateSwapped, 7)
	if _, err := a.Recover(context.Background(), quiet); err != nil {
		t.Fatal(err)
	}
	if !a.answers() || dbsize(t, a) != 4 {
		t.Fatal("node not back on its own 4 keys")
	}
	if j, err := readJournal(staging); err != nil || j.State != stateRolledBack {
		t.Fatalf("journal: %+v, %v; want rolled-back", j, err)
	}
}

// Stopped but not yet swapped: the node comes back on its own data, and the
// next stop starts a new downtime.
func TestRecoverRestartsAStoppedNode(t *testing.T) {
	a, staging := midSwap(t, stateStaged, 3)
	if _, err := a.Recover(context.Background(), quiet); err != nil {
		t.Fatal(err)
	}
	if !a.answers() || dbsize(t, a) != 4 {
		t.Fatal("node not back on its own 4 keys")
	}
	if j, err := readJournal(staging); err != nil || j.State != stateStaged || j.DownAt != 0 {
		t.Fatalf("journal: %+v, %v; want staged with no downtime recorded", j, err)
	}
}

func (a *Node) runID(t *testing.T) string {
	t.Helper()
	rc := a.client()
	defer rc.Close()
	info, err := redisInfo(context.Background(), rc, "server")
	if err != nil {
		t.Fatal(err)
	}
	return info["run_id"]
}
