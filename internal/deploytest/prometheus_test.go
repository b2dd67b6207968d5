package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/metrics"
)

var promDir = filepath.Join(repoRoot, "deploy", "prometheus")

// promtool is Debian's prometheus package's rule checker (make tools
// installs it). It may be missing on a developer's machine, not in CI.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not installed: make tools installs it (Debian package prometheus)")
		}
		t.Skip("promtool not installed (make tools installs it: Debian package prometheus)")
	}
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestAlertRules: alerts.yml and the example prometheus.yml are valid, and
// every alert passes its unit tests in alerts_test.yml (each fires when it
// should and not when it should not).
func TestAlertRules(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"check", "config", "prometheus.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		if out, err := runPromtool(t, promDir, args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertRulesTestsCatchBugs: each one-line mistake below in alerts.yml
// makes promtool test rules fail, so the tests in alerts_test.yml can fail.
func TestAlertRulesTestsCatchBugs(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile(filepath.Join(promDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(promDir, "alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, plant := range []struct{ name, alert, from, to string }{
		{"overdue comparison inverted", "LifeboatBackupOverdue",
			"> max by (operation, resource) (lifeboat_rpo_target_seconds)", "< max by (operation, resource) (lifeboat_rpo_target_seconds)"},
		{"overdue without max across workers", "LifeboatBackupOverdue",
			"time() - max by (operation, resource) (lifeboat_last_success_timestamp_seconds)", "time() - min by (operation, resource) (lifeboat_last_success_timestamp_seconds)"},
		{"a pass read as a failure", "LifeboatRestoreTestFailed", "(lifeboat_last_restore_test_success == 0)", "(lifeboat_last_restore_test_success == 1)"},
		{"any failed test, not the latest", "LifeboatRestoreTestFailed", "== on (kind, resource) group_left max by", "<= on (kind, resource) group_left max by"},
		{"restore tests never overdue", "LifeboatRestoreTestOverdue", "> 8 * 86400", "> 9 * 86400"},
		{"pause threshold inverted", "LifeboatDatasetLeftPaused", "> 15 * 60", "< 15 * 60"},
		{"first failure after a start missed", "LifeboatFailures",
			"\n          or\n          sum by (operation, step) (lifeboat_failures_total unless lifeboat_failures_total offset 1h) > 0", ""},
		{"every job's targets", "LifeboatWorkerDown", `up{job="lifeboat"} == 0`, `up == 0`},
	} {
		t.Run(plant.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(string(rules), plant.from) {
				t.Fatalf("alerts.yml has no %q to plant the bug in", plant.from)
			}
			dir := t.TempDir()
			for name, body := range map[string]string{
				"alerts.yml":      strings.Replace(string(rules), plant.from, plant.to, 1),
				"alerts_test.yml": string(tests),
			} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := runPromtool(t, dir, "test", "rules", "alerts_test.yml")
			if err == nil {
				t.Fatalf("promtool test rules passed with the bug planted:\n%s", out)
			}
			// Failed on the planted alert's expectations, not on a parse error.
			if !strings.Contains(out, "alertname: "+plant.alert+",") || strings.Contains(out, "could not parse") {
				t.Errorf("want a failed expectation of %s; promtool said:\n%s", plant.alert, out)
			}
		})
	}
}

// metricName finds the metric names in a PromQL expression: Lifeboat's,
// the SDK's, and up.
var metricName = regexp.MustCompile(`\b(?:lifeboat|temporal)_[a-z0-9_]+\b|\bup\b`)

// knownMetric says whether a worker serves name (a sample name, with the
// suffixes Prometheus adds to counters and histograms) or Prometheus makes
// it (up).
func knownMetric(name string) bool {
	if name == "up" {
		return true
	}
	for _, suffix := range []string{"", "_bucket", "_count", "_sum"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if _, ok := metrics.Help[base]; ok {
			return true
		}
		for _, unit := range []string{"_total", "_seconds"} {
			if b, ok := strings.CutSuffix(base, unit); ok {
				if _, ok := metrics.Help[b]; ok {
					return true
				}
			}
		}
	}
	return false
}

// TestAlertRulesNameServedMetrics: every metric an alert reads is one the
// workers serve (a renamed metric would silence its alert for good).
func TestAlertRulesNameServedMetrics(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile(filepath.Join(promDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, name := range metricName.FindAllString(line, -1) {
			if !knownMetric(name) {
				t.Errorf("alerts.yml reads %s, which no worker serves (internal/metrics.Help has no such metric)", name)
			}
			seen = append(seen, name)
		}
	}
	for _, want := range []string{"lifeboat_last_success_timestamp_seconds", "lifeboat_rpo_target_seconds", "lifeboat_last_restore_test_success",
		"lifeboat_last_restore_test_timestamp_seconds", "lifeboat_dataset_paused_seconds", "lifeboat_failures_total", "up"} {
		if !slices.Contains(seen, want) {
			t.Errorf("no alert reads %s", want)
		}
	}
	if knownMetric("lifeboat_last_sucess_timestamp_seconds") || knownMetric("lifeboat_failure_total") {
		t.Error("knownMetric accepts a misspelt metric")
	}
}
