package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// BenchmarkBackupRestore backs up and restores a dataset of N items on the
// local stack (dev server, two workers, the emulator's aws profile with
// exports and imports held at least 10 s, as on AWS) three times per size
// and reports the medians:
//
//	backup-ms          StartBackup until WaitBackup returns
//	restore-ms         StartRestore until WaitRestore returns
//	pause-window-ms    writes refused, as a writer probing every ~5ms sees it:
//	                   first refusal to last refusal during the backup
//	workflow-pause-ms  the backup's own PauseWindowMillis
//	restore-pause-ms   the restore's PauseWindowMillis
//
// The items are loaded with testenv.BulkLoad, not through the gate. The
// figures are the emulator's and the dev server's, on whatever machine runs
// the benchmark: they show where the time goes (the pause, flat in size;
// the jobs), not AWS speeds.
//
// Run: make bench (go test -run '^$' -bench . -benchtime 1x ./internal/integration/)
func BenchmarkBackupRestore(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			e := longEnv.Get(b)
			var backupMs, restoreMs, probeMs, wfPauseMs, restorePauseMs []float64
			for range benchRuns {
				m := benchOnce(b, e, n)
				backupMs = append(backupMs, m.backup.Seconds()*1000)
				restoreMs = append(restoreMs, m.restore.Seconds()*1000)
				probeMs = append(probeMs, m.probeWindow.Seconds()*1000)
				wfPauseMs = append(wfPauseMs, float64(m.workflowPause))
				restorePauseMs = append(restorePauseMs, float64(m.restorePause))
			}
			b.ReportMetric(median(backupMs), "backup-ms")
			b.ReportMetric(median(restoreMs), "restore-ms")
			b.ReportMetric(median(probeMs), "pause-window-ms")
			b.ReportMetric(median(wfPauseMs), "workflow-pause-ms")
			b.ReportMetric(median(restorePauseMs), "restore-pause-ms")
			b.ReportMetric(0, "ns/op") // per-op wall time would include loading and checking: not reported
		})
	}
}

// benchRuns is how many runs each size's medians are taken over.
const benchRuns = 3

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

type benchFigures struct {
	backup, restore, probeWindow time.Duration
	workflowPause, restorePause  int64
}

func benchOnce(b *testing.B, e *testenv.Env, n int) benchFigures {
	ctx := testenv.Context(b, 15*time.Minute)
	env, ds := e.ID("bench"), "items"
	e.CreateEnvDataset(b, env, ds)
	loc := e.NewBackupLocation(b)
	// Not gateload.Load: through the gate, moto copies the whole table for every
	// item written (see testenv.BulkLoad), which takes minutes at 10,000.
	e.BulkLoad(b, env, ds, "item", n)
	var f benchFigures

	// The probe writes one key over and over while the backup runs.
	probeCtx, stopProbe := context.WithCancel(ctx)
	probeDone := make(chan time.Duration, 1)
	go func() {
		var first, last time.Time
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			err := e.Gate().Put(probeCtx, env, ds, gate.Item{Key: "probe", Value: time.Now().String()})
			var paused *gate.WritesPausedError
			if errors.As(err, &paused) {
				now := time.Now()
				if first.IsZero() {
					first = now
				}
				last = now
			}
			select {
			case <-probeCtx.Done():
				probeDone <- last.Sub(first)
				return
			case <-tick.C:
			}
		}
	}()

	start := time.Now()
	run, err := e.Client().StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	if err != nil {
		stopProbe()
		b.Fatalf("start backup: %v", err)
	}
	bres, err := e.Client().WaitBackup(ctx, run.ID, nil)
	f.backup = time.Since(start)
	stopProbe()
	f.probeWindow = <-probeDone
	if err != nil {
		b.Fatalf("backup: %v", err)
	}
	f.workflowPause = bres.PauseWindowMillis
	if got := bres.Datasets[0].ItemCount; got < int64(n) || got > int64(n)+1 { // + the probe's key
		b.Fatalf("backup holds %d items, want %d (+1 probe)", got, n)
	}
	if f.probeWindow == 0 {
		b.Errorf("the probe was never refused during the backup")
	}

	start = time.Now()
	run, err = e.Client().StartRestore(ctx, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	if err != nil {
		b.Fatalf("start restore: %v", err)
	}
	rres, err := e.Client().WaitRestore(ctx, run.ID, nil)
	f.restore = time.Since(start)
	if err != nil {
		b.Fatalf("restore: %v", err)
	}
	f.restorePause = rres.PauseWindowMillis
	if got := rres.Datasets[0].ItemCount; got != bres.Datasets[0].ItemCount {
		b.Fatalf("restored table holds %d items, backup %d", got, bres.Datasets[0].ItemCount)
	}
	b.Logf("items=%d: backup %s (pause %dms, probe saw %s), restore %s (pause %dms)", n,
		f.backup.Round(time.Millisecond), f.workflowPause, f.probeWindow.Round(time.Millisecond),
		f.restore.Round(time.Millisecond), f.restorePause)
	return f
}
