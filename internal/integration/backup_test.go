package integration

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/gateload"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// writerResult is what one concurrent writer saw.
type writerResult struct {
	acked   map[string]string // every write the gate acknowledged
	refusal *gate.WritesPausedError
	err     error // anything but success or a refusal
}

// TestIntegrationBackupWithConcurrentWriters backs up a dataset while writers
// keep writing through the gate. Each writer stops at its first refusal, so
// the set of acknowledged writes is exactly what a consistent backup must
// hold: nothing acknowledged may be missing, nothing refused may be there.
func TestIntegrationBackupWithConcurrentWriters(t *testing.T) {
	e := shared(t)
	t.Parallel()
	backupUnderWriters(t, e)
}

// writersBackup is a backup taken under concurrent writers, and exactly the
// items it must hold.
type writersBackup struct {
	env, ds string
	run     client.Run
	res     *dataset.BackupResult
	want    map[string]string
	// refusedFor is the longest stretch the persistent writer saw its
	// writes refused: from its first refusal to its first write accepted
	// after the resume.
	refusedFor time.Duration
}

// backupUnderWriters backs up a dataset while 4 writers write through the
// gate until their first refusal and a fifth keeps writing through the
// pause, and checks the backup holds exactly the writes acknowledged before
// the pause, none acknowledged after the resume.
func backupUnderWriters(t *testing.T, e *testenv.Env) writersBackup {
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("writers"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	want := e.Load(t, env, ds, "initial", 200)

	const writers = 4
	results := make([]writerResult, writers)
	stop := make(chan struct{})
	var warmedUp, done sync.WaitGroup
	for w := range writers {
		warmedUp.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			r := &results[w]
			r.acked = map[string]string{}
			var once sync.Once
			ready := func() { once.Do(warmedUp.Done) }
			defer ready()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				it := gate.Item{Key: fmt.Sprintf("writer%d-%06d", w, n), Value: fmt.Sprintf("written by writer %d, #%d", w, n)}
				err := e.Gate().Put(ctx, env, ds, it)
				var paused *gate.WritesPausedError
				switch {
				case err == nil:
					r.acked[it.Key] = it.Value
					if len(r.acked) >= 5 {
						ready()
					}
				case errors.As(err, &paused):
					r.refusal = paused
					return
				default:
					r.err = err
					return
				}
			}
		}()
	}
	// One more writer does not stop at refusals: it keeps trying until the
	// backup has finished. What it wrote before its first refusal must be
	// in the backup; what it wrote after (once writes resumed) must not.
	var persistent struct {
		before, after map[string]string
		refusals      int
		err           error
		afterCount    atomic.Int32 // len(after), for the test goroutine to watch
		refusedAt     time.Time    // first refusal
		refusedFor    time.Duration
	}
	persistent.before, persistent.after = map[string]string{}, map[string]string{}
	warmedUp.Add(1)
	done.Add(1)
	go func() {
		defer done.Done()
		var once sync.Once
		defer once.Do(warmedUp.Done)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			it := gate.Item{Key: fmt.Sprintf("persistent-%06d", n), Value: fmt.Sprintf("persistent #%d", n)}
			err := e.Gate().Put(ctx, env, ds, it)
			var paused *gate.WritesPausedError
			switch {
			case err == nil && persistent.refusals == 0:
				persistent.before[it.Key] = it.Value
				if len(persistent.before) >= 5 {
					once.Do(warmedUp.Done)
				}
			case err == nil:
				if len(persistent.after) == 0 {
					persistent.refusedFor = time.Since(persistent.refusedAt)
				}
				persistent.after[it.Key] = it.Value
				persistent.afterCount.Add(1)
			case errors.As(err, &paused):
				if persistent.refusals == 0 {
					persistent.refusedAt = time.Now()
				}
				persistent.refusals++
				time.Sleep(10 * time.Millisecond)
			default:
				persistent.err = err
				return
			}
		}
	}()
	var stopOnce sync.Once
	stopWriters := func() { stopOnce.Do(func() { close(stop) }); done.Wait() }
	defer stopWriters()
	warmedUp.Wait() // every writer is writing before the backup starts

	run, res := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{
		EnvID: env, DatasetID: ds, BackupLocation: loc,
	}}})
	// Let the persistent writer get a few writes in after the resume.
	for deadline := time.Now().Add(10 * time.Second); persistent.afterCount.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	stopWriters()

	concurrent := 0
	for w, r := range results {
		if r.err != nil {
			t.Errorf("writer %d: unexpected error: %v", w, r.err)
		}
		if r.refusal == nil {
			t.Errorf("writer %d was never refused: the backup's pause did not cut it (%d writes acknowledged)", w, len(r.acked))
		} else if r.refusal.HeldBy != run.ID {
			t.Errorf("writer %d refused by a pause held by %q, want the backup %q", w, r.refusal.HeldBy, run.ID)
		}
		if len(r.acked) == 0 {
			t.Errorf("writer %d had no write acknowledged", w)
		}
		concurrent += len(r.acked)
		want = testenv.Merge(want, r.acked)
	}
	if persistent.err != nil {
		t.Errorf("persistent writer: unexpected error: %v", persistent.err)
	}
	if persistent.refusals == 0 || len(persistent.after) == 0 {
		t.Errorf("persistent writer: %d refusals, %d writes after them: want writes refused, then accepted again",
			persistent.refusals, len(persistent.after))
	}
	concurrent += len(persistent.before)
	want = testenv.Merge(want, persistent.before)
	t.Logf("backup %s: %d initial + %d concurrent acknowledged writes, pause window %dms; persistent writer refused %d times, then wrote %d",
		run.ID, 200, concurrent, res.PauseWindowMillis, persistent.refusals, len(persistent.after))

	got := res.Datasets[0]
	if !got.PausedWrites {
		t.Errorf("backup result says writes were not paused")
	}
	if got.ItemCount != int64(len(want)) {
		t.Errorf("backup result counts %d items, %d writes were acknowledged", got.ItemCount, len(want))
	}
	if res.PauseWindowMillis <= 0 {
		t.Errorf("pause window %dms, want > 0", res.PauseWindowMillis)
	}
	m, items := e.ReadBackup(t, got.ManifestURL)
	if d := testenv.DiffItems(want, items); d != "" {
		t.Errorf("backup items differ from the writes acknowledged before the pause: %s", d)
	}
	if m.ItemCount != int64(len(want)) {
		t.Errorf("manifest counts %d items, want %d", m.ItemCount, len(want))
	}
	if m.DatasetID != ds || m.EnvironmentID != env || m.StoreID != registry.InitialStoreID || !m.PausedWrites || m.BackupID != got.BackupID {
		t.Errorf("manifest %+v does not describe backup %s of %s/%s in store %s", m, got.BackupID, env, ds, registry.InitialStoreID)
	}
	// The live table holds exactly the acknowledged writes: none lost, none extra.
	live, err := gateload.All(ctx, e.Registry(), env, ds)
	if err != nil {
		t.Fatal(err)
	}
	if d := testenv.DiffItems(testenv.Merge(want, persistent.after), live); d != "" {
		t.Errorf("live table differs from the acknowledged writes: %s", d)
	}

	d := e.Dataset(t, env, ds)
	if d.Status != registry.StatusRunning || d.HeldBy != "" {
		t.Errorf("after the backup the dataset is %s held by %q, want RUNNING", d.Status, d.HeldBy)
	}
	if err := e.Gate().Put(ctx, env, ds, gate.Item{Key: "after-backup", Value: "yes"}); err != nil {
		t.Fatalf("write after the backup: %v", err)
	}
	if it, ok, err := e.Gate().Get(ctx, env, ds, "after-backup"); err != nil || !ok || it.Value != "yes" {
		t.Errorf("read back the write after the backup: %+v, %v, %v", it, ok, err)
	}
	return writersBackup{env: env, ds: ds, run: run, res: res, want: want, refusedFor: persistent.refusedFor}
}
