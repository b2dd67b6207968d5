package chaos

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestChaosDataset: an environment of 2 or 3 datasets, a writer per
// dataset through the gate all along, a backup then a restore, under
// faults, with one worker process killed at a random point of one of them
// (at a random delay after the workflow started, or after the writes were
// first refused) and restarted 2-5 s later. Every run: both workflows
// complete; the backup holds the initial items and every write
// acknowledged before its pause, none acknowledged after it; the restored
// store holds the backup and the writes acknowledged after the restore's
// pause; the old store keeps every write acknowledged before it; no
// acknowledged write is lost; every dataset is RUNNING and unheld; each
// table was exported once and each restored table imported once; writes
// were refused at most killTarget after the kill.
func TestChaosDataset(t *testing.T) {
	s := setup(t)
	sc := newScenario("dataset", "paused")
	for i := range runs(t) {
		seed := baseSeed() + uint64(i)
		var faults, kills, dups int
		var worst time.Duration
		ok := t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			faults, kills, dups, worst = datasetRun(t, s, seed)
		})
		sc.record(!ok, seed, faults, kills, dups, worst)
	}
}

func datasetRun(t *testing.T, s *suite, seed uint64) (faults, kills, dups int, worst time.Duration) {
	e := s.e
	ctx := testenv.Context(t, 5*time.Minute)
	r := rng(seed)
	env := e.ID("chaos")
	names := []string{"orders", "customers", "events"}[:2+r.IntN(2)]
	e.CreateEnvDataset(t, env, names...)
	loc := e.NewBackupLocation(t)
	initial := map[string]map[string]string{}
	for _, ds := range names {
		initial[ds] = e.Load(t, env, ds, "initial", 40+r.IntN(40))
	}
	// The kill: in the backup or the restore; a random delay after the
	// workflow started, or after the writes were first refused.
	inRestore, afterPause := r.IntN(2) == 1, r.IntN(2) == 1
	delay := between(r, 0, 6*time.Second)
	if afterPause {
		delay = between(r, 0, 2*time.Second)
	}
	victim := s.workers[r.IntN(len(s.workers))]
	restart := between(r, 2*time.Second, 5*time.Second)
	t.Logf("seed %d: %d datasets; kill %s %s after the %s %s, restart %s later", seed, len(names), victim.name,
		delay.Round(time.Millisecond), map[bool]string{false: "backup", true: "restore"}[inRestore],
		map[bool]string{false: "started", true: "paused writes"}[afterPause], restart.Round(time.Millisecond))

	if err := e.ResetEmulatorRequests(ctx); err != nil {
		t.Fatal(err)
	}
	s.faults(t, true, seed)
	faultsOn := true
	defer func() {
		if faultsOn {
			s.faults(t, false, 0)
		}
	}()

	// phase runs a workflow under writers and, if it is the chosen one,
	// the kill; it returns the writers' logs by dataset.
	var k *kill
	phase := func(prefix string, chosen bool, run func() error) map[string][]write {
		writers := map[string]*writer{}
		anyRefused, once := make(chan struct{}), new(sync.Once)
		for _, ds := range names {
			w := startWriter(ctx, e.Gate(), env, ds, prefix)
			writers[ds] = w
			go func() {
				select {
				case <-w.refused:
					once.Do(func() { close(anyRefused) })
				case <-ctx.Done():
				}
			}()
		}
		for _, w := range writers { // every writer is writing before the workflow starts
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				w.mu.Lock()
				n := len(w.log)
				w.mu.Unlock()
				if n >= 3 || time.Now().After(deadline) {
					break
				}
			}
		}
		runCtx, cancel := context.WithCancel(ctx)
		if chosen {
			var trigger <-chan struct{}
			if afterPause {
				trigger = anyRefused
			}
			k = killLater(runCtx, t, victim, trigger, delay, restart)
		}
		err := run()
		cancel()
		if k != nil && chosen {
			<-k.done
		}
		time.Sleep(500 * time.Millisecond) // a few writes after the resume
		logs := map[string][]write{}
		for ds, w := range writers {
			logs[ds] = w.stop()
		}
		if err != nil {
			t.Fatalf("%s: %v (%s)", prefix, err, k)
		}
		return logs
	}

	in := dataset.BackupInput{}
	for _, ds := range names {
		in.Datasets = append(in.Datasets, dataset.BackupDataset{EnvID: env, DatasetID: ds, BackupLocation: loc})
	}
	var bres *dataset.BackupResult
	var backupID string
	blogs := phase("b", !inRestore, func() error {
		run, err := e.Client().StartBackup(ctx, in)
		if err != nil {
			return fmt.Errorf("start backup: %w", err)
		}
		backupID = run.ID
		bres, err = e.Client().WaitBackup(ctx, run.ID, nil)
		return err
	})
	rin := dataset.RestoreInput{NewStoreID: "restored"}
	for _, ds := range names {
		rin.Datasets = append(rin.Datasets, dataset.RestoreDataset{EnvID: env, DatasetID: ds, BackupLocation: loc})
	}
	var restoreID string
	rlogs := phase("r", inRestore, func() error {
		run, err := e.Client().StartRestore(ctx, rin)
		if err != nil {
			return fmt.Errorf("start restore: %w", err)
		}
		restoreID = run.ID
		_, err = e.Client().WaitRestore(ctx, run.ID, nil)
		return err
	})
	faults, _ = s.faultCount(t)
	s.faults(t, false, 0)
	faultsOn = false
	if !k.at.IsZero() {
		kills = 1
	}
	t.Logf("%s; %d faults injected; backup %s, restore %s", k, faults, backupID, restoreID)

	e.RequireRunning(t, env)
	if got := e.Environment(t, env).ActiveStore; got != "restored" {
		t.Errorf("active store %q, want restored", got)
	}
	for _, ds := range names {
		var row dataset.BackupRow
		for _, d := range bres.Datasets {
			if d.DatasetID == ds {
				row = d
			}
		}
		if row.ManifestURL == "" {
			t.Errorf("%s: no backup result in %+v", ds, bres.Datasets)
			continue
		}
		b, rs := splitLog(blogs[ds], row.CutTime), splitLog(rlogs[ds], time.Time{})
		for _, sp := range []split{b, rs} {
			worst = max(worst, sp.longestPause())
			for _, msg := range sp.overBound(k.at) {
				t.Errorf("%s: %s (%s)", ds, msg, k)
			}
		}
		if !b.paused || !rs.paused {
			t.Logf("%s: the writer saw no refusal in the backup (%v) or the restore (%v)", ds, !b.paused, !rs.paused)
		}
		t.Logf("%s: backup: %d acknowledged before the pause, %d after, %d unknown, pause %s; restore: %d before, %d after, %d unknown, pause %s",
			ds, len(b.before), len(b.after), len(b.unknown), b.longestPause().Round(time.Millisecond),
			len(rs.before), len(rs.after), len(rs.unknown), rs.longestPause().Round(time.Millisecond))

		// The backup: the initial items and the writes acknowledged before
		// its pause, none acknowledged after; others only if unknown.
		backed := e.ReadBackupItems(t, row.ManifestURL)
		mustHave(t, ds+": backup", backed, initial[ds], b.before)
		mustLack(t, ds+": backup", backed, b.after, "acknowledged after the backup's pause")
		onlyThese(t, ds+": backup", backed, b.unknown, initial[ds], b.before)

		// The old store keeps every write acknowledged before the restore's pause.
		old := e.ReadDataset(t, env, registry.InitialStoreID, ds)
		mustHave(t, ds+": old store", old, initial[ds], b.before, b.after, rs.before)
		mustLack(t, ds+": old store", old, rs.after, "acknowledged after the restore's pause")
		// The restored store: the backup, then the writes after the pause.
		restored := e.ReadDataset(t, env, "restored", ds)
		mustHave(t, ds+": restored store", restored, backed, rs.after)
		mustLack(t, ds+": restored store", restored, rs.before, "acknowledged before the restore's pause")
		onlyThese(t, ds+": restored store", restored, rs.unknown, backed, rs.after)

		// One export per backup, one import per restored table.
		oldTable, newTable := e.Registry().TableName(env, registry.InitialStoreID, ds), e.Registry().TableName(env, "restored", ds)
		exports, imports := jobs(ctx, t, e, oldTable, true), jobs(ctx, t, e, newTable, false)
		if exports != 1 || imports != 1 {
			t.Errorf("%s: %d exports of %s and %d imports into %s, want one each", ds, exports, oldTable, imports, newTable)
		}
		dups += max(exports-1, 0) + max(imports-1, 0)
	}
	return faults, kills, dups, worst
}

// jobs counts the exports of a table (export) or the imports into it, as
// the emulator holds them: every one that was applied, lost answers
// included, and a repeat its client token answered counted once.
func jobs(ctx context.Context, t *testing.T, e *testenv.Env, table string, export bool) int {
	t.Helper()
	desc, err := e.AWS.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("describe %s: %v", table, err)
	}
	arn, n := desc.Table.TableArn, 0
	var next *string
	for {
		if export {
			out, err := e.AWS.DynamoDB.ListExports(ctx, &dynamodb.ListExportsInput{TableArn: arn, NextToken: next})
			if err != nil {
				t.Fatalf("list exports of %s: %v", table, err)
			}
			n += len(out.ExportSummaries)
			next = out.NextToken
		} else {
			out, err := e.AWS.DynamoDB.ListImports(ctx, &dynamodb.ListImportsInput{TableArn: arn, NextToken: next})
			if err != nil {
				t.Fatalf("list imports into %s: %v", table, err)
			}
			n += len(out.ImportSummaryList)
			next = out.NextToken
		}
		if next == nil {
			return n
		}
	}
}

// mustHave fails for each item of wants missing from got or different.
func mustHave(t *testing.T, what string, got map[string]string, wants ...map[string]string) {
	t.Helper()
	var missing []string
	for _, want := range wants {
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				missing = append(missing, fmt.Sprintf("%s (got %q, want %q)", k, g, v))
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s lost %d acknowledged writes: %s", what, len(missing), abbreviate(missing))
	}
}

// mustLack fails for each key of unwanted found in got.
func mustLack(t *testing.T, what string, got, unwanted map[string]string, why string) {
	t.Helper()
	var there []string
	for k := range unwanted {
		if _, ok := got[k]; ok {
			there = append(there, k)
		}
	}
	if len(there) > 0 {
		t.Errorf("%s holds %d writes %s: %s", what, len(there), why, abbreviate(there))
	}
}

// onlyThese fails for each key of got in none of allowed and not unknown.
func onlyThese(t *testing.T, what string, got map[string]string, unknown map[string]bool, allowed ...map[string]string) {
	t.Helper()
	var extra []string
outer:
	for k := range got {
		if unknown[k] {
			continue
		}
		for _, a := range allowed {
			if _, ok := a[k]; ok {
				continue outer
			}
		}
		extra = append(extra, k)
	}
	if len(extra) > 0 {
		t.Errorf("%s holds %d items nobody wrote there: %s", what, len(extra), abbreviate(extra))
	}
}

func abbreviate(s []string) string {
	if len(s) > 8 {
		return strings.Join(s[:8], ", ") + fmt.Sprintf(", ... (%d more)", len(s)-8)
	}
	return strings.Join(s, ", ")
}
