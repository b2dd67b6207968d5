package integration

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationRestoreRefusesSameSizeTamper overwrites a backup's data
// object with different bytes of the same size and item count: its size
// matches the manifest, so only the checksum (S3's ETag against the
// manifest's) tells. The restore must fail with BackupCorrupt before it
// pauses anything or creates a store, and the dataset must keep its data.
func TestIntegrationRestoreRefusesSameSizeTamper(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("tamper"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	loaded := e.Load(t, env, ds, "item", 30)
	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	m, _ := e.ReadBackup(t, bres.Datasets[0].ManifestURL)
	if len(m.Objects) == 0 {
		t.Fatal("backup has no data objects")
	}
	bucket := strings.SplitN(strings.TrimPrefix(loc, "s3://"), "/", 2)[0]
	var obj string
	var original []byte
	for _, o := range m.Objects { // an object with items, so the values can change
		if b := e.GetObject(t, bucket, o.Key); len(gunzip(t, b)) > 0 {
			obj, original = o.Key, b
			break
		}
	}
	if obj == "" {
		t.Fatal("no data object holds items")
	}
	tampered := sameSizeTampered(t, original)
	if len(tampered) != len(original) || bytes.Equal(tampered, original) {
		t.Fatalf("tampered object: %d bytes (original %d), equal=%v: want the same size, other bytes",
			len(tampered), len(original), bytes.Equal(tampered, original))
	}
	e.PutObject(t, bucket, obj, tampered)

	run, err := e.Client().StartRestore(ctx, restoreOne(env, ds, loc, "tampered"))
	var failed *client.WorkflowFailedError
	switch {
	case err == nil:
		_, err := e.Client().WaitRestore(ctx, run.ID, nil)
		t.Fatalf("restore of a tampered backup was accepted (workflow %s ended with %v)", run.ID, err)
	case !errors.As(err, &failed):
		t.Fatalf("error %T %v, want a %s WorkflowFailedError", err, err, activities.ErrBackupCorrupt)
	case failed.Type != activities.ErrBackupCorrupt:
		t.Errorf("restore failed with %s: %v, want %s", failed.Type, err, activities.ErrBackupCorrupt)
	case !strings.Contains(err.Error(), obj):
		t.Errorf("refusal %q does not name the object %s", err, obj)
	}
	requireNoChangeScheduled(t, e, run.ID)
	requireUntouched(t, e, env)
	if d := testenv.DiffItems(loaded, e.ReadDataset(t, env, e.Environment(t, env).ActiveStore, ds)); d != "" {
		t.Errorf("dataset changed by a refused restore: %s", d)
	}
}
