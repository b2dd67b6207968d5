package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// killTarget is how long writes may stay paused after a `kill -9` of the
// worker running an activity inside the pause: the 15 s heartbeat timeout
// of those activities plus 10 s (issue 13, as in internal/integration's
// kill test).
const killTarget = 15*time.Second + 10*time.Second

// nodeDownTarget is how long a Redis node may answer nothing in a restore,
// its sidecar killed while it is down included (issue 13).
const nodeDownTarget = 30 * time.Second

// faultRate is the share of AWS requests the emulator fails during a run.
const faultRate = 0.1

// One dev server and emulator for every scenario; the workers are
// processes (workerProcs), not testenv's in-process ones, so they can be
// killed. Scenarios run one after another: the emulator's fault rate is
// switched on for each run's workflows and off for its setup and checks.
var stack = testenv.Shared{Name: "chaos", Options: testenv.Options{Workers: -1}}

func TestMain(m *testing.M) {
	code := testenv.MainAll(m, &stack)
	stopProcs()
	printTable(os.Stdout)
	os.Exit(code)
}

// runs is how many runs each scenario makes: CHAOS_RUNS (default 20) under
// make chaos (LIFEBOAT_CHAOS set), else 1.
func runs(t *testing.T) int {
	if os.Getenv("LIFEBOAT_CHAOS") == "" {
		return 1
	}
	s := os.Getenv("CHAOS_RUNS")
	if s == "" {
		return 20
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("CHAOS_RUNS=%q: want a positive number", s)
	}
	return n
}

// baseSeed is CHAOS_SEED, else the clock. Run i of a scenario uses
// baseSeed+i: CHAOS_SEED=<a run's seed> CHAOS_RUNS=1 replays that run's
// choices (kill point, victim, restart delay, the emulator's fault seed).
var baseSeed = sync.OnceValue(func() uint64 {
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return n
		}
		fmt.Fprintf(os.Stderr, "chaos: CHAOS_SEED=%q is not a number; using the clock\n", s)
	}
	return uint64(time.Now().UnixNano() % 1_000_000_000)
})

// suite is what every scenario shares: the Env, the worker binary and two
// worker processes on the Env's task queue.
type suite struct {
	e       *testenv.Env
	bin     string
	workers [2]*proc
}

var (
	suiteOnce sync.Once
	theSuite  *suite
	suiteErr  error
)

// setup returns the shared suite, starting it on first use; -short skips.
func setup(t *testing.T) *suite {
	t.Helper()
	e := stack.Get(t)
	suiteOnce.Do(func() {
		s := &suite{e: e}
		dir, err := os.MkdirTemp("", "lifeboat-chaos-")
		if err != nil {
			suiteErr = err
			return
		}
		s.bin = filepath.Join(dir, "worker")
		build := exec.Command("go", "build", "-o", s.bin, "./worker")
		build.Dir = e.RepoRoot
		if out, err := build.CombinedOutput(); err != nil {
			suiteErr = fmt.Errorf("build worker: %v\n%s", err, out)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Registry().EnsureControlTable(ctx); err != nil { // no in-process worker made it
			suiteErr = err
			return
		}
		for i := range s.workers {
			s.workers[i] = newProc(e, fmt.Sprintf("worker-%d", i+1), s.bin)
			if err := s.workers[i].start(); err != nil {
				suiteErr = err
				return
			}
		}
		theSuite = s
	})
	if suiteErr != nil {
		t.Fatalf("chaos: %v", suiteErr)
	}
	return theSuite
}

// faults switches the emulator's faults on (every kind, seeded) or off.
func (s *suite) faults(t *testing.T, on bool, seed uint64) {
	t.Helper()
	rate, fs := 0.0, int64(seed%(1<<62))
	patch := testenv.EmulatorConfig{FaultRate: &rate}
	if on {
		rate = faultRate
		patch.FaultSeed, patch.FaultKinds = &fs, []string{"throttle", "error", "lost"}
	}
	if _, err := s.e.EmulatorConfig(context.Background(), patch); err != nil {
		t.Fatalf("emulator faults %v: %v", on, err)
	}
}

// faultCount counts the faults the emulator injected since its log was
// last reset, by kind and action ("lost CopySnapshot").
func (s *suite) faultCount(t *testing.T) (int, map[string]int) {
	t.Helper()
	reqs, err := s.e.EmulatorRequests(context.Background())
	if err != nil {
		t.Fatalf("emulator log: %v", err)
	}
	n, by := 0, map[string]int{}
	for _, r := range reqs {
		if r.Fault != "" {
			n++
			by[r.Fault+" "+r.Action]++
		}
	}
	return n, by
}

// kill is one planned `kill -9`.
type kill struct {
	victim  *proc
	restart time.Duration // after the kill
	at      time.Time     // when it was sent (zero: never)
	done    chan struct{} // closed once the victim runs again
}

// killLater kills victim once trigger fires (nil: at once) and delay has
// passed, and restarts it restart later. ctx ending before the kill
// cancels it. Wait on done before checking a run.
func killLater(ctx context.Context, t *testing.T, victim *proc, trigger <-chan struct{}, delay, restart time.Duration) *kill {
	k := &kill{victim: victim, restart: restart, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		if trigger != nil {
			select {
			case <-trigger:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		k.at = victim.kill()
		time.Sleep(restart)
		if err := victim.start(); err != nil {
			t.Errorf("restart %s: %v", victim.name, err)
		}
	}()
	return k
}

func (k *kill) String() string {
	if k.at.IsZero() {
		return "no kill (the run ended first)"
	}
	return fmt.Sprintf("kill -9 %s at %s, restarted %s later", k.victim.name, k.at.Format("15:04:05.000"), k.restart.Round(time.Millisecond))
}

// rng is a run's random source.
func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 13)) }

// between is a random duration in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// proc is a worker process (a main worker or a Redis sidecar) that can be
// killed and started again with the same command line.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	dir  string // its logs

	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *os.File
	gen  int
	done chan struct{}
}

var (
	procsMu sync.Mutex
	procs   []*proc
)

// newProc is a worker process against the Env, configured as
// scripts/stack.sh configures one; args are extra flags (--redis-node ...).
func newProc(e *testenv.Env, name, bin string, args ...string) *proc {
	c := e.Config
	p := &proc{name: name, bin: bin, args: args, dir: e.LogDir, env: append(os.Environ(),
		"TEMPORAL_ADDRESS="+c.TemporalAddress, "TEMPORAL_NAMESPACE="+c.Namespace,
		"LIFEBOAT_TASK_QUEUE="+c.TaskQueue, "LIFEBOAT_CONTROL_TABLE="+c.ControlTable, "LIFEBOAT_TABLE_PREFIX="+c.TablePrefix,
		"LIFEBOAT_POLL_INTERVAL="+c.PollInterval.String(), "LIFEBOAT_METRICS_ADDR=",
		"AWS_ENDPOINT_URL="+e.MotoURL, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")}
	procsMu.Lock()
	procs = append(procs, p)
	procsMu.Unlock()
	return p
}

// start runs the process (again); its output goes to <name>-<n>.log in
// the Env's log folder.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	log, err := os.Create(filepath.Join(p.dir, fmt.Sprintf("%s-%d.log", p.name, p.gen)))
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = log.Close(); close(done) }()
	p.cmd, p.log, p.done = cmd, log, done
	return nil
}

// kill sends SIGKILL, waits for the process to end and returns when it
// was sent.
func (p *proc) kill() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := time.Now()
	if p.cmd != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.cmd = nil
	}
	return at
}

func stopProcs() {
	procsMu.Lock()
	defer procsMu.Unlock()
	for _, p := range procs {
		p.kill()
	}
}

// scenario is one row of the final table.
type scenario struct {
	name       string
	runs       int
	failures   []string // the failed runs' seeds
	faults     int
	kills      int
	worst      time.Duration
	worstWhat  string // what worst measures
	duplicates int
}

var (
	tableMu sync.Mutex
	table   []*scenario
)

func newScenario(name, worstWhat string) *scenario {
	s := &scenario{name: name, worstWhat: worstWhat}
	tableMu.Lock()
	table = append(table, s)
	tableMu.Unlock()
	return s
}

// record adds a finished run.
func (s *scenario) record(failed bool, seed uint64, faults, kills, duplicates int, worst time.Duration) {
	tableMu.Lock()
	defer tableMu.Unlock()
	s.runs++
	s.faults += faults
	s.kills += kills
	s.duplicates += duplicates
	s.worst = max(s.worst, worst)
	if failed {
		s.failures = append(s.failures, strconv.FormatUint(seed, 10))
	}
}

// printTable prints the suite's results, as README keeps them.
func printTable(w *os.File) {
	tableMu.Lock()
	defer tableMu.Unlock()
	if len(table) == 0 {
		return
	}
	fmt.Fprintf(w, "\nchaos: seed %d, fault rate %.0f %% (throttle, error, lost), kill -9 restarted 2-5 s later\n", baseSeed(), faultRate*100)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\truns\tfaults injected\tkills\tworst\tduplicates\tfailures")
	for _, s := range table {
		fails := "0"
		if len(s.failures) > 0 {
			fails = fmt.Sprintf("%d (seeds %s)", len(s.failures), strings.Join(s.failures, ", "))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s %s\t%d\t%s\n", s.name, s.runs, s.faults, s.kills, s.worst.Round(100*time.Millisecond), s.worstWhat, s.duplicates, fails)
	}
	_ = tw.Flush()
}
