package dataset_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// The hold is a conditional write in DynamoDB, so these tests run the
// activities against the emulator's control table, in Temporal's activity
// test environment.
var (
	pkgEmulator = testenv.PackageEmulator{Options: testenv.EmulatorOptions{Profile: "fast"}, ControlTable: controlTable}
	envSeq      struct {
		sync.Mutex
		n int
	}
)

// newDataset starts the package's emulator on first use and returns a
// registry with a fresh environment holding one RUNNING dataset.
func newDataset(t *testing.T) (*registry.Registry, dataset.DatasetRef) {
	t.Helper()
	emu := pkgEmulator.Get(t)
	reg := &registry.Registry{DB: emu.AWS.DynamoDB, Table: controlTable, TablePrefix: "ct-"}
	envSeq.Lock()
	envSeq.n++
	ref := dataset.DatasetRef{EnvID: fmt.Sprintf("hold%d", envSeq.n), DatasetID: "orders"}
	envSeq.Unlock()
	ctx := context.Background()
	if _, err := reg.CreateEnvironment(ctx, ref.EnvID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateDataset(ctx, ref.EnvID, ref.DatasetID, time.Now()); err != nil {
		t.Fatal(err)
	}
	return reg, ref
}

const controlTable = "lifeboat-control-test"

func TestMain(m *testing.M) { os.Exit(pkgEmulator.Main(m)) }

// run executes one Datasets activity in the activity test environment.
func run[In any](t *testing.T, a *dataset.Datasets, fn func(context.Context, In) (*dataset.HoldResult, error), in In) error {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(fn, in)
	return err
}

func requireStatus(t *testing.T, reg *registry.Registry, ref dataset.DatasetRef, status, holder string) {
	t.Helper()
	d, err := reg.GetDataset(context.Background(), ref.EnvID, ref.DatasetID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != status || d.HeldBy != holder {
		t.Fatalf("dataset %s is %s held by %q, want %s held by %q", ref, d.Status, d.HeldBy, status, holder)
	}
}

func requireHeldError(t *testing.T, err error) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrDatasetHeld || !app.NonRetryable() {
		t.Fatalf("WaitForDrain: %v, want a non-retryable %s", err, activities.ErrDatasetHeld)
	}
}

// Pause then WaitForDrain leave the dataset PAUSED, held by the run, and the
// write gate refusing writes in its name; Resume gives it back.
func TestWaitForDrainMarksPausedHeldByTheRun(t *testing.T) {
	t.Parallel()
	reg, ref := newDataset(t)
	a := &dataset.Datasets{Registry: reg}
	hold := dataset.HoldInput{DatasetRef: ref, Holder: "backup-run-1"}
	if err := run(t, a, a.Pause, hold); err != nil {
		t.Fatal(err)
	}
	requireStatus(t, reg, ref, registry.StatusPausing, hold.Holder)
	if err := run(t, a, a.WaitForDrain, dataset.DrainInput{HoldInput: hold, Deadline: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	requireStatus(t, reg, ref, registry.StatusPaused, hold.Holder)
	err := gate.New(pkgEmulator.Get(t).AWS.DynamoDB, gate.Options{ControlTable: reg.Table, TablePrefix: reg.TablePrefix}).Put(context.Background(), ref.EnvID, ref.DatasetID, gate.Item{Key: "k", Value: "v"})
	var paused *gate.WritesPausedError
	if !errors.As(err, &paused) || paused.HeldBy != hold.Holder {
		t.Fatalf("write while paused: %v, want refused, held by %s", err, hold.Holder)
	}
	if err := run(t, a, a.Resume, hold); err != nil {
		t.Fatal(err)
	}
	requireStatus(t, reg, ref, registry.StatusRunning, "")
}

// A run whose hold was lost between Pause and WaitForDrain must not report
// the dataset drained: it fails with DatasetHeld and leaves the dataset as
// it found it.
func TestWaitForDrainFailsWhenTheHoldWasLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		// lose takes the hold away from holder; want is what the dataset
		// must still be afterwards.
		lose         func(reg *registry.Registry, ref dataset.DatasetRef, holder string) error
		status, held string
	}{
		{"resumed meanwhile", func(reg *registry.Registry, ref dataset.DatasetRef, holder string) error {
			_, err := reg.Resume(ctx, ref.EnvID, ref.DatasetID, holder)
			return err
		}, registry.StatusRunning, ""},
		{"another run holds it", func(reg *registry.Registry, ref dataset.DatasetRef, holder string) error {
			if _, err := reg.Resume(ctx, ref.EnvID, ref.DatasetID, holder); err != nil {
				return err
			}
			return reg.Pause(ctx, ref.EnvID, ref.DatasetID, "restore-run-2", time.Now())
		}, registry.StatusPausing, "restore-run-2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			reg, ref := newDataset(t)
			a := &dataset.Datasets{Registry: reg}
			hold := dataset.HoldInput{DatasetRef: ref, Holder: "backup-run-1"}
			if err := run(t, a, a.Pause, hold); err != nil {
				t.Fatal(err)
			}
			if err := c.lose(reg, ref, hold.Holder); err != nil {
				t.Fatal(err)
			}
			err := run(t, a, a.WaitForDrain, dataset.DrainInput{HoldInput: hold, Deadline: time.Now().Add(time.Minute)})
			requireHeldError(t, err)
			requireStatus(t, reg, ref, c.status, c.held)
		})
	}
}
