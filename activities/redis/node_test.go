package redis

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

func TestPlanStaging(t *testing.T) {
	t.Parallel()
	a := &Node{NodeID: "n1", Addr: "127.0.0.1:6379"}
	rdb := []redisbackup.File{{Name: "dump.rdb", Role: redisbackup.RoleRDB}}
	aof := []redisbackup.File{
		{Name: "appendonlydir/appendonly.aof.manifest", Role: redisbackup.RoleAOFManifest},
		{Name: "appendonlydir/appendonly.aof.2.base.rdb", Role: redisbackup.RoleAOFBase},
		{Name: "appendonlydir/appendonly.aof.2.incr.aof", Role: redisbackup.RoleAOFIncr},
	}
	plain := &Layout{Dir: "/d", DBFilename: "node.rdb", AppendDirName: "aofdir", AppendFilename: "appendonly.aof"}
	appendOnly := &Layout{Dir: "/d", DBFilename: "dump.rdb", AppendOnly: true, AppendDirName: "aofdir", AppendFilename: "appendonly.aof"}
	otherName := &Layout{Dir: "/d", DBFilename: "dump.rdb", AppendOnly: true, AppendDirName: "aofdir", AppendFilename: "other.aof"}

	cases := []struct {
		name    string
		format  string
		files   []redisbackup.File
		layout  *Layout
		target  string
		dest    map[string]string
		written string // a file Lifeboat writes, if any
		errType string
	}{
		{"RDB as the node's dump file", redisbackup.FormatRDB, rdb, plain, "node.rdb", map[string]string{"dump.rdb": "node.rdb"}, "", ""},
		{"RDB as the AOF base", redisbackup.FormatRDB, rdb, appendOnly, "aofdir",
			map[string]string{"dump.rdb": "aofdir/appendonly.aof.1.base.rdb"}, "aofdir/appendonly.aof.manifest", ""},
		{"AOF into the node's AOF directory", redisbackup.FormatAOF, aof, appendOnly, "aofdir", map[string]string{
			"appendonlydir/appendonly.aof.manifest": "aofdir/appendonly.aof.manifest", "appendonlydir/appendonly.aof.2.base.rdb": "aofdir/appendonly.aof.2.base.rdb",
			"appendonlydir/appendonly.aof.2.incr.aof": "aofdir/appendonly.aof.2.incr.aof",
		}, "", ""},
		{"AOF into appendonly no", redisbackup.FormatAOF, aof, plain, "", nil, "", activities.ErrInvalidInput},
		{"AOF under another appendfilename", redisbackup.FormatAOF, aof, otherName, "", nil, "", activities.ErrInvalidInput},
		{"two dump files", redisbackup.FormatRDB, append(rdb, rdb...), plain, "", nil, "", activities.ErrBackupCorrupt},
		{"AOF file outside its directory", redisbackup.FormatAOF, []redisbackup.File{{Name: "x.aof", Role: redisbackup.RoleAOFIncr}}, appendOnly, "", nil, "", activities.ErrBackupCorrupt},
	}
	for _, c := range cases {
		p, err := a.planStaging(NodeStageInput{Node: "n1", Persistence: c.format, Files: c.files, BackupID: "b"}, c.layout)
		if c.errType != "" {
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != c.errType || !strings.Contains(app.Message(), "node n1 (127.0.0.1:6379)") {
				t.Errorf("%s: error %v, want a %s naming the node", c.name, err, c.errType)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if p.target != c.target || len(p.dest) != len(c.dest) {
			t.Errorf("%s: plan %+v", c.name, p)
		}
		for k, v := range c.dest {
			if p.dest[k] != v {
				t.Errorf("%s: %s staged as %q, want %q", c.name, k, p.dest[k], v)
			}
		}
		if c.written != "" && string(p.write[c.written]) != "file appendonly.aof.1.base.rdb seq 1 type b\n" {
			t.Errorf("%s: writes %v", c.name, p.write)
		}
	}
}

func TestSwapInIsRepeatable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<missing>"
		}
		return string(b)
	}
	staged, target, aside := filepath.Join(dir, "stage/dump.rdb"), filepath.Join(dir, "dump.rdb"), filepath.Join(dir, "dump.rdb"+asideSuffix)

	write("dump.rdb", "old")
	write("stage/dump.rdb", "new")
	if err := swapIn(staged, target, aside); err != nil {
		t.Fatal(err)
	}
	if read("dump.rdb") != "new" || read("dump.rdb"+asideSuffix) != "old" || pathExists(staged) {
		t.Fatalf("after swap: target %q, aside %q", read("dump.rdb"), read("dump.rdb"+asideSuffix))
	}

	// A crash after the data went aside, then Redis wrote a fresh file: the
	// retry keeps the original aside and replaces the fresh file.
	if err := os.Rename(target, staged); err != nil {
		t.Fatal(err)
	}
	write("dump.rdb", "written by a Redis restarted meanwhile")
	if err := swapIn(staged, target, aside); err != nil {
		t.Fatal(err)
	}
	if read("dump.rdb") != "new" || read("dump.rdb"+asideSuffix) != "old" {
		t.Fatalf("after retry: target %q, aside %q", read("dump.rdb"), read("dump.rdb"+asideSuffix))
	}
}

func TestRestoreJournalRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := readJournal(dir); err == nil {
		t.Fatal("read a journal that was never written")
	}
	j := &restoreJournal{State: stateDone, Result: &NodeRestoreResult{Node: "n1", Keys: 42}}
	if err := writeJournal(dir, j); err != nil {
		t.Fatal(err)
	}
	got, err := readJournal(dir)
	if err != nil || got.State != stateDone || got.Result.Keys != 42 {
		t.Fatalf("journal %+v, %v", got, err)
	}
}

func TestKeyRange(t *testing.T) {
	t.Parallel()
	lo, hi := keyRange(redisbackup.Keyspace{Keys: 100, Expires: 3}, redisbackup.Keyspace{Keys: 102, Expires: 4})
	if lo != 96 || hi != 102 {
		t.Errorf("keyRange = %d..%d, want 96..102", lo, hi)
	}
}

func TestRedisNodeRefusals(t *testing.T) {
	t.Parallel()
	a := &Node{NodeID: "n1", Addr: "127.0.0.1:1"}
	var app *temporal.ApplicationError
	if err := a.checkNode("n2"); !errors.As(err, &app) || app.Type() != activities.ErrInvalidInput {
		t.Errorf("work for another node accepted: %v", err)
	}
	if err := a.checkCommands(); !errors.As(err, &app) || app.Type() != activities.ErrNoStartCommand ||
		!strings.Contains(app.Message(), "--redis-start-cmd or --redis-stop-cmd") {
		t.Errorf("restore without commands: %v", err)
	}
}

func TestLaunchDetachedReportsOutput(t *testing.T) {
	t.Parallel()
	logPath := filepath.Join(t.TempDir(), "start.log")
	exited, err := launchDetached("echo starting; echo 'Fatal error, can not open config file' >&2; exit 1", logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil {
		t.Fatal("a failing command reported success")
	}
	if got := tail(logPath); got != "starting Fatal error, can not open config file" {
		t.Errorf("tail = %q", got)
	}
}
