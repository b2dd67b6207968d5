package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/gateload"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationRestore backs a dataset up, changes it, and restores the
// backup: the environment switches to a new store that holds exactly the
// backup, and the old store is kept, inactive, with the later writes.
func TestIntegrationRestore(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("restore"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	initial := e.Load(t, env, ds, "item", 150)

	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	backed := e.ReadBackupItems(t, bres.Datasets[0].ManifestURL)
	if d := testenv.DiffItems(initial, backed); d != "" {
		t.Fatalf("backup differs from the loaded items: %s", d)
	}

	// After the backup: overwrite some items and add others.
	later := map[string]string{}
	for i := 1; i <= 10; i++ {
		later[fmt.Sprintf("item-%06d", i)] = fmt.Sprintf("overwritten after the backup #%d", i)
		later[fmt.Sprintf("later-%06d", i)] = fmt.Sprintf("written after the backup #%d", i)
	}
	e.Put(t, env, ds, later)
	afterBackup := testenv.Merge(initial, later)

	_, rres := restore(ctx, t, e, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	store := rres.StoreID
	if store == "" || store == registry.InitialStoreID {
		t.Fatalf("restore result store %q, want a new store id", store)
	}
	if want := []string{fmt.Sprintf("%s: %s -> %s", env, registry.InitialStoreID, store)}; !slices.Equal(rres.Switched, want) {
		t.Errorf("restore switched %v, want %v", rres.Switched, want)
	}
	r := rres.Datasets[0]
	if r.BackupID != bres.Datasets[0].BackupID || r.ItemCount != int64(len(backed)) || r.SourceDatasetID != ds {
		t.Errorf("restore result %+v, want backup %s with %d items from %s", r, bres.Datasets[0].BackupID, len(backed), ds)
	}
	if want := e.Registry().TableName(env, store, ds); r.TableName != want {
		t.Errorf("restored into table %s, want %s", r.TableName, want)
	}

	rec := e.Environment(t, env)
	if rec.ActiveStore != store {
		t.Errorf("active store %q, want the restored store %q", rec.ActiveStore, store)
	}
	if st := rec.Stores[store].Status; st != registry.StoreActive {
		t.Errorf("restored store %s is %q, want %s", store, st, registry.StoreActive)
	}
	old, ok := rec.Stores[registry.InitialStoreID]
	if !ok {
		t.Errorf("old store %s is no longer listed: %v", registry.InitialStoreID, rec.StoreIDs())
	} else if old.Status != registry.StoreInactive {
		t.Errorf("old store %s is %q, want %s", registry.InitialStoreID, old.Status, registry.StoreInactive)
	}

	if d := testenv.DiffItems(backed, e.ReadDataset(t, env, store, ds)); d != "" {
		t.Errorf("restored table differs from the backup: %s", d)
	}
	live, err := gateload.All(ctx, e.Registry(), env, ds)
	if err != nil {
		t.Fatal(err)
	}
	if d := testenv.DiffItems(backed, live); d != "" {
		t.Errorf("dataset read through the gate differs from the backup: %s", d)
	}
	if d := testenv.DiffItems(afterBackup, e.ReadDataset(t, env, registry.InitialStoreID, ds)); d != "" {
		t.Errorf("old store's table lost the writes made after the backup: %s", d)
	}

	e.RequireRunning(t, env)
	if err := e.Gate().Put(ctx, env, ds, gate.Item{Key: "after-restore", Value: "new store"}); err != nil {
		t.Fatalf("write after the restore: %v", err)
	}
	if got := e.ReadDataset(t, env, store, ds)["after-restore"]; got != "new store" {
		t.Errorf("write after the restore did not land in the new store (got %q)", got)
	}
	if _, there := e.ReadDataset(t, env, registry.InitialStoreID, ds)["after-restore"]; there {
		t.Errorf("write after the restore landed in the old store")
	}
}

// TestIntegrationMultiDataset backs up several datasets of one environment
// in one backup, at one cut time, and restores them all in one restore.
func TestIntegrationMultiDataset(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env := e.ID("multi")
	names := []string{"customers", "orders", "empty"}
	e.CreateEnvDataset(t, env, names...)
	loc := e.NewBackupLocation(t)
	loaded := map[string]map[string]string{
		"customers": e.Load(t, env, "customers", "cust", 60),
		"orders":    e.Load(t, env, "orders", "order", 90),
		"empty":     {},
	}

	in := dataset.BackupInput{}
	for _, ds := range names {
		in.Datasets = append(in.Datasets, dataset.BackupDataset{EnvID: env, DatasetID: ds, BackupLocation: loc})
	}
	_, bres := backup(ctx, t, e, in)
	first := bres.Datasets[0]
	manifests := map[string]string{}
	for _, ds := range names {
		r := backupOf(t, bres, env, ds)
		if !r.CutTime.Equal(first.CutTime) || r.BackupID != first.BackupID {
			t.Errorf("%s: cut %s backup %s, want the same as %s: cut %s backup %s",
				ds, r.CutTime, r.BackupID, first.DatasetID, first.CutTime, first.BackupID)
		}
		m, items := e.ReadBackup(t, r.ManifestURL)
		if !m.CutTime.Equal(first.CutTime) {
			t.Errorf("%s: manifest cut time %s, want %s", ds, m.CutTime, first.CutTime)
		}
		if d := testenv.DiffItems(loaded[ds], items); d != "" {
			t.Errorf("%s: backup differs from the loaded items: %s", ds, d)
		}
		if r.ItemCount != int64(len(loaded[ds])) {
			t.Errorf("%s: backup counts %d items, want %d", ds, r.ItemCount, len(loaded[ds]))
		}
		manifests[ds] = r.ManifestURL
	}

	// Change every dataset, then restore them all.
	for _, ds := range names {
		e.Put(t, env, ds, map[string]string{"later-" + ds: "after the backup", cliKey(ds): "overwritten"})
	}
	rin := dataset.RestoreInput{NewStoreID: "restored"}
	for _, ds := range names {
		rin.Datasets = append(rin.Datasets, dataset.RestoreDataset{EnvID: env, DatasetID: ds, BackupLocation: loc, BackupID: first.BackupID})
	}
	_, rres := restore(ctx, t, e, rin)
	if rres.StoreID != "restored" {
		t.Errorf("restored into store %q, want %q", rres.StoreID, "restored")
	}
	if rec := e.Environment(t, env); rec.ActiveStore != "restored" {
		t.Errorf("active store %q, want %q", rec.ActiveStore, "restored")
	}
	for _, ds := range names {
		if d := testenv.DiffItems(loaded[ds], e.ReadDataset(t, env, "restored", ds)); d != "" {
			t.Errorf("%s: restored table differs from its backup: %s", ds, d)
		}
	}
	e.RequireRunning(t, env)
}

// cliKey is the key of the first generated item of a dataset in
// TestIntegrationMultiDataset (a key that does not exist for "empty").
func cliKey(ds string) string {
	switch ds {
	case "customers":
		return "cust-000001"
	case "orders":
		return "order-000001"
	}
	return "new-in-" + ds
}

// TestIntegrationRestoreFromOtherDataset restores a backup of one dataset
// into another dataset of the same environment, and into a dataset of
// another environment.
func TestIntegrationRestoreFromOtherDataset(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env1, env2 := e.ID("source"), e.ID("target")
	e.CreateEnvDataset(t, env1, "d1", "d2")
	e.CreateEnvDataset(t, env2, "d2")
	loc := e.NewBackupLocation(t)
	source := e.Load(t, env1, "d1", "source", 80)
	e.Load(t, env1, "d2", "other", 20)
	env2Before := e.Load(t, env2, "d2", "env2", 30)

	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env1, DatasetID: "d1", BackupLocation: loc}}})
	backed := e.ReadBackupItems(t, bres.Datasets[0].ManifestURL)
	if d := testenv.DiffItems(source, backed); d != "" {
		t.Fatalf("backup differs from the loaded items: %s", d)
	}

	t.Run("same environment", func(t *testing.T) {
		_, rres := restore(ctx, t, e, dataset.RestoreInput{NewStoreID: "copy", Datasets: []dataset.RestoreDataset{{
			EnvID: env1, DatasetID: "d2", SourceDatasetID: "d1", BackupLocation: loc,
		}}})
		if r := rres.Datasets[0]; r.SourceDatasetID != "d1" || r.DatasetID != "d2" {
			t.Errorf("restore result %+v, want d2 from d1", r)
		}
		if rec := e.Environment(t, env1); rec.ActiveStore != "copy" {
			t.Errorf("%s: active store %q, want %q", env1, rec.ActiveStore, "copy")
		}
		if d := testenv.DiffItems(backed, e.ReadDataset(t, env1, "copy", "d2")); d != "" {
			t.Errorf("d2 restored from d1's backup differs from it: %s", d)
		}
		// d1 was not restored; it moves to the new store with the rest of
		// the environment and stays writable there.
		if !e.TableExists(t, e.Registry().TableName(env1, "copy", "d1")) {
			t.Errorf("d1 has no table in the new store")
		}
		if err := e.Gate().Put(ctx, env1, "d1", gate.Item{Key: "after", Value: "x"}); err != nil {
			t.Errorf("write to d1 after the restore: %v", err)
		}
		t.Logf("d1 (not restored) holds %d items in the new store", len(e.ReadDataset(t, env1, "copy", "d1")))
		e.RequireRunning(t, env1)
	})

	t.Run("other environment", func(t *testing.T) {
		envBefore := e.Environment(t, env1).ActiveStore
		_, rres := restore(ctx, t, e, dataset.RestoreInput{NewStoreID: "from-" + env1, Datasets: []dataset.RestoreDataset{{
			EnvID: env2, DatasetID: "d2", SourceDatasetID: "d1", BackupLocation: loc,
		}}})
		if want := []string{fmt.Sprintf("%s: %s -> %s", env2, registry.InitialStoreID, "from-"+env1)}; !slices.Equal(rres.Switched, want) {
			t.Errorf("restore switched %v, want %v", rres.Switched, want)
		}
		if d := testenv.DiffItems(backed, e.ReadDataset(t, env2, "from-"+env1, "d2")); d != "" {
			t.Errorf("%s/d2 restored from %s/d1's backup differs from it: %s", env2, env1, d)
		}
		if d := testenv.DiffItems(env2Before, e.ReadDataset(t, env2, registry.InitialStoreID, "d2")); d != "" {
			t.Errorf("%s/d2's old store changed: %s", env2, d)
		}
		if got := e.Environment(t, env1).ActiveStore; got != envBefore {
			t.Errorf("restoring into %s changed %s's active store from %q to %q", env2, env1, envBefore, got)
		}
		e.RequireRunning(t, env2)
		e.RequireRunning(t, env1)
	})
}
