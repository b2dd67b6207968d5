package integration

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// One dev server, moto and pair of workers for the whole package, started by
// the first test that needs them; tests keep apart by environment id.
var pkgEnv = testenv.Shared{Name: "integration"}

// longEnv is a second stack whose emulator keeps every export and import
// running for at least 10 s, as AWS does (minutes there): for the tests that
// prove behaviour under long jobs (aws_test.go).
var longEnv = testenv.Shared{Name: "integration (10 s jobs)", Options: testenv.Options{
	Emulator: testenv.EmulatorOptions{JobSeconds: longJobSeconds},
}}

const longJobSeconds = 10

func TestMain(m *testing.M) { os.Exit(testenv.MainAll(m, &pkgEnv, &longEnv)) }

// shared returns the package's Env, starting it on first use. It skips the
// test in -short mode.
func shared(tb testing.TB) *testenv.Env { return pkgEnv.Get(tb) }

// backup runs a backup to the end and fails the test on any error.
func backup(ctx context.Context, t testing.TB, e *testenv.Env, in dataset.BackupInput) (client.Run, *dataset.BackupResult) {
	t.Helper()
	run, err := e.Client().StartBackup(ctx, in)
	if err != nil {
		t.Fatalf("start backup: %v", err)
	}
	res, err := e.Client().WaitBackup(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("backup %s: %v", run.ID, err)
	}
	if len(res.Datasets) != len(in.Datasets) {
		t.Fatalf("backup %s: %d dataset results, want %d", run.ID, len(res.Datasets), len(in.Datasets))
	}
	return run, res
}

// restore runs a restore to the end and fails the test on any error.
func restore(ctx context.Context, t testing.TB, e *testenv.Env, in dataset.RestoreInput) (client.Run, *dataset.RestoreResult) {
	t.Helper()
	run, err := e.Client().StartRestore(ctx, in)
	if err != nil {
		t.Fatalf("start restore: %v", err)
	}
	res, err := e.Client().WaitRestore(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("restore %s: %v", run.ID, err)
	}
	if len(res.Datasets) != len(in.Datasets) {
		t.Fatalf("restore %s: %d dataset results, want %d", run.ID, len(res.Datasets), len(in.Datasets))
	}
	return run, res
}

// backupOf finds one dataset's result in a backup's results.
func backupOf(t testing.TB, res *dataset.BackupResult, env, ds string) dataset.BackupRow {
	t.Helper()
	for _, d := range res.Datasets {
		if d.EnvID == env && d.DatasetID == ds {
			return d
		}
	}
	t.Fatalf("no backup result for %s/%s in %+v", env, ds, res.Datasets)
	return dataset.BackupRow{}
}

// requireUntouched checks that a refused request changed nothing: every
// dataset of env is RUNNING and unheld, the environment still has only its
// initial store, active.
func requireUntouched(t testing.TB, e *testenv.Env, env string) {
	t.Helper()
	e.RequireRunning(t, env)
	rec := e.Environment(t, env)
	if rec.ActiveStore != registry.InitialStoreID {
		t.Errorf("environment %s: active store %q, want %q", env, rec.ActiveStore, registry.InitialStoreID)
	}
	if got := rec.StoreIDs(); !slices.Equal(got, []string{registry.InitialStoreID}) {
		t.Errorf("environment %s: stores %v, want only %q", env, got, registry.InitialStoreID)
	}
	if st := rec.Stores[registry.InitialStoreID].Status; st != registry.StoreActive {
		t.Errorf("environment %s: store %s is %s, want %s", env, registry.InitialStoreID, st, registry.StoreActive)
	}
}

// requireNoChangeScheduled checks from a workflow's history that it never
// got as far as pausing a dataset or creating a store.
func requireNoChangeScheduled(t testing.TB, e *testenv.Env, workflowID string) {
	t.Helper()
	if workflowID == "" {
		t.Errorf("refused request has no workflow id: the refusal did not come from the workflow")
		return
	}
	acts := e.ActivityTypes(t, workflowID)
	for _, a := range acts {
		switch a {
		case "Pause", "WaitForDrain", "CreateStore", "StartExport", "StartImport", "SwitchStore":
			t.Errorf("workflow %s scheduled %s before refusing (activities: %v)", workflowID, a, acts)
		}
	}
}

// isInvalid reports whether err is a *client.InvalidInputError.
func isInvalid(err error) bool {
	var invalid *client.InvalidInputError
	return errors.As(err, &invalid)
}
