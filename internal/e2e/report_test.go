//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// reportHeight is the height of the report page's screenshot.
const reportWidth, reportHeight = 1500, 640

// TestReportPage makes an environment whose datasets cover each coverage
// colour, writes `lifeboat report --output html` to report.html, opens it
// in headless Chromium and checks each row's colour and status as rendered,
// and that the page loaded nothing from elsewhere; it saves report.png
// beside the other screenshots.
func TestReportPage(t *testing.T) {
	s := load(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := time.Now().UTC().Format("0102-150405")
	env := "shop-" + run
	bucket := "lifeboat-e2e"
	location := "s3://" + bucket + "/report"
	createBucket(ctx, t, bucket)
	cli(ctx, t, s, "env", "create", "--env-id", env)
	// orders: backed up, verified and restore-tested, 6h RPO: green.
	// payments: backed up, 1h RPO, never proven: amber.
	// users: backed up, but its 1s RPO has passed: late, red.
	// carts: 1h RPO, never backed up: none, red.
	for ds, rpo := range map[string]string{"orders": "6h", "payments": "1h", "users": "1s", "carts": "1h"} {
		cli(ctx, t, s, "dataset", "create", "--env-id", env, "--dataset-id", ds, "--rpo", rpo)
	}
	for _, ds := range []string{"orders", "payments", "users"} {
		cli(ctx, t, s, "data", "load", "--env-id", env, "--dataset-id", ds, "--count", "200")
		cli(ctx, t, s, "backup-dataset", "--env-id", env, "--dataset-id", ds, "--backup-location", location, "--wait")
	}
	cli(ctx, t, s, "backup", "verify", "--env-id", env, "--dataset-id", "orders", "--backup-location", location)
	restoreTest(ctx, t, s, env, "orders", location)

	// users and carts are outside their targets: exit 1, the page on stdout.
	cmd := exec.CommandContext(ctx, s.lifeboat, "report", "--env-id", env, "--backup-location", location, "--output", "html")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "2 of 4 resources outside their RPO target") {
		t.Fatalf("lifeboat report: %v, stderr %q; want exit 1 naming users and carts", err, stderr.String())
	}
	html := string(out)
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Fatalf("report.html references an http(s) URL")
	}
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}

	bctx, stop := browser(ctx, t, s.chromium)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(reportWidth, reportHeight), chromedp.Navigate("file://"+page)); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	// Each row as the browser laid it out: resource, coverage, status, and
	// the colour the coverage dot is painted in.
	var rows string
	rowsJS := `[...document.querySelectorAll("tbody tr")].map(r => [r.querySelector(".res").innerText, r.dataset.coverage, r.dataset.status,
		getComputedStyle(r.querySelector(".dot")).backgroundColor].join(" ")).join("\n")`
	if err := waitJS(bctx, 10*time.Second, rowsJS, func(v string) bool { return strings.Count(v, "\n") == 3 }, &rows); err != nil {
		failPage(t, bctx, "report", "report rows: %v", err)
	}
	t.Logf("rows:\n%s", rows)
	for ds, want := range map[string]string{
		"orders": "green ok rgb(26, 127, 55)", "payments": "amber ok rgb(183, 121, 31)",
		"users": "red late rgb(207, 34, 46)", "carts": "red none rgb(207, 34, 46)",
	} {
		if !strings.Contains(rows, fmt.Sprintf("%s/%s %s", env, ds, want)) {
			failPage(t, bctx, "report", "row %s/%s is not rendered %q:\n%s", env, ds, want, rows)
		}
	}
	// Nothing was fetched: every resource the page loaded is the page itself.
	loaded, err := chromedp.Run(bctx, chromedp.Evaluate[string](`performance.getEntriesByType("resource").map(e => e.name).join(" ")`))
	if err != nil {
		t.Fatal(err)
	}
	if loaded != "" {
		t.Errorf("the page loaded %s", loaded)
	}
	screenshot(t, bctx, filepath.Join(s.out, "report.png"))
}

// restoreTest restores a dataset's newest backup into a new store, timing
// it, and records the result beside the backup as a restore test does
// (restore-test.json), so the report has an RTO to show.
func restoreTest(ctx context.Context, t *testing.T, s settings, env, ds, location string) {
	t.Helper()
	start := time.Now()
	wf := firstLine(cli(ctx, t, s, "restore-dataset", "--env-id", env, "--dataset-id", ds, "--backup-location", location, "--wait"))
	rto := time.Since(start)
	c, err := awsx.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := backupstore.ParseLocation(location)
	if err != nil {
		t.Fatal(err)
	}
	found, err := backupstore.ListBackups(ctx, c.S3, loc, env, ds)
	if err != nil || len(found.Backups) == 0 {
		t.Fatalf("backups of %s/%s: %v", env, ds, err)
	}
	b := found.Backups[len(found.Backups)-1]
	rec := &backupstore.RestoreTest{At: time.Now().UTC(), Outcome: backupstore.VerifiedOK, RTOSeconds: rto.Seconds(), Target: "a new store of " + env,
		Checked: "restored by lifeboat restore-dataset", WorkflowID: wf, BackupID: b.ID}
	if err := backupstore.WriteRestoreTest(ctx, c.S3, loc.Bucket, b.Folder, rec); err != nil {
		t.Fatal(err)
	}
}
