package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// EmulatorOptions are the AWS emulator's settings: scripts/moto_server.py's
// flags (docs/emulator.md). For every number, 0 means the default and a
// negative value means 0 (the behaviour off):
//
//	EmulatorOptions{JobSeconds: 2, EC2SettleSeconds: -1} // 2 s jobs, no NotFound window
//
// Defaults are the profile's (aws: AWS's timings, fast: everything at once),
// except JobSeconds in the aws profile: 1 s here (10 s in the launcher), so
// the integration suites stay quick; a test of job durations sets it.
type EmulatorOptions struct {
	// Profile is "aws" or "fast" (default $EMULATOR_PROFILE, else "aws").
	Profile string
	// JobSeconds is the least time an export or import stays IN_PROGRESS.
	JobSeconds float64
	// JobItemMicros is added per exported or imported item, in µs.
	JobItemMicros float64
	// PITRUnavailableSeconds: UpdateContinuousBackups is refused this long
	// after a table is created or imported.
	PITRUnavailableSeconds float64
	// EC2SettleSeconds: new snapshots and volumes are NotFound by id this long.
	EC2SettleSeconds float64
	// SnapshotPendingSeconds: new snapshots and copies stay pending this long.
	SnapshotPendingSeconds float64
	// FaultRate is the share of AWS requests that fail (0..1), FaultSeed
	// seeds the choice, FaultKinds restricts it ("throttle", "error", "lost").
	FaultRate  float64
	FaultSeed  int64
	FaultKinds []string
	// ExtraArgs are appended to the launcher's command line.
	ExtraArgs []string
}

// EmulatorProfile is the profile opts selects: opts.Profile, else
// $EMULATOR_PROFILE, else "aws".
func (o EmulatorOptions) EmulatorProfile() string {
	if o.Profile != "" {
		return o.Profile
	}
	if p := os.Getenv("EMULATOR_PROFILE"); p != "" {
		return p
	}
	return "aws"
}

// args are the launcher flags for o.
func (o EmulatorOptions) args() []string {
	profile := o.EmulatorProfile()
	args := []string{"--profile", profile}
	num := func(flag string, v float64) {
		switch {
		case v > 0:
			args = append(args, flag, strconv.FormatFloat(v, 'f', -1, 64))
		case v < 0:
			args = append(args, flag, "0")
		}
	}
	job := o.JobSeconds
	if job == 0 && profile == "aws" {
		job = 1
	}
	num("--job-seconds", job)
	num("--job-item-micros", o.JobItemMicros)
	num("--pitr-unavailable-seconds", o.PITRUnavailableSeconds)
	num("--ec2-settle-seconds", o.EC2SettleSeconds)
	num("--snapshot-pending-seconds", o.SnapshotPendingSeconds)
	num("--fault-rate", o.FaultRate)
	if o.FaultSeed != 0 {
		args = append(args, "--fault-seed", strconv.FormatInt(o.FaultSeed, 10))
	}
	if len(o.FaultKinds) > 0 {
		kinds := ""
		for i, k := range o.FaultKinds {
			if i > 0 {
				kinds += ","
			}
			kinds += k
		}
		args = append(args, "--fault-kinds", kinds)
	}
	return append(args, o.ExtraArgs...)
}

// EmulatorRequest is one AWS request the emulator saw (GET /_emulator/requests).
type EmulatorRequest struct {
	Seq      int64   `json:"seq"`
	Time     float64 `json:"time"` // Unix seconds
	Service  string  `json:"service"`
	Action   string  `json:"action"`
	Resource string  `json:"resource"` // table(s), bucket, or region for EC2
	Region   string  `json:"region"`
	Fault    string  `json:"fault"` // "", "throttle", "error" or "lost"
	Status   int     `json:"status"`
}

// EmulatorConfig is the emulator's runtime configuration (/_emulator/config).
// As a patch, nil fields are left as they are; a Profile resets every
// timing to that profile's defaults before the other fields apply.
type EmulatorConfig struct {
	Profile                string   `json:"profile,omitempty"`
	JobSeconds             *float64 `json:"jobSeconds,omitempty"`
	JobItemMicros          *float64 `json:"jobItemMicros,omitempty"`
	PITRUnavailableSeconds *float64 `json:"pitrUnavailableSeconds,omitempty"`
	EC2SettleSeconds       *float64 `json:"ec2SettleSeconds,omitempty"`
	SnapshotPendingSeconds *float64 `json:"snapshotPendingSeconds,omitempty"`
	PITRLatestLagSeconds   *float64 `json:"pitrLatestLagSeconds,omitempty"`
	FaultRate              *float64 `json:"faultRate,omitempty"`
	FaultSeed              *int64   `json:"faultSeed,omitempty"`
	FaultKinds             []string `json:"faultKinds,omitempty"`
}

// Emulator is a running scripts/moto_server.py: the AWS stand-in of an Env,
// or one started alone by StartEmulator (no Temporal, no workers).
type Emulator struct {
	// URL is the endpoint of every service and of /_emulator/.
	URL string
	// AWS are clients for it (static test credentials, us-east-1).
	AWS *awsx.Clients
	// LogFile is the launcher's output; KeepLog keeps it after Close (for
	// emulators started alone).
	LogFile string
	KeepLog bool

	dir string // removed by Close unless KeepLog

	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// StartEmulator starts the emulator alone, for tests of the emulator itself
// or of code that needs AWS only. It is stopped in Cleanup; its log is kept
// (and named) if the test failed.
func StartEmulator(tb testing.TB, opts EmulatorOptions) *Emulator {
	tb.Helper()
	m, err := NewEmulator(context.Background(), opts)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			m.KeepLog = true
		}
		_ = m.Close()
		if tb.Failed() {
			tb.Logf("testenv: emulator log kept in %s", m.LogFile)
		}
	})
	return m
}

// NewEmulator starts the emulator alone (for a TestMain, say). Close stops
// it and removes its log unless KeepLog.
func NewEmulator(ctx context.Context, opts EmulatorOptions) (*Emulator, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lifeboat-emulator-")
	if err != nil {
		return nil, err
	}
	logFile := func(name string) (*os.File, error) { return os.Create(filepath.Join(dir, name)) }
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	m, err := launchEmulator(ctx, root, logFile, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (logs in %s)", err, dir)
	}
	m.dir = dir
	return m, nil
}

// launchEmulator starts scripts/moto_server.py on a free port and waits
// until it answers HTTP, retrying on another port if it exits (port taken).
func launchEmulator(ctx context.Context, root string, logFile func(string) (*os.File, error), opts EmulatorOptions) (*Emulator, error) {
	python := os.Getenv("LIFEBOAT_PYTHON")
	if python == "" {
		python = "python3"
	}
	script := filepath.Join(root, "scripts", "moto_server.py")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("moto launcher: %w", err)
	}
	var errs []error
	for attempt := 1; attempt <= 3; attempt++ {
		ports, err := FreePorts(1)
		if err != nil {
			return nil, err
		}
		name := "moto.log"
		if attempt > 1 {
			name = fmt.Sprintf("moto-%d.log", attempt)
		}
		out, err := logFile(name)
		if err != nil {
			return nil, err
		}
		args := append([]string{script, "--host", "127.0.0.1", "--port", fmt.Sprint(ports[0])}, opts.args()...)
		cmd := exec.Command(python, args...)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = motoProcAttr()
		started := make(chan error, 1)
		exited := make(chan struct{})
		go func() {
			// The parent-death signal is tied to the thread that forked:
			// keep that thread, and only it, alive while moto runs.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if err := cmd.Start(); err != nil {
				started <- err
				close(exited)
				return
			}
			started <- nil
			_ = cmd.Wait()
			close(exited)
		}()
		if err := <-started; err != nil {
			return nil, fmt.Errorf("start moto (%s %s): %w", python, script, err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		err = waitHTTP(ctx, url+"/moto-api/", exited)
		if err == nil {
			m := &Emulator{URL: url, LogFile: out.Name(), cmd: cmd, exited: exited}
			m.AWS = awsx.New(awsConfig(url))
			return m, nil
		}
		errs = append(errs, fmt.Errorf("attempt %d on %s: %w (see %s)", attempt, url, err, out.Name()))
		_ = cmd.Process.Kill()
		<-exited
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("start moto server (is moto installed? %s -c 'import moto'): %w", python, errors.Join(errs...))
}

// awsConfig is the SDK configuration for an emulator at url.
func awsConfig(url string) aws.Config {
	return aws.Config{
		Region: "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "testenv"}, nil
		}),
		BaseEndpoint: aws.String(url),
	}
}

// Close stops the emulator (SIGTERM, then SIGKILL after 10 s). It is safe to
// call twice.
func (m *Emulator) Close() error {
	m.once.Do(func() {
		if m.cmd == nil || m.cmd.Process == nil {
			return
		}
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(10 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.exited
		}
		if m.dir != "" && !m.KeepLog {
			_ = os.RemoveAll(m.dir)
		}
	})
	return nil
}

// Requests returns the log of AWS requests the emulator saw (the last
// 200,000), oldest first.
func (m *Emulator) Requests(ctx context.Context) ([]EmulatorRequest, error) {
	var out []EmulatorRequest
	return out, m.call(ctx, http.MethodGet, "/_emulator/requests", nil, &out)
}

// ResetRequests empties the request log.
func (m *Emulator) ResetRequests(ctx context.Context) error {
	return m.call(ctx, http.MethodPost, "/_emulator/requests/reset", struct{}{}, nil)
}

// Config applies patch (nil fields unchanged; a zero patch changes nothing)
// and returns the whole configuration now in force.
func (m *Emulator) Config(ctx context.Context, patch EmulatorConfig) (EmulatorConfig, error) {
	var out EmulatorConfig
	return out, m.call(ctx, http.MethodPost, "/_emulator/config", patch, &out)
}

// EnforceIAM switches moto's IAM enforcement on (every later request is
// authenticated and checked against its identity's policies) or off again,
// through moto's POST /moto-api/reset-auth (the INITIAL_NO_AUTH_ACTION_COUNT
// setting). Once on, the static test credentials are refused: create IAM
// users with access keys first. docs/emulator.md says what moto checks.
func (m *Emulator) EnforceIAM(ctx context.Context, on bool) error {
	count := "inf"
	if on {
		count = "0"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/moto-api/reset-auth", strings.NewReader(count))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("emulator reset-auth: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("emulator reset-auth: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// SetFaultRate sets the share of AWS requests that fail, of the given kinds
// (none: all kinds).
func (m *Emulator) SetFaultRate(ctx context.Context, rate float64, kinds ...string) error {
	_, err := m.Config(ctx, EmulatorConfig{FaultRate: &rate, FaultKinds: kinds})
	return err
}

func (m *Emulator) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.URL+path, body)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("emulator %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("emulator %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emulator %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("emulator %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Emulator is the Env's AWS emulator.
func (e *Env) Emulator() *Emulator { return e.emu }

// EmulatorRequests returns the AWS requests the Env's emulator saw.
func (e *Env) EmulatorRequests(ctx context.Context) ([]EmulatorRequest, error) {
	return e.emu.Requests(ctx)
}

// EmulatorConfig patches the Env's emulator configuration and returns it.
func (e *Env) EmulatorConfig(ctx context.Context, patch EmulatorConfig) (EmulatorConfig, error) {
	return e.emu.Config(ctx, patch)
}

// ResetEmulatorRequests empties the Env's emulator request log.
func (e *Env) ResetEmulatorRequests(ctx context.Context) error { return e.emu.ResetRequests(ctx) }

// PackageEmulator is one emulator for a test package that needs only AWS
// (no Temporal): started on first Get, with ControlTable created, and
// closed by Main after the package's tests.
type PackageEmulator struct {
	Options      EmulatorOptions
	ControlTable string

	once sync.Once
	emu  *Emulator
	err  error
}

// Get returns the package's emulator, starting it on first use; -short
// skips the test.
func (p *PackageEmulator) Get(tb testing.TB) *Emulator {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts the emulator: skipped with -short")
	}
	p.once.Do(func() {
		p.emu, p.err = NewEmulator(context.Background(), p.Options)
		if p.err == nil && p.ControlTable != "" {
			p.err = (&registry.Registry{DB: p.emu.AWS.DynamoDB, Table: p.ControlTable}).EnsureControlTable(context.Background())
		}
	})
	if p.err != nil {
		tb.Fatal(p.err)
	}
	return p.emu
}

// Main runs the package's tests, then closes the emulator if one started;
// call it from TestMain: os.Exit(pkgEmulator.Main(m)).
func (p *PackageEmulator) Main(m *testing.M) int {
	code := m.Run()
	if p.emu != nil {
		_ = p.emu.Close()
	}
	return code
}
