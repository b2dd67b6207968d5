package integration

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/report"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationReportRPO: `lifeboat report` on a real stack. Two datasets
// backed up once; the one whose RPO (1s) its backup has outlived is late
// and red, and the report exits 1 naming it; the one with a 1h RPO is ok;
// without targets the report exits 0. The backups are found where their
// last backup run wrote them (Temporal visibility), and without that under
// --backup-location.
func TestIntegrationReportRPO(t *testing.T) {
	e := shared(t)
	e.UseForCLI(t, "us-east-1") // the CLI reads AWS settings from the environment: no t.Parallel
	ctx := testenv.Context(t, 4*time.Minute)
	env, stale, fresh := e.ID("report"), "orders", "users"
	lifeboat := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue,
			"--control-table", e.Config.ControlTable, "--table-prefix", e.Config.TablePrefix)
		code := cli.Main(ctx, args, &out, &errOut)
		t.Logf("$ lifeboat %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}
	must := func(args ...string) {
		t.Helper()
		if code, _, errOut := lifeboat(args...); code != 0 {
			t.Fatalf("lifeboat %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
	}
	rows := func(out string) map[string]report.Row {
		t.Helper()
		var rep report.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report json: %v\n%s", err, out)
		}
		m := map[string]report.Row{}
		for _, r := range rep.Resources {
			m[r.Resource] = r
		}
		return m
	}

	must("env", "create", "--env-id", env)
	must("dataset", "create", "--env-id", env, "--dataset-id", stale)
	must("dataset", "create", "--env-id", env, "--dataset-id", fresh, "--rpo", "1h")
	loc := e.NewBackupLocation(t)
	for _, ds := range []string{stale, fresh} {
		e.Load(t, env, ds, "item", 10)
	}
	backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{
		{EnvID: env, DatasetID: stale, BackupLocation: loc}, {EnvID: env, DatasetID: fresh, BackupLocation: loc}}})
	staleKey, freshKey := env+"/"+stale, env+"/"+fresh

	// No schedule: the backups are found through the backup run's input,
	// once visibility lists the run.
	var got map[string]report.Row
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		code, out, _ := lifeboat("report", "--env-id", env, "--output", "json")
		got = rows(out)
		if code == 0 && got[staleKey].LastBackup != nil && got[freshKey].LastBackup != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report does not find the backups through the backup run (exit %d): %+v", code, got)
		}
	}
	if r := got[staleKey]; r.Status != report.StatusUnknown || r.RPOTargetSeconds != nil || r.Note != "no schedule" || r.Locations[0] != loc {
		t.Errorf("%s without a target: %+v, want unknown, no target, no schedule, found under %s", staleKey, r, loc)
	}
	if r := got[freshKey]; r.Status != report.StatusOK || r.RPOSource != "explicit" || *r.RPOTargetSeconds != 3600 || r.OutsideTarget {
		t.Errorf("%s with --rpo 1h: %+v, want ok against the explicit 1h", freshKey, r)
	}

	// 1s: outlived by the backup once 2s have passed.
	must("dataset", "set-rpo", "--env-id", env, "--dataset-id", stale, "--rpo", "1s")
	time.Sleep(2 * time.Second)
	code, out, errOut := lifeboat("report", "--env-id", env, "--output", "json", "--backup-location", loc)
	got = rows(out)
	if code != cli.ExitFailure || !strings.Contains(errOut, "1 of 2 resources outside their RPO target: dataset "+staleKey+" (late)") ||
		strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("report with %s late: exit %d, stderr %q; want 1 and one line naming it", staleKey, code, errOut)
	}
	if r := got[staleKey]; r.Status != report.StatusLate || r.Coverage != report.Red || !r.OutsideTarget || *r.RPOTargetSeconds != 1 {
		t.Errorf("%s with --rpo 1s after 2s: %+v, want late and red", staleKey, r)
	}
	if r := got[freshKey]; r.Status != report.StatusOK || r.OutsideTarget {
		t.Errorf("%s: %+v, want still ok", freshKey, r)
	}
	// The table says the same to people.
	code, out, _ = lifeboat("report", "--env-id", env)
	if code != cli.ExitFailure || !strings.Contains(out, "dataset "+staleKey+": outside target by") {
		t.Errorf("table: exit %d\n%s", code, out)
	}

	// A fresh backup of it is within a 1h target again; exit 0.
	must("dataset", "set-rpo", "--env-id", env, "--dataset-id", stale, "--rpo", "1h")
	backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: stale, BackupLocation: loc}}})
	code, out, _ = lifeboat("report", "--env-id", env, "--output", "json", "--backup-location", loc)
	if r := rows(out)[staleKey]; code != 0 || r.Status != report.StatusOK {
		t.Errorf("after a fresh backup with a 1h target: exit %d, %+v; want 0 and ok", code, r)
	}
	// Bad flags: exit 2.
	if code, _, _ := lifeboat("report", "--output", "yaml"); code != cli.ExitInvalid {
		t.Errorf("--output yaml: exit %d, want 2", code)
	}
	if code, _, _ := lifeboat("dataset", "set-rpo", "--env-id", env, "--dataset-id", stale, "--rpo", "1.5s"); code != cli.ExitInvalid {
		t.Errorf("--rpo 1.5s: exit %d, want 2", code)
	}
}
