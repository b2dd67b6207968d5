package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
)

// TestFlagsKeepTheirNames: every flag the worker took before cobra still
// parses, in the double-dash form and in the single-dash form Go's flag
// package accepted, and the environment still gives the defaults.
func TestFlagsKeepTheirNames(t *testing.T) {
	t.Setenv("LIFEBOAT_TASK_QUEUE", "from-env")
	t.Setenv("LIFEBOAT_METRICS_ADDR", ":9999")
	t.Setenv("LIFEBOAT_REGISTER_SEARCH_ATTRIBUTES", "false")
	cmd, s := command(io.Discard)
	if s.cfg.TaskQueue != "from-env" || s.metricsAddr != ":9999" || s.registerSA {
		t.Errorf("environment defaults not taken: %+v", s)
	}
	args := []string{
		"--temporal-address", "t:7233", "-namespace", "ns", "--task-queue", "q", "-control-table=ct", "--table-prefix", "tp",
		"--poll-interval", "2s", "--redis-node", "n1", "-redis-addr", "127.0.0.1:7000", "--redis-start-cmd", "start -x",
		"--redis-stop-cmd", "stop", "--redis-dir", "/d", "--redis-start-timeout", "3m", "-redis-stop-timeout", "4m",
		"--metrics-addr", ":9090", "--register-search-attributes=true",
	}
	if err := cmd.ParseFlags(longFlags(cmd.Flags(), args)); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s %s %s %s %s %s %s %s %s %s %s %s %s %s %v", s.conn.Address, s.conn.Namespace, s.cfg.TaskQueue, s.cfg.ControlTable,
		s.cfg.TablePrefix, s.cfg.PollInterval, s.node.NodeID, s.node.Addr, s.node.StartCmd, s.node.StopCmd, s.node.DataDir,
		s.node.StartTimeout, s.node.StopTimeout, s.metricsAddr, s.registerSA)
	want := "t:7233 ns q ct tp 2s n1 127.0.0.1:7000 start -x stop /d 3m0s 4m0s :9090 true"
	if got != want {
		t.Errorf("parsed\n %s\nwant\n %s", got, want)
	}
	// A value that looks like a single-dash flag is left alone unless it
	// names one.
	if got := longFlags(cmd.Flags(), []string{"-x", "-nope", "-redis-dir", "--", "-task-queue"}); strings.Join(got, " ") != "-x -nope --redis-dir -- -task-queue" {
		t.Errorf("longFlags: %q", got)
	}
}

func TestVersionAndBadFlags(t *testing.T) {
	for _, arg := range []string{"--version", "-v"} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{arg}, &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", arg, code, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "lifeboat worker ") || !strings.HasPrefix(lines[1], "commit: ") ||
			!strings.Contains(lines[2], runtime.Version()) {
			t.Errorf("%s printed %q", arg, out.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, v := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_API_KEY", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_PROFILE", "TEMPORAL_CONFIG_FILE",
		"AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "credentials", "/healthz", "/readyz", "--tls-cert-path", "--redis-node"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("--help does not mention %s", v)
		}
	}
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	for _, args := range [][]string{{"--no-such-flag"}, {"stray"}, {"--poll-interval", "soon"}, {"--temporal-profile", "prod"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != exitInvalid || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line", args, code, errOut.String(), exitInvalid)
		}
	}
}

func TestHealthEndpoints(t *testing.T) {
	m := metrics.New()
	defer m.Close()
	h := &health{}
	h.register(m)
	addr, err := m.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr.String()
	check := func(path string, want int) {
		t.Helper()
		if got := status(t, base+path); got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}
	check("/healthz", 200)
	check("/readyz", 503)
	check("/metrics", 200)
	h.setReady(true)
	check("/readyz", 200)
	h.setReady(false)
	check("/readyz", 503)
	check("/healthz", 200)
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestWorkerAndCLIOverMTLS runs the worker (with flags) and the lifeboat
// CLI (with TEMPORAL_* variables) against a dev server reachable only
// through a TLS proxy that requires client certificates: a backup runs end
// to end. Before that, a client certificate of another CA, none, and a
// wrong server CA are each refused with exit 1 and one line, and nothing
// is started: no workflow, no control table.
func TestWorkerAndCLIOverMTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	ctx := testenv.Context(t, 4*time.Minute)
	e, err := testenv.New(ctx, testenv.Options{Workers: -1})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			e.KeepLogs = true
			t.Logf("testenv: logs kept in %s", e.LogDir)
		}
		_ = e.Close()
	})
	e.UseForCLI(t, "us-east-1")
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml")) // not the developer's own

	ca := testenv.NewTestCA(t, "lifeboat-test")
	proxy, err := testenv.StartTLSProxy(e.TemporalAddress, ca.Issue(t, "temporal", true).TLS, ca.Pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	good := ca.Issue(t, "lifeboat", false)
	other := testenv.NewTestCA(t, "other")
	stranger := other.Issue(t, "stranger", false)

	lifeboatArgs := []string{"--task-queue", e.Config.TaskQueue, "--control-table", e.Config.ControlTable, "--table-prefix", e.Config.TablePrefix}
	env, ds := e.ID("tls"), "orders"
	loc := e.NewBackupLocation(t)
	backupArgs := slices.Concat([]string{"backup-dataset", "--env-id", env, "--dataset-id", ds, "--backup-location", loc, "--wait"}, lifeboatArgs)
	workerArgs := slices.Concat([]string{"--temporal-address", proxy.Addr, "--poll-interval", "200ms"}, lifeboatArgs)

	refusals := []struct {
		name string
		tls  []string
		want string
	}{
		{"client certificate of another CA", []string{"--tls-cert-path", stranger.CertPath, "--tls-key-path", stranger.KeyPath, "--tls-ca-path", ca.CertPath},
			"TLS: the server refused the client certificate"},
		{"no client certificate", []string{"--tls-ca-path", ca.CertPath}, "TLS: the server requires a client certificate"},
		{"server CA not trusted", []string{"--tls-cert-path", good.CertPath, "--tls-key-path", good.KeyPath, "--tls-ca-path", other.CertPath},
			"TLS: the server's certificate is not signed by a trusted CA"},
	}
	for _, r := range refusals {
		var out, errOut bytes.Buffer
		code := cli.Main(ctx, slices.Concat(backupArgs, []string{"--temporal-address", proxy.Addr}, r.tls), &out, &errOut)
		requireOneLine(t, "lifeboat: "+r.name, code, errOut.String(), "lifeboat: connect to Temporal at "+proxy.Addr+": "+r.want)
		out.Reset()
		errOut.Reset()
		code = run(ctx, slices.Concat(workerArgs, r.tls), &out, &errOut)
		requireOneLine(t, "worker: "+r.name, code, errOut.String(), "lifeboat worker: connect to Temporal at "+proxy.Addr+": "+r.want)
	}
	if n := workflowCount(ctx, t, e); n != 0 {
		t.Errorf("%d workflows exist after the refusals, want none", n)
	}
	if e.TableExists(t, e.Config.ControlTable) {
		t.Errorf("a refused worker created the control table")
	}

	// A worker with a good certificate, its health on the metrics port.
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	healthURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	var wlog syncBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(wctx, slices.Concat(workerArgs, []string{"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]),
			"--tls-cert-path", good.CertPath, "--tls-key-path", good.KeyPath, "--tls-ca-path", ca.CertPath}), io.Discard, &wlog)
	}()
	defer func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", wlog.String())
		}
	}()
	waitReady(ctx, t, healthURL+"/readyz", exited)
	if got := status(t, healthURL+"/healthz"); got != 200 {
		t.Errorf("/healthz: %d", got)
	}

	// The CLI through TLS from the environment alone.
	t.Setenv("TEMPORAL_ADDRESS", proxy.Addr)
	t.Setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", good.CertPath)
	t.Setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", good.KeyPath)
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", ca.CertPath)
	e.CreateEnvDataset(t, env, ds)
	e.Load(t, env, ds, "item", 20)
	var out, errOut bytes.Buffer
	if code := cli.Main(ctx, backupArgs, &out, &errOut); code != 0 {
		t.Fatalf("backup over mTLS: exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), env+"/"+ds+": 20 items") {
		t.Errorf("backup output: %s", out.String())
	}
	if n := workflowCount(ctx, t, e); n != 1 {
		t.Errorf("%d workflows, want the one backup", n)
	}

	stopWorker()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("worker exited %d on stop", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker still running 30s after its context ended")
	}
	if !strings.Contains(wlog.String(), `"tls":true`) {
		t.Errorf("the worker's start-up line does not say it uses TLS")
	}
}

func requireOneLine(t *testing.T, what string, code int, stderr, prefix string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(l, "{") { // the worker's JSON log lines
			lines = append(lines, l)
		}
	}
	if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) {
		t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line starting %q", what, code, stderr, prefix)
	}
}

func workflowCount(ctx context.Context, t *testing.T, e *testenv.Env) int {
	t.Helper()
	resp, err := e.Temporal.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: e.Config.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Executions)
}

func waitReady(ctx context.Context, t *testing.T, url string, exited <-chan int) {
	t.Helper()
	for {
		if resp, err := http.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case code := <-exited:
			t.Fatalf("worker exited %d before it was ready", code)
		case <-ctx.Done():
			t.Fatalf("worker not ready: %v", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer the worker's goroutine may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
