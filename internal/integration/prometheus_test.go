package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationPrometheusAlertsOverdueBackup runs Debian's Prometheus
// server against the workers' metrics with deploy/prometheus/alerts.yml,
// backs up a dataset with a 2-second RPO target and waits until Prometheus
// fires LifeboatBackupOverdue for that dataset. The rules are alerts.yml's
// own, rendered with every `for:` at 0s (the test would otherwise wait the
// 30 minutes' grace); the unit tests in alerts_test.yml cover the `for:`s.
func TestIntegrationPrometheusAlertsOverdueBackup(t *testing.T) {
	e := shared(t)
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus not installed: make tools installs it (Debian package prometheus)")
		}
		t.Skip("prometheus not installed (make tools installs it: Debian package prometheus)")
	}
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)

	env, ds := e.ID("prom"), "orders"
	e.CreateEnvDataset(t, env, ds)
	e.Load(t, env, ds, "item", 10)
	in := dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: e.NewBackupLocation(t)}}}
	in.RPOSeconds = 2
	backup(ctx, t, e, in)

	promURL := startPrometheus(ctx, t, bin, e.MetricsURLs)
	resource := env + "/" + ds
	var last string
	for {
		alerts, err := firingAlerts(ctx, promURL)
		if err == nil {
			for _, a := range alerts {
				if a.Labels["alertname"] == "LifeboatBackupOverdue" && a.Labels["resource"] == resource && a.Labels["operation"] == "backup" {
					if !strings.Contains(a.Annotations["summary"], resource) {
						t.Errorf("alert summary %q does not name %s", a.Annotations["summary"], resource)
					}
					return
				}
			}
			last = fmt.Sprintf("%+v", alerts)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("LifeboatBackupOverdue never fired for %s; last answer from %s/api/v1/alerts: %s", resource, promURL, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// forClause is a rule's `for:` in alerts.yml.
var forClause = regexp.MustCompile(`(?m)^(\s+)for: \S+$`)

// startPrometheus runs prometheus on a free port, scraping targets every
// second and evaluating alerts.yml (every `for:` at 0s) every second, until
// the test ends. It returns the server's URL once it is ready.
func startPrometheus(ctx context.Context, t *testing.T, bin string, targets []string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !forClause.Match(rules) {
		t.Fatal("alerts.yml has no for: to render")
	}
	dir := t.TempDir()
	var hosts []string
	for _, u := range targets {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, fmt.Sprintf("%q", p.Host))
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: lifeboat
    static_configs:
      - targets: [%s]
`, strings.Join(hosts, ", "))
	for name, body := range map[string][]byte{
		"alerts.yml":     forClause.ReplaceAll(rules, []byte("${1}for: 0s")),
		"prometheus.yml": []byte(config),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file", filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("prometheus log:\n%s", b)
			}
		}
	})
	base := "http://" + addr
	for {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited before it was ready: %v", err)
		case <-ctx.Done():
			t.Fatalf("prometheus not ready at %s: %v", base, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// firingAlerts lists the alerts Prometheus has firing.
func firingAlerts(ctx context.Context, base string) ([]promAlert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode /api/v1/alerts: %w", err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("/api/v1/alerts: status %q", body.Status)
	}
	var firing []promAlert
	for _, a := range body.Data.Alerts {
		if a.State == "firing" {
			firing = append(firing, a)
		}
	}
	return firing, nil
}
