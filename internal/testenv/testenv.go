// Package testenv runs Lifeboat end to end for tests: a real Temporal dev
// server (the Temporal CLI), moto server for DynamoDB and S3 (launched
// through scripts/moto_server.py, which serializes requests), and two
// identical in-process workers polling one task queue.
//
// Every Env has its own control table, dataset table prefix and task queue,
// so tests sharing one Env stay apart by using their own environment ids
// (see Env.ID) and buckets (see Env.NewBackupLocation).
//
//	func TestSomething(t *testing.T) {
//		e := testenv.Start(t) // or one Env per package, from TestMain
//		e.CreateEnvDataset(t, "env1", "orders")
//		...
//	}
//
// The Temporal CLI is found at $TEMPORAL_BIN, else $(go env GOPATH)/bin/temporal
// (`make tools` installs it); moto must be importable by python3 (or by
// $LIFEBOAT_PYTHON).
//
// With LIFEBOAT_TEST_TEMPORAL_ADDRESS set (host:port; namespace
// LIFEBOAT_TEST_TEMPORAL_NAMESPACE, default "default"), every Env uses that
// Temporal server instead of starting a dev server: `make test-cluster` runs
// the integration suites so against a Temporal cluster on PostgreSQL
// (scripts/cluster.sh). Envs, in one test process or many, still keep apart
// by their own task queue, control table and table prefix. The CLI tests
// pass the address but not the namespace: with another namespace than
// "default", set TEMPORAL_NAMESPACE as well.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.temporal.io/api/workflowservice/v1"
	tclient "go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/worker/app"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Options tune an Env. The zero value is what tests normally want.
type Options struct {
	// Workers is the number of in-process workers on the task queue
	// (default 2; -1 for none, when the test runs worker processes).
	Workers int
	// PollInterval is how often exports and imports are polled (default 200ms).
	PollInterval time.Duration
	// StartTimeout bounds the start of the servers and workers (default 2m).
	StartTimeout time.Duration
	// Emulator sets up the AWS emulator (profile, job times, faults; see
	// EmulatorOptions and docs/emulator.md).
	Emulator EmulatorOptions
	// Credentials, when set, is called once the emulator runs and before
	// any client of it is built: it returns the credentials of the Env's
	// own clients (Env.AWS) and of its workers, nil for the static test
	// credentials. A test of IAM policies creates its users there, with
	// the emulator's clients, before it switches IAM enforcement on
	// (Emulator.EnforceIAM).
	Credentials func(ctx context.Context, emu *Emulator) (env, workers aws.CredentialsProvider, err error)
}

// Environment variables that point every Env at an existing Temporal server
// (see the package documentation).
const (
	ExternalAddressEnv   = "LIFEBOAT_TEST_TEMPORAL_ADDRESS"
	ExternalNamespaceEnv = "LIFEBOAT_TEST_TEMPORAL_NAMESPACE"
)

// Env is a running Temporal dev server (or an external Temporal server's
// address), moto server and Lifeboat workers.
type Env struct {
	// Config is what the workers run with: unique control table, table
	// prefix and task queue.
	Config config.Config
	// AWS are clients for moto (static test credentials, us-east-1).
	AWS *awsx.Clients
	// Temporal is a client of the Temporal server (the starter's side).
	Temporal tclient.Client
	// TemporalAddress is the Temporal server's host:port.
	TemporalAddress string
	// External is true when the Env uses an existing Temporal server
	// (LIFEBOAT_TEST_TEMPORAL_ADDRESS) rather than its own dev server.
	External bool
	// MetricsURLs are the workers' Prometheus endpoints, one per worker.
	MetricsURLs []string
	// MotoURL is the moto server's endpoint.
	MotoURL string
	// RepoRoot is the directory holding go.mod.
	RepoRoot string
	// LogDir holds temporal.log, moto.log and sdk.log (the workers' and
	// clients' Temporal SDK logs). It is removed by Close unless KeepLogs.
	LogDir   string
	KeepLogs bool

	dev           *testsuite.DevServer
	emu           *Emulator
	workers       []worker.Worker
	metrics       []*metrics.Metrics
	workerClients []tclient.Client
	logFiles      []*os.File
	reg           *registry.Registry
	gate          *gate.Gate
	lb            *client.Client
	closeOnce     sync.Once
}

// Start starts an Env for one test (or benchmark) and stops it in Cleanup.
// Its logs are kept, and their folder reported, if the test failed.
func Start(tb testing.TB) *Env {
	tb.Helper()
	e, err := New(context.Background(), Options{})
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			e.KeepLogs = true
			tb.Logf("testenv: logs kept in %s", e.LogDir)
		}
		if err := e.Close(); err != nil {
			tb.Logf("testenv: close: %v", err)
		}
	})
	return e
}

// New starts the dev server, moto and the workers. On error everything
// already started is stopped again. Call Close when done.
func New(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	externalAddr := os.Getenv(ExternalAddressEnv)
	namespace := config.DefaultNamespace
	var temporalBin string
	if externalAddr != "" {
		if ns := os.Getenv(ExternalNamespaceEnv); ns != "" {
			namespace = ns
		}
	} else if temporalBin, err = TemporalBin(); err != nil {
		return nil, err
	}
	logDir, err := os.MkdirTemp("", "lifeboat-testenv-")
	if err != nil {
		return nil, fmt.Errorf("create log folder: %w", err)
	}
	prefix := "lbtest-" + randomHex(4)
	e := &Env{RepoRoot: root, LogDir: logDir}
	defer func() {
		if err != nil {
			e.KeepLogs = true
			_ = e.Close()
			err = fmt.Errorf("%w (logs in %s)", err, logDir)
		}
	}()

	sdkLog, err := e.logFile("sdk.log")
	if err != nil {
		return nil, err
	}
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(sdkLog, &slog.HandlerOptions{Level: slog.LevelInfo})))

	// moto first, up and bound before the dev server picks its own ports.
	if err := e.startMoto(ctx, opts.Emulator); err != nil {
		return nil, err
	}

	if externalAddr != "" {
		if err := e.connectExternal(ctx, externalAddr, namespace, logger, prefix); err != nil {
			return nil, err
		}
	} else {
		if err := e.startDevServer(ctx, temporalBin, logger, prefix); err != nil {
			return nil, err
		}
		e.Temporal = e.dev.Client()
		if err := waitNamespace(ctx, e.Temporal, namespace); err != nil {
			return nil, err
		}
	}

	awsCfg, workerCfg := awsConfig(e.MotoURL), awsConfig(e.MotoURL)
	if opts.Credentials != nil {
		envCreds, workerCreds, err := opts.Credentials(ctx, e.emu)
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		if envCreds != nil {
			awsCfg.Credentials = envCreds
		}
		if workerCreds != nil {
			workerCfg.Credentials = workerCreds
		}
	}
	e.AWS = awsx.New(awsCfg)
	e.Config = config.Config{
		TemporalAddress: e.TemporalAddress,
		Namespace:       namespace,
		TaskQueue:       prefix,
		ControlTable:    prefix + "-control",
		TablePrefix:     prefix,
		PollInterval:    opts.PollInterval,
		// The restore tests' check commands are the tests' own.
		AllowCheckCommands: true,
		// EBS copies into another account assume this role there
		// (CreateBackupRole makes it in the account a test copies into).
		EBSCopyRole:       "arn:aws:iam::{account}:role/" + EBSCopyRoleName,
		EBSCopyExternalID: EBSCopyExternalID,
	}
	e.reg = app.NewRegistry(e.Config, e.AWS)
	e.gate = gate.New(e.AWS.DynamoDB, gate.Options{ControlTable: e.Config.ControlTable, TablePrefix: e.Config.TablePrefix})
	e.lb = client.New(e.Temporal, e.Config.TaskQueue)
	e.lb.PollInterval = 100 * time.Millisecond

	// Identical workers, each with its own Temporal connection and AWS
	// clients, as separate processes would have.
	for i := 1; i <= opts.Workers; i++ {
		m := metrics.New()
		e.metrics = append(e.metrics, m)
		addr, err := m.Serve("127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		e.MetricsURLs = append(e.MetricsURLs, fmt.Sprintf("http://%s/metrics", addr))
		c, err := tclient.Dial(tclient.Options{
			HostPort: e.TemporalAddress, Namespace: namespace, Logger: logger,
			Identity:       fmt.Sprintf("testenv-worker-%d@%s", i, prefix),
			MetricsHandler: m.Handler(),
		})
		if err != nil {
			return nil, fmt.Errorf("connect worker %d: %w", i, err)
		}
		e.workerClients = append(e.workerClients, c)
		w, err := app.New(ctx, c, e.Config, awsx.New(workerCfg), worker.Options{})
		if err != nil {
			return nil, fmt.Errorf("build worker %d: %w", i, err)
		}
		if err := w.Start(); err != nil {
			return nil, fmt.Errorf("start worker %d: %w", i, err)
		}
		e.workers = append(e.workers, w)
	}
	return e, nil
}

// Close stops the workers, the dev server and moto. It is safe to call twice.
func (e *Env) Close() error {
	var errs []error
	e.closeOnce.Do(func() {
		for _, w := range e.workers {
			w.Stop()
		}
		for _, c := range e.workerClients {
			c.Close()
		}
		for _, m := range e.metrics {
			_ = m.Close()
		}
		if e.Temporal != nil {
			e.Temporal.Close()
		}
		if e.dev != nil {
			done := make(chan error, 1)
			go func() { done <- e.dev.Stop() }()
			select {
			case err := <-done:
				if err != nil && !isSignalExit(err) {
					errs = append(errs, fmt.Errorf("stop Temporal dev server: %w", err))
				}
			case <-time.After(30 * time.Second):
				errs = append(errs, errors.New("stop Temporal dev server: still running after 30s"))
			}
		}
		if e.emu != nil {
			_ = e.emu.Close()
		}
		for _, f := range e.logFiles {
			_ = f.Close()
		}
		if !e.KeepLogs && os.Getenv("LIFEBOAT_TESTENV_KEEP_LOGS") == "" {
			_ = os.RemoveAll(e.LogDir)
		}
	})
	return errors.Join(errs...)
}

func isSignalExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

// Registry is the control table the workers use.
func (e *Env) Registry() *registry.Registry { return e.reg }

// Gate is the write gate over the Env's control table.
func (e *Env) Gate() *gate.Gate { return e.gate }

// Client is the Lifeboat Go client on the Env's task queue.
func (e *Env) Client() *client.Client { return e.lb }

func (e *Env) logFile(name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(e.LogDir, name))
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", name, err)
	}
	e.logFiles = append(e.logFiles, f)
	return f, nil
}

// connectExternal connects to the Temporal server at addr instead of
// starting one. It registers Lifeboat's search attributes in the namespace
// if they are missing, as the dev server's flags do (scripts/cluster.sh has
// registered them already; an Env without workers needs them too).
func (e *Env) connectExternal(ctx context.Context, addr, namespace string, logger tlog.Logger, prefix string) error {
	c, err := tclient.DialContext(ctx, tclient.Options{
		HostPort: addr, Namespace: namespace, Logger: logger,
		Identity: "testenv-starter@" + prefix,
	})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s (%s): %w", addr, ExternalAddressEnv, err)
	}
	e.Temporal, e.TemporalAddress, e.External = c, addr, true
	if err := waitNamespace(ctx, c, namespace); err != nil {
		return fmt.Errorf("external Temporal %s: %w", addr, err)
	}
	if err := app.EnsureSearchAttributes(ctx, c, namespace); err != nil {
		return fmt.Errorf("external Temporal %s: %w", addr, err)
	}
	return nil
}

// startDevServer starts the Temporal dev server on free ports. The CLI
// picks its own free ports for internal services too, and may pick the
// frontend port we chose before the frontend binds it: such a start fails
// fast ("address already in use") and is retried on new ports.
func (e *Env) startDevServer(ctx context.Context, bin string, logger tlog.Logger, prefix string) error {
	var errs []error
	for attempt := 1; attempt <= 3; attempt++ {
		ports, err := FreePorts(3)
		if err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
		name := "temporal.log"
		if attempt > 1 {
			name = fmt.Sprintf("temporal-%d.log", attempt)
		}
		out, err := e.logFile(name)
		if err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, 45*time.Second)
		stopWatch := watchLog(out.Name(), "failed starting server", cancel)
		dev, err := testsuite.StartDevServer(actx, testsuite.DevServerOptions{
			ExistingPath: bin,
			ClientOptions: &tclient.Options{
				HostPort: addr, Namespace: config.DefaultNamespace, Logger: logger,
				Identity: "testenv-starter@" + prefix,
			},
			LogLevel:  "warn",
			EnableUI:  false, // --headless: the UI port (port+1000) may be taken
			ExtraArgs: append([]string{"--http-port", fmt.Sprint(ports[1]), "--metrics-port", fmt.Sprint(ports[2])}, searchAttributeArgs()...),
			Stdout:    out,
			Stderr:    out,
		})
		stopWatch()
		cancel()
		if err == nil {
			e.dev, e.TemporalAddress = dev, addr
			return nil
		}
		errs = append(errs, fmt.Errorf("attempt %d on %s: %w (see %s)", attempt, addr, err, out.Name()))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("start Temporal dev server (%s): %w", bin, errors.Join(errs...))
}

// searchAttributeArgs registers Lifeboat's search attributes on the dev
// server as `make up` does.
func searchAttributeArgs() []string {
	var args []string
	for _, name := range slices.Sorted(maps.Keys(workflows.SearchAttributes)) {
		typ := strings.TrimPrefix(workflows.SearchAttributes[name].String(), "INDEXED_VALUE_TYPE_")
		switch typ {
		case "KEYWORD":
			typ = "Keyword"
		case "KEYWORD_LIST":
			typ = "KeywordList"
		}
		args = append(args, "--search-attribute", name+"="+typ)
	}
	return args
}

// watchLog calls onMatch once the file contains marker. The returned
// function stops watching.
func watchLog(path, marker string, onMatch func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), marker) {
				onMatch()
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// startMoto launches scripts/moto_server.py (see launchEmulator).
func (e *Env) startMoto(ctx context.Context, opts EmulatorOptions) error {
	m, err := launchEmulator(ctx, e.RepoRoot, e.logFile, opts)
	if err != nil {
		return err
	}
	e.emu, e.MotoURL = m, m.URL
	return nil
}

// waitHTTP waits until url answers HTTP at all, or exited closes.
func waitHTTP(ctx context.Context, url string, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before answering")
		case <-ctx.Done():
			return fmt.Errorf("no answer: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitNamespace waits until the namespace answers: the dev server accepts
// connections slightly before its namespaces are ready.
func waitNamespace(ctx context.Context, c tclient.Client, ns string) error {
	for {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s not ready: %w", ns, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// RepoRoot finds the module root: the nearest directory holding go.mod,
// from the working directory (a package directory under `go test`) up, or
// else from this source file.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("cannot find the repository root (no go.mod above the working directory)")
}

// TemporalBin is the Temporal CLI to run the dev server with: $TEMPORAL_BIN,
// else $(go env GOPATH)/bin/temporal.
func TemporalBin() (string, error) {
	bin := os.Getenv("TEMPORAL_BIN")
	if bin == "" {
		bin = filepath.Join(goPath(), "bin", "temporal")
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return "", fmt.Errorf("temporal CLI not found at %s: run `make tools` to install it, or set TEMPORAL_BIN", bin)
	}
	return bin, nil
}

func goPath() string {
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		if p := strings.TrimSpace(strings.Split(string(out), string(os.PathListSeparator))[0]); p != "" {
			return p
		}
	}
	return strings.Split(build.Default.GOPATH, string(os.PathListSeparator))[0]
}

// FreePorts asks the kernel for n distinct free TCP ports on 127.0.0.1.
// They are free when it returns, not reserved.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close() // all held until every port is picked: no repeats
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ID returns a fresh identifier "<prefix>-<random>", valid as an
// environment, dataset or store id, for a test to keep to itself.
func (e *Env) ID(prefix string) string { return prefix + "-" + randomHex(4) }
