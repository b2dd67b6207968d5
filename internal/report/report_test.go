package report

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func backupAt(d time.Duration) *Backup { return &Backup{ID: "b", At: ago(d), Location: "s3://b/p"} }

func proof(outcome string, d time.Duration) *Proof { return &Proof{At: ago(d), Outcome: outcome} }

// The status and coverage rules, one case each.
func TestEvaluate(t *testing.T) {
	t.Parallel()
	const window = 7 * 24 * time.Hour
	cases := []struct {
		name          string
		row           Row
		target        time.Duration
		status, cover string
		outside       bool
		why           string
	}{
		{name: "within target, verified yesterday", row: Row{LastBackup: backupAt(time.Hour), Verification: proof(OutcomeOK, 24*time.Hour)},
			target: 6 * time.Hour, status: StatusOK, cover: Green, why: "verification passed"},
		{name: "within target, restore-tested", row: Row{LastBackup: backupAt(time.Hour), RestoreTest: proof(OutcomeOK, time.Hour)},
			target: 6 * time.Hour, status: StatusOK, cover: Green, why: "restore test passed"},
		{name: "overdue", row: Row{LastBackup: backupAt(7 * time.Hour), Verification: proof(OutcomeOK, time.Hour)},
			target: 6 * time.Hour, status: StatusLate, cover: Red, outside: true, why: "outside target by 1h"},
		{name: "just within", row: Row{LastBackup: backupAt(6 * time.Hour)},
			target: 6 * time.Hour, status: StatusOK, cover: Amber, why: "never verified"},
		{name: "never backed up, with a target", row: Row{}, target: time.Hour, status: StatusNone, cover: Red, outside: true, why: "never backed up"},
		{name: "never backed up, no target", row: Row{}, status: StatusNone, cover: Red, why: "never backed up"},
		{name: "backed up, no target", row: Row{LastBackup: backupAt(time.Hour), Verification: proof(OutcomeOK, time.Hour)},
			status: StatusUnknown, cover: Amber, why: "no RPO target"},
		{name: "never proven", row: Row{LastBackup: backupAt(time.Hour)}, target: 6 * time.Hour, status: StatusOK, cover: Amber, why: "never verified or restore-tested"},
		{name: "proven too long ago", row: Row{LastBackup: backupAt(time.Hour), RestoreTest: proof(OutcomeOK, 8*24*time.Hour)},
			target: 6 * time.Hour, status: StatusOK, cover: Amber, why: "last restore test 8d ago"},
		{name: "newest proof failed", row: Row{LastBackup: backupAt(time.Hour), Verification: proof(OutcomeOK, 3*time.Hour), RestoreTest: proof(OutcomeFailed, 2*time.Hour)},
			target: 6 * time.Hour, status: StatusOK, cover: Red, why: "last restore test failed"},
		{name: "failed run after the backup", row: Row{LastBackup: backupAt(2 * time.Hour), Verification: proof(OutcomeOK, time.Hour),
			LastFailure: &Failure{At: ago(time.Hour), Reason: "export failed"}}, target: 6 * time.Hour, status: StatusOK, cover: Red, why: "last backup run failed"},
		{name: "failed run before the backup", row: Row{LastBackup: backupAt(time.Hour), Verification: proof(OutcomeOK, time.Hour),
			LastFailure: &Failure{At: ago(2 * time.Hour), Reason: "export failed"}}, target: 6 * time.Hour, status: StatusOK, cover: Green},
		{name: "backups unreadable", row: Row{readFailed: true, Note: "cannot read backups: access denied"}, target: time.Hour,
			status: StatusUnknown, cover: Red, outside: true, why: "access denied"},
	}
	for _, c := range cases {
		r := c.row
		r.SetTarget(c.target, "explicit")
		Evaluate(&r, now, window)
		if r.Status != c.status || r.Coverage != c.cover || r.OutsideTarget != c.outside || !strings.Contains(r.Why, c.why) {
			t.Errorf("%s: status %s, coverage %s (%s), outside %t; want %s, %s (%s), outside %t",
				c.name, r.Status, r.Coverage, r.Why, r.OutsideTarget, c.status, c.cover, c.why, c.outside)
		}
		if (r.LastBackup != nil) != (r.AgeSeconds != nil) {
			t.Errorf("%s: age %v with last backup %v", c.name, r.AgeSeconds, r.LastBackup)
		}
	}
}

// A resource's own RPO wins over its schedule's interval, whichever is shorter.
func TestExplicitTargetWins(t *testing.T) {
	t.Parallel()
	for _, explicit := range []time.Duration{time.Hour, 48 * time.Hour} {
		var cv cover
		cv.add(Schedule{ID: "nightly", Interval: 24 * time.Hour}, "s3://b/p")
		cv.add(Schedule{ID: "six-hourly", Interval: 6 * time.Hour}, "s3://b/p")
		var r Row
		cv.target(&r, explicit)
		if r.Target() != explicit || r.RPOSource != "explicit" || *r.RPOTargetSeconds != explicit.Seconds() {
			t.Errorf("explicit %s: target %s from %q, want the explicit one", explicit, r.Target(), r.RPOSource)
		}
		var none Row
		cv.target(&none, 0)
		if none.Target() != 6*time.Hour || none.RPOSource != "schedule six-hourly" {
			t.Errorf("no explicit target: %s from %q, want the shortest schedule interval, 6h from six-hourly", none.Target(), none.RPOSource)
		}
	}
}

// Check (the exit code) fails on resources outside target only.
func TestCheck(t *testing.T) {
	t.Parallel()
	rows := []Row{
		{Kind: KindDataset, Resource: "prod/orders", LastBackup: backupAt(time.Hour)},
		{Kind: KindRedis, Resource: "shop", LastBackup: backupAt(10 * time.Hour)}, // no target: unknown, not outside
	}
	rows[0].SetTarget(6*time.Hour, "explicit")
	rep := Finish(rows, now, DefaultProofWindow)
	if err := rep.Check(); err != nil {
		t.Fatalf("all within target or without one: %v", err)
	}
	late := Row{Kind: KindDataset, Resource: "prod/users", LastBackup: backupAt(7 * time.Hour)}
	late.SetTarget(6*time.Hour, "schedule nightly")
	rep = Finish(append(rows, late), now, DefaultProofWindow)
	err := rep.Check()
	if err == nil || !strings.Contains(err.Error(), "1 of 3 resources outside their RPO target: dataset prod/users (late)") {
		t.Errorf("one late: %v", err)
	}
	if s := rep.Summary; s.Resources != 3 || s.OK != 1 || s.Late != 1 || s.Unknown != 1 || s.OutsideTarget != 1 || s.Red != 1 {
		t.Errorf("summary %+v", s)
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 42 * time.Second: "42s", 12*time.Minute + 5*time.Second: "12m", 5*time.Hour + 12*time.Minute: "5h12m",
		6 * time.Hour: "6h", 3*24*time.Hour + 4*time.Hour + 5*time.Minute: "3d4h", 72 * time.Hour: "3d",
	} {
		if got := Age(d); got != want {
			t.Errorf("Age(%s) = %q, want %q", d, got, want)
		}
	}
}
