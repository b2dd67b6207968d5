package registry_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// TestPausedDatasets: the datasets PAUSING or PAUSED are listed with their
// holder and pause time; RUNNING ones, environments and
// resumed datasets are not.
func TestPausedDatasets(t *testing.T) {
	emu := pkgEmulator.Get(t)
	reg := &registry.Registry{DB: emu.AWS.DynamoDB, Table: control, TablePrefix: "pz"}
	ctx := context.Background()
	env := fmt.Sprintf("paused%d", seq.Add(1))
	pausedAt := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, func() error { _, err := reg.CreateEnvironment(ctx, env, pausedAt); return err }())
	for _, d := range []string{"a", "b", "c"} {
		must(t, func() error { _, err := reg.CreateDataset(ctx, env, d, pausedAt); return err }())
	}
	must(t, reg.Pause(ctx, env, "a", "wf-a", pausedAt))
	must(t, reg.Pause(ctx, env, "b", "wf-b", pausedAt.Add(time.Minute)))
	must(t, reg.MarkPaused(ctx, env, "b", "wf-b"))

	mine := func() map[string]registry.Dataset {
		t.Helper()
		all, err := reg.PausedDatasets(ctx)
		must(t, err)
		out := map[string]registry.Dataset{}
		for _, d := range all {
			if d.EnvID == env { // the package's other tests share the table
				out[d.ID] = d
			}
		}
		return out
	}
	got := mine()
	if len(got) != 2 {
		t.Fatalf("paused datasets of %s: %+v, want a and b", env, got)
	}
	if a := got["a"]; a.Status != registry.StatusPausing || a.HeldBy != "wf-a" || !a.PausedAt.Equal(pausedAt) {
		t.Errorf("a: %+v, want PAUSING held by wf-a since %s", a, pausedAt)
	}
	if b := got["b"]; b.Status != registry.StatusPaused || b.HeldBy != "wf-b" || !b.PausedAt.Equal(pausedAt.Add(time.Minute)) {
		t.Errorf("b: %+v, want PAUSED held by wf-b", b)
	}
	if _, err := reg.Resume(ctx, env, "a", "wf-a"); err != nil {
		t.Fatal(err)
	}
	if got := mine(); len(got) != 1 || got["b"].HeldBy != "wf-b" {
		t.Errorf("after resuming a: %+v, want b alone", got)
	}
}
