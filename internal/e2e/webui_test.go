//go:build e2e

// Package e2e holds the browser check that `make e2e` runs against the stack
// `make up` started: it makes one finished dataset backup (and one restore,
// which the filter must leave out) with the lifeboat CLI, opens the Temporal
// Web UI in headless Chromium filtered by LifeboatOperation="backup", asserts
// the backup is listed and the restore is not, checks the backup's page shows
// its summary, and saves screenshots of both pages.
//
// Settings (environment, defaults for `make up`):
//
//	TEMPORAL_ADDRESS    127.0.0.1:7233
//	LIFEBOAT_UI_URL     http://127.0.0.1:8233
//	AWS_ENDPOINT_URL    http://127.0.0.1:5000 (moto; AWS_REGION and credentials default to us-east-1, test/test)
//	LIFEBOAT_BIN        <repo>/bin/lifeboat
//	CHROMIUM_BIN        chromium from PATH (Debian's package)
//	LIFEBOAT_E2E_OUT    <repo>/out/e2e (where the screenshots go; git-ignored, so a run
//	                    leaves the tree clean; `make e2e UPDATE_IMAGES=1` sets it to
//	                    <repo>/docs/images to refresh README's pictures on purpose)
package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/chromedp/chromedp"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	tclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

const namespace = "default"

// The size of the pages in the screenshots: wide enough for the list's
// columns, as high as the list (newest first) and the detail tab need.
const viewportWidth, listHeight, detailHeight = 1840, 400, 560

// backupQuery is the filter the check opens the Web UI with.
var backupQuery = fmt.Sprintf("%s=%q", workflows.SAOperation.GetName(), "backup")

type settings struct {
	temporal, ui, moto, lifeboat, chromium, out string
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func load(t *testing.T) settings {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	s := settings{
		temporal: env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		ui:       strings.TrimRight(env("LIFEBOAT_UI_URL", "http://127.0.0.1:8233"), "/"),
		moto:     env("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
		lifeboat: env("LIFEBOAT_BIN", filepath.Join(root, "bin", "lifeboat")),
		chromium: os.Getenv("CHROMIUM_BIN"),
		out:      env("LIFEBOAT_E2E_OUT", filepath.Join(root, "out", "e2e")),
	}
	if s.chromium == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				s.chromium = p
				break
			}
		}
	}
	if s.chromium == "" {
		t.Fatal("no Chromium found: run scripts/install-chromium.sh (Debian package chromium) or set CHROMIUM_BIN")
	}
	if _, err := os.Stat(s.lifeboat); err != nil {
		t.Fatalf("lifeboat CLI %s: %v (run make build)", s.lifeboat, err)
	}
	// The CLI and the AWS SDK read these.
	t.Setenv("TEMPORAL_ADDRESS", s.temporal)
	t.Setenv("AWS_ENDPOINT_URL", s.moto)
	t.Setenv("AWS_REGION", env("AWS_REGION", "us-east-1"))
	t.Setenv("AWS_ACCESS_KEY_ID", env("AWS_ACCESS_KEY_ID", "test"))
	t.Setenv("AWS_SECRET_ACCESS_KEY", env("AWS_SECRET_ACCESS_KEY", "test"))
	return s
}

func TestWebUIListsFinishedBackup(t *testing.T) {
	s := load(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	tc, err := tclient.DialContext(ctx, tclient.Options{HostPort: s.temporal, Namespace: namespace})
	if err != nil {
		t.Fatalf("Temporal at %s: %v (is the stack up? make up)", s.temporal, err)
	}
	defer tc.Close()
	requireSearchAttributes(ctx, t, tc)

	// One finished backup and one finished restore, with the CLI as a user would.
	run := time.Now().UTC().Format("0102-150405")
	envID, dataset := "e2e-"+run, "orders"
	bucket := "lifeboat-e2e"
	location := "s3://" + bucket + "/backups"
	createBucket(ctx, t, bucket)
	cli(ctx, t, s, "env", "create", "--env-id", envID)
	cli(ctx, t, s, "dataset", "create", "--env-id", envID, "--dataset-id", dataset)
	cli(ctx, t, s, "data", "load", "--env-id", envID, "--dataset-id", dataset, "--count", "200")
	backupID := firstLine(cli(ctx, t, s, "backup-dataset", "--env-id", envID, "--dataset-id", dataset, "--backup-location", location, "--wait"))
	restoreID := firstLine(cli(ctx, t, s, "restore-dataset", "--env-id", envID, "--dataset-id", dataset, "--backup-location", location, "--wait"))
	t.Logf("backup %s, restore %s", backupID, restoreID)

	// What the UI must show, read from the server: the run finished, tagged
	// and with its summary; and visibility already lists it under the filter
	// (the UI reads the same list).
	desc, err := tc.DescribeWorkflowExecution(ctx, backupID, "")
	if err != nil {
		t.Fatalf("describe %s: %v", backupID, err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("backup %s is %s, want Completed", backupID, st)
	}
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	var summary string
	if p := desc.GetExecutionConfig().GetUserMetadata().GetSummary(); p != nil {
		if err := converter.GetDefaultDataConverter().FromPayload(p, &summary); err != nil {
			t.Fatalf("backup %s summary: %v", backupID, err)
		}
	}
	if want := fmt.Sprintf("backup %s/%s to %s", envID, dataset, location); summary != want {
		t.Fatalf("backup %s summary %q, want %q", backupID, summary, want)
	}
	waitListed(ctx, t, tc, fmt.Sprintf("%s AND WorkflowId=%q", backupQuery, backupID))
	waitListed(ctx, t, tc, fmt.Sprintf("WorkflowId=%q", restoreID))

	// The browser.
	bctx, stop := browser(ctx, t, s.chromium)
	defer stop()
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		t.Fatal(err)
	}

	listURL := fmt.Sprintf("%s/namespaces/%s/workflows?query=%s", s.ui, namespace, url.QueryEscape(backupQuery))
	// Show the operation and datasets as columns: the UI keeps its column
	// choice in localStorage (key of the UI's configurable-table-columns
	// store); without it the default columns still list the run.
	columns := fmt.Sprintf(`localStorage.setItem("namespace-workflow-table-columns", JSON.stringify({%q: [
		{label: "Status", pinned: true}, {label: "Workflow ID", pinned: true}, {label: %q, pinned: false},
		{label: %q, pinned: false}, {label: "Type", pinned: false}, {label: "End", pinned: false}]}))`,
		namespace, workflows.SAOperation.GetName(), workflows.SADatasets.GetName())
	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(viewportWidth, listHeight),
		chromedp.Navigate(s.ui+"/namespaces/"+namespace+"/workflows"),
		chromedp.Evaluate[chromedp.Void](columns),
		chromedp.Navigate(listURL),
	); err != nil {
		t.Fatalf("open %s: %v", listURL, err)
	}
	// The row of the backup: a table row holding its id, rendered Completed.
	var row string
	rowJS := fmt.Sprintf(`(() => {
		const r = [...document.querySelectorAll("tr, [role=row]")].find(r => r.innerText.includes(%q));
		return r ? r.innerText : "";
	})()`, backupID)
	if err := waitJS(bctx, 30*time.Second, rowJS, func(v string) bool { return strings.Contains(v, "Completed") }, &row); err != nil {
		failPage(t, bctx, "webui-backups", "backup %s not listed as Completed at %s: %v", backupID, listURL, err)
	}
	t.Logf("listed: %s", oneLine(row))
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, restoreID) {
		failPage(t, bctx, "webui-backups", "restore %s is listed under %s: the filter is not applied", restoreID, backupQuery)
	}
	// The filter is shown as applied: the UI renders the query as a chip
	// `LifeboatOperation = "backup"`.
	chip := fmt.Sprintf("%s = %q", workflows.SAOperation.GetName(), "backup")
	if !strings.Contains(oneLine(text), chip) {
		failPage(t, bctx, "webui-backups", "the page does not show the filter %s", chip)
	}
	screenshot(t, bctx, filepath.Join(s.out, "webui-backups.png"))

	// The backup's own page, on its User Metadata tab: status, the summary
	// set at start and the current details the workflow set last (the UI
	// asks a worker for them).
	detailURL := fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/user-metadata", s.ui, namespace, url.PathEscape(backupID), runID)
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(viewportWidth, detailHeight), chromedp.Navigate(detailURL)); err != nil {
		t.Fatalf("open %s: %v", detailURL, err)
	}
	// The UI renders summary and details as Markdown in same-origin iframes.
	const details = "backup: done"
	pageText := `[document.body.innerText, ...[...document.querySelectorAll("iframe")].map(f => f.contentDocument && f.contentDocument.body ? f.contentDocument.body.innerText : "")].join("\n")`
	if err := waitJS(bctx, 30*time.Second, pageText, func(v string) bool {
		return strings.Contains(v, "Completed") && strings.Contains(v, summary) && strings.Contains(v, details)
	}, &text); err != nil {
		failPage(t, bctx, "webui-backup-detail", "backup page %s does not show Completed, the summary %q and the details %q: %v", detailURL, summary, details, err)
	}
	screenshot(t, bctx, filepath.Join(s.out, "webui-backup-detail.png"))
}

// requireSearchAttributes fails unless `make up` registered the operation
// search attribute: without it the UI's filter is refused.
func requireSearchAttributes(ctx context.Context, t *testing.T, tc tclient.Client) {
	t.Helper()
	resp, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		t.Fatalf("list search attributes: %v", err)
	}
	if _, ok := resp.GetCustomAttributes()[workflows.SAOperation.GetName()]; !ok {
		t.Fatalf("search attribute %s is not registered on namespace %s (make up registers it)", workflows.SAOperation.GetName(), namespace)
	}
}

func createBucket(ctx context.Context, t *testing.T, bucket string) {
	t.Helper()
	c, err := awsx.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil &&
		!strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		t.Fatalf("create bucket %s on %s: %v (is moto up? make up)", bucket, os.Getenv("AWS_ENDPOINT_URL"), err)
	}
	if _, err := c.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatalf("bucket %s versioning: %v", bucket, err)
	}
}

// cli runs bin/lifeboat and returns its standard output.
func cli(ctx context.Context, t *testing.T, s settings, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, s.lifeboat, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lifeboat %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// waitListed waits until Temporal's visibility store returns a run for query.
func waitListed(ctx context.Context, t *testing.T, tc tclient.Client, query string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		if err == nil && len(resp.GetExecutions()) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("visibility does not list %s (err %v)", query, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// browser starts headless Chromium (the system binary) for the test.
func browser(ctx context.Context, t *testing.T, chromium string) (context.Context, func()) {
	t.Helper()
	// chromedp's defaults (headless, no first run, no background networking,
	// sync, extensions or default apps, /tmp instead of /dev/shm), plus what a
	// container without a GPU or user namespaces and without internet needs.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewportWidth, detailHeight),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start %s: %v", chromium, err)
	}
	return bctx, func() { cancelBrowser(); cancelAlloc() }
}

// waitJS evaluates expr (a string-valued expression) until ok accepts it.
func waitJS(ctx context.Context, timeout time.Duration, expr string, ok func(string) bool, out *string) error {
	deadline := time.Now().Add(timeout)
	for {
		last, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err == nil && ok(last) {
			*out = last
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("not within %s (last value %.300q)", timeout, oneLine(last))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	// Let fonts and late layout settle before the picture. The UI is an app
	// page that scrolls inside its panels, so the viewport (set with
	// EmulateViewport) is the picture; a "full page" capture would follow the
	// window size instead.
	if err := chromedp.Do(ctx, chromedp.Sleep(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d KiB)", path, len(png)/1024)
}

// failPage fails the test with the page's URL and text, and keeps a
// screenshot of what the browser showed in $TMPDIR (lifeboat-e2e-<name>-failed.png).
func failPage(t *testing.T, ctx context.Context, name, format string, args ...any) {
	t.Helper()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	shot := filepath.Join(os.TempDir(), "lifeboat-e2e-"+name+"-failed.png")
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil && os.WriteFile(shot, png, 0o644) == nil {
		t.Logf("failure screenshot: %s", shot)
	}
	t.Fatalf("%s\npage %s shows:\n%s", fmt.Sprintf(format, args...), loc, text)
}
