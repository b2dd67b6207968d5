package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationInvalidRequests sends requests that must be refused during
// validation: each returns an InvalidInputError from the workflow, and
// nothing is paused and no store is created.
func TestIntegrationInvalidRequests(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env := e.ID("invalid")
	e.CreateEnvDataset(t, env, "d1", "d2")
	loc := e.NewBackupLocation(t)
	e.Load(t, env, "d1", "item", 20)
	// A real backup, so restore requests have something to find.
	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: "d1", BackupLocation: loc}}})
	emptyLoc := e.NewBackupLocation(t)
	missingBucket := "s3://" + e.ID("lbtest-missing") + "/backups"
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

	backups := []struct {
		name string
		in   dataset.BackupDataset
		msg  string // part of the error message
	}{
		{"unknown environment", dataset.BackupDataset{EnvID: "no-such-env-" + env, DatasetID: "d1", BackupLocation: loc}, "not found"},
		{"unknown dataset", dataset.BackupDataset{EnvID: env, DatasetID: "no-such-dataset", BackupLocation: loc}, "not found"},
		{"not an s3 URL", dataset.BackupDataset{EnvID: env, DatasetID: "d1", BackupLocation: "https://bucket/prefix"}, "s3://"},
		{"bad bucket name", dataset.BackupDataset{EnvID: env, DatasetID: "d1", BackupLocation: "s3://Bad_Bucket/prefix"}, "bucket"},
		{"empty path segment", dataset.BackupDataset{EnvID: env, DatasetID: "d1", BackupLocation: strings.Replace(loc, "/backups", "/a//b", 1)}, "empty path segment"},
		{"missing bucket", dataset.BackupDataset{EnvID: env, DatasetID: "d1", BackupLocation: missingBucket}, "does not exist"},
		{"point in time outside the PITR window", dataset.BackupDataset{EnvID: env, DatasetID: "d1", BackupLocation: loc, PointInTime: &old}, "outside the recovery window"},
	}
	for _, c := range backups {
		t.Run("backup/"+c.name, func(t *testing.T) {
			run, err := e.Client().StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{c.in}})
			requireInvalid(t, err, c.msg)
			requireNoChangeScheduled(t, e, run.ID)
			requireUntouched(t, e, env)
		})
	}

	restores := []struct {
		name string
		in   dataset.RestoreInput
		msg  string
		// beforeStart: the client refuses it before starting a workflow
		// (input limits; a workflow started otherwise refuses it too).
		beforeStart bool
	}{
		{"unknown environment", restoreOne("no-such-env-"+env, "d1", loc, ""), "not found", false},
		{"unknown dataset", restoreOne(env, "no-such-dataset", loc, ""), "not found", false},
		{"not an s3 URL", restoreOne(env, "d1", "bucket/prefix", ""), "s3://", false},
		{"missing bucket", restoreOne(env, "d1", missingBucket, ""), "does not exist", false},
		{"no backup under the location", restoreOne(env, "d1", emptyLoc, ""), "no complete backup", false},
		{"unknown backup id", withBackupID(restoreOne(env, "d1", loc, ""), "20200101T000000.000Z"), "no backup 20200101T000000.000Z", false},
		{"store id already exists", restoreOne(env, "d1", loc, registry.InitialStoreID), "already exists", false},
		{"invalid store id", restoreOne(env, "d1", loc, "bad.store"), "invalid store id", true},
	}
	for _, c := range restores {
		t.Run("restore/"+c.name, func(t *testing.T) {
			run, err := e.Client().StartRestore(ctx, c.in)
			requireInvalid(t, err, c.msg)
			if c.beforeStart {
				if run.ID != "" {
					t.Errorf("workflow %s started for a request the client should refuse", run.ID)
				}
			} else {
				requireNoChangeScheduled(t, e, run.ID)
			}
			requireUntouched(t, e, env)
		})
	}

	// A dataset another workflow holds: refused before anything is paused,
	// naming the holder, and the other holder's pause is left alone.
	t.Run("dataset held by another workflow", func(t *testing.T) {
		const holder = "someone-else"
		if err := e.Registry().Pause(ctx, env, "d2", holder, time.Now()); err != nil {
			t.Fatal(err)
		}
		resumed := false
		resume := func() {
			if !resumed {
				resumed = true
				if ok, err := e.Registry().Resume(context.Background(), env, "d2", holder); err != nil || !ok {
					t.Errorf("resume d2 as %s: %v, %v", holder, ok, err)
				}
			}
		}
		defer resume()

		// Backing up the held dataset.
		run, err := e.Client().StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{
			{EnvID: env, DatasetID: "d1", BackupLocation: loc}, // fine on its own: must not be paused either
			{EnvID: env, DatasetID: "d2", BackupLocation: loc},
		}})
		requireHeld(t, err, holder)
		requireNoChangeScheduled(t, e, run.ID)
		// Restoring another dataset of its environment, which would pause it too.
		run, err = e.Client().StartRestore(ctx, restoreOne(env, "d1", loc, ""))
		requireHeld(t, err, holder)
		requireNoChangeScheduled(t, e, run.ID)

		if d := e.Dataset(t, env, "d2"); d.Status != registry.StatusPausing || d.HeldBy != holder {
			t.Errorf("refused requests changed d2's pause: %s held by %q, want %s held by %q", d.Status, d.HeldBy, registry.StatusPausing, holder)
		}
		if d := e.Dataset(t, env, "d1"); d.Status != registry.StatusRunning || d.HeldBy != "" {
			t.Errorf("d1 is %s held by %q, want RUNNING", d.Status, d.HeldBy)
		}
		resume()
		requireUntouched(t, e, env)
	})

	// Everything refused above left the backup usable: a real restore works.
	t.Run("valid restore after the refusals", func(t *testing.T) {
		_, rres := restore(ctx, t, e, restoreOne(env, "d1", loc, ""))
		if rres.Datasets[0].BackupID != bres.Datasets[0].BackupID {
			t.Errorf("restored backup %s, want %s", rres.Datasets[0].BackupID, bres.Datasets[0].BackupID)
		}
		e.RequireRunning(t, env)
	})
}

func restoreOne(env, ds, loc, store string) dataset.RestoreInput {
	return dataset.RestoreInput{NewStoreID: store, Datasets: []dataset.RestoreDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}}
}

func withBackupID(in dataset.RestoreInput, id string) dataset.RestoreInput {
	in.Datasets[0].BackupID = id
	return in
}

func requireInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	if !isInvalid(err) {
		t.Fatalf("error %T %v, want *client.InvalidInputError", err, err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not mention %q", err, msg)
	}
}

// requireHeld accepts the refusal of a request for a held dataset. The
// workflow classifies it as DatasetHeld (a conflict, not bad input), which
// the client reports as a WorkflowFailedError of that type.
func requireHeld(t *testing.T, err error, holder string) {
	t.Helper()
	var failed *client.WorkflowFailedError
	switch {
	case err == nil:
		t.Fatalf("request for a dataset held by %s was accepted", holder)
	case isInvalid(err):
	case errors.As(err, &failed) && failed.Type == activities.ErrDatasetHeld:
	default:
		t.Fatalf("error %T %v, want an InvalidInputError or a %s WorkflowFailedError", err, err, activities.ErrDatasetHeld)
	}
	if !strings.Contains(err.Error(), holder) {
		t.Errorf("error %q does not name the holder %q", err, holder)
	}
}

// TestIntegrationCorruptBackup tampers with a backup's data: the restore is
// refused with BackupCorrupt before anything is paused, and succeeds once
// the backup is whole again.
func TestIntegrationCorruptBackup(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("corrupt"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	loaded := e.Load(t, env, ds, "item", 40)
	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	m, _ := e.ReadBackup(t, bres.Datasets[0].ManifestURL)
	if len(m.Objects) == 0 {
		t.Fatalf("backup has no data objects")
	}
	bucket := strings.SplitN(strings.TrimPrefix(loc, "s3://"), "/", 2)[0]
	obj := m.Objects[0].Key
	original := e.GetObject(t, bucket, obj)

	attempt := 0
	refused := func(t *testing.T) {
		t.Helper()
		attempt++ // a store id of its own, so one accepted restore does not spoil the next
		run, err := e.Client().StartRestore(ctx, restoreOne(env, ds, loc, fmt.Sprintf("attempt-%d", attempt)))
		var failed *client.WorkflowFailedError
		switch {
		case err == nil:
			_, err := e.Client().WaitRestore(ctx, run.ID, nil) // let it end before the next attempt
			t.Fatalf("restore of a corrupted backup was accepted (workflow %s ended with %v)", run.ID, err)
		case errors.As(err, &failed):
			if failed.Type != activities.ErrBackupCorrupt {
				t.Errorf("restore failed with %s: %v, want %s", failed.Type, err, activities.ErrBackupCorrupt)
			}
		default:
			t.Fatalf("error %T %v, want a %s WorkflowFailedError", err, err, activities.ErrBackupCorrupt)
		}
		requireNoChangeScheduled(t, e, run.ID)
		requireUntouched(t, e, env)
	}

	t.Run("object overwritten", func(t *testing.T) {
		// Same number of items, different bytes: only the checksum can tell.
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		for _, line := range strings.SplitAfter(string(gunzip(t, original)), "\n") {
			_, _ = zw.Write([]byte(strings.Replace(line, "value of item", "VALUE OF ITEM", 1)))
		}
		_ = zw.Close()
		if bytes.Equal(gunzip(t, buf.Bytes()), gunzip(t, original)) {
			t.Fatalf("tampering changed nothing")
		}
		e.PutObject(t, bucket, obj, buf.Bytes())
		defer e.PutObject(t, bucket, obj, original)
		refused(t)
	})

	t.Run("object missing", func(t *testing.T) {
		e.DeleteObject(t, bucket, obj)
		defer e.PutObject(t, bucket, obj, original)
		refused(t)
	})

	t.Run("extra object in the data folder", func(t *testing.T) {
		extra := path.Join(m.DataPrefix, "smuggled.json.gz")
		e.PutObject(t, bucket, extra, original)
		defer e.DeleteObject(t, bucket, extra)
		refused(t)
	})

	t.Run("whole again", func(t *testing.T) {
		_, rres := restore(ctx, t, e, restoreOne(env, ds, loc, ""))
		if d := testenv.DiffItems(loaded, e.ReadDataset(t, env, rres.StoreID, ds)); d != "" {
			t.Errorf("restored table differs from the backup: %s", d)
		}
	})
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
