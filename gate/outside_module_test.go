package gate_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/gateload"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// An application is a module of its own, which may import only the public
// packages: examples/gate-app (its own go.mod, with a replace line to this
// checkout) builds against package gate and, run by its own tests on this
// test's emulator, writes through it, deletes, and is refused while a
// workflow holds a dataset. This test checks the tables afterwards.
func TestOutsideModuleAppWritesThroughTheGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	const paused, holder = "held", "backup-outside-wf"
	if _, err := f.reg.CreateDataset(f.ctx, f.env, paused, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.Pause(f.ctx, f.env, paused, holder, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.MarkPaused(f.ctx, f.env, paused, holder); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "./...")
	cmd.Dir = filepath.Join("..", "examples", "gate-app")
	cmd.Env = append(os.Environ(),
		"GOWORK=off", "GOFLAGS=-mod=readonly", // its own go.mod and go.sum, as a user's build sees them
		"AWS_ENDPOINT_URL="+f.emulator.URL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"LIFEBOAT_CONTROL_TABLE="+controlTable, "LIFEBOAT_TABLE_PREFIX="+tablePrefix,
		"GATE_APP_ENV="+f.env, "GATE_APP_DATASET="+f.ds, "GATE_APP_PAUSED_DATASET="+paused, "GATE_APP_HOLDER="+holder,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test in %s: %v\n%s", cmd.Dir, err, out)
	}
	for _, test := range []string{"TestAppWritesAndDeletes", "TestAppIsRefusedWhilePaused"} {
		if !strings.Contains(string(out), "--- PASS: "+test) {
			t.Errorf("%s did not pass (skipped?):\n%s", test, out)
		}
	}

	// Read back directly (f.ctx may have run out while the app built).
	read := func(dataset string) map[string]string {
		items, err := gateload.ReadTable(ctx, f.emulator.AWS.DynamoDB, f.reg.TableName(f.env, registry.InitialStoreID, dataset))
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	want := map[string]string{"a": "1", "c": "3", "kept": "yes"}
	if d := testenv.DiffItems(want, read(f.ds)); d != "" {
		t.Errorf("the app's dataset differs from what it wrote and deleted: %s", d)
	}
	if got := read(paused); len(got) != 0 {
		t.Errorf("writes refused while paused stored %v", testenv.SortedKeys(got))
	}
}
