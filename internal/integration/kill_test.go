package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// killTarget is how long writes may stay paused after a `kill -9` of the
// worker running an activity inside the pause: the heartbeat timeout of
// those activities (15 s; the one-call ones have a 10 s start-to-close)
// plus 10 s (issue 13).
const killTarget = 15*time.Second + 10*time.Second

// TestIntegrationKilledWorkerCostsSeconds runs worker processes (not the
// in-process workers of testenv) and kills them with SIGKILL inside a write
// pause: once in a backup right after the pause is taken, once in a restore
// while WaitImport waits for a 10 s import. A replacement worker starts 2 s
// after each kill. Both runs complete, nothing is left paused, and writes,
// probed through the gate all along, are refused for at most killTarget
// after the kill; the restore's WaitImport is retried within it. What the
// dead worker held (an activity, or a workflow task: 10 s) is logged from
// the history.
func TestIntegrationKilledWorkerCostsSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	if os.Getenv("LIFEBOAT_CHAOS") == "" {
		t.Skip("kills worker processes: run with make chaos (LIFEBOAT_CHAOS=1)")
	}
	t.Parallel()
	ctx := testenv.Context(t, 5*time.Minute)
	bin := filepath.Join(t.TempDir(), "worker")
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./worker")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build worker: %v\n%s", err, out)
	}
	e, err := testenv.New(ctx, testenv.Options{Workers: -1, Emulator: testenv.EmulatorOptions{JobSeconds: longJobSeconds}})
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
	workers := &workerProcs{t: t, bin: bin, e: e}
	if err := e.Registry().EnsureControlTable(ctx); err != nil { // no in-process worker made it
		t.Fatal(err)
	}

	env, ds := e.ID("kill"), "orders"
	e.CreateEnvDataset(t, env, ds)
	e.Load(t, env, ds, "item", 20)
	loc := e.NewBackupLocation(t)
	w := workers.start()

	// Backup: kill the only worker as soon as the dataset is paused.
	probe := startProbe(ctx, e, env, ds)
	run, err := e.Client().StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	if err != nil {
		t.Fatalf("start backup: %v", err)
	}
	// The pause lasts about a second: the probe's first refusal, or the
	// dataset's status, whichever is seen first, says it has begun.
	for e.Dataset(t, env, ds).Status == registry.StatusRunning {
		select {
		case <-probe.refused:
		case <-ctx.Done():
			t.Fatal("the backup never paused the dataset")
		case <-time.After(5 * time.Millisecond):
			continue
		}
		break
	}
	pausedSeen := time.Now()
	killed := workers.kill(w)
	time.Sleep(2 * time.Second)
	w = workers.start()
	bres, err := e.Client().WaitBackup(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("backup %s: %v", run.ID, err)
	}
	paused := probe.stop(t, killed)
	t.Logf("backup: worker killed %s after the dataset was seen paused; writes refused %s after the kill (pause window %d ms); lost with the worker: %v",
		killed.Sub(pausedSeen).Round(time.Millisecond), paused.Round(time.Millisecond), bres.PauseWindowMillis, retried(t, e, run.ID))
	if paused > killTarget {
		t.Errorf("backup: writes refused %s after the kill, want at most %s", paused, killTarget)
	}
	e.RequireRunning(t, env)

	// Restore: kill the worker while WaitImport waits for the import.
	probe = startProbe(ctx, e, env, ds)
	run, err = e.Client().StartRestore(ctx, dataset.RestoreInput{NewStoreID: "after-kill", Datasets: []dataset.RestoreDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	if err != nil {
		t.Fatalf("start restore: %v", err)
	}
	waitAttempt(ctx, t, e, run.ID, "WaitImport", 1)
	time.Sleep(time.Second) // well into its polling
	killed = workers.kill(w)
	time.Sleep(2 * time.Second)
	workers.start()
	rres, err := e.Client().WaitRestore(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("restore %s: %v", run.ID, err)
	}
	paused = probe.stop(t, killed)
	lost := retried(t, e, run.ID)
	again, ok := lost["WaitImport"]
	t.Logf("restore: WaitImport retried %s after the kill; writes refused %s after the kill (the import alone holds them %d s; pause window %d ms); lost with the worker: %v",
		again.started.Sub(killed).Round(time.Millisecond), paused.Round(time.Millisecond), longJobSeconds, rres.PauseWindowMillis, lost)
	if !ok {
		t.Errorf("restore: WaitImport was not retried after the kill")
	} else if d := again.started.Sub(killed); d > killTarget {
		t.Errorf("restore: WaitImport retried %s after the kill, want at most %s", d, killTarget)
	}
	if paused > killTarget {
		t.Errorf("restore: writes refused %s after the kill, want at most %s", paused, killTarget)
	}
	if got, want := rres.Datasets[0].ItemCount, bres.Datasets[0].ItemCount; got != want {
		t.Errorf("restore: %d items, the backup holds %d", got, want)
	}
	e.RequireRunning(t, env)
	if got := e.Environment(t, env).ActiveStore; got != "after-kill" {
		t.Errorf("active store %q, want after-kill", got)
	}
}

// workerProcs starts `worker` processes against an Env, as scripts/stack.sh
// does, and kills them at the end of the test.
type workerProcs struct {
	t   *testing.T
	bin string
	e   *testenv.Env
	n   int
}

func (p *workerProcs) start() *exec.Cmd {
	p.t.Helper()
	p.n++
	log, err := os.Create(filepath.Join(p.e.LogDir, fmt.Sprintf("worker-process-%d.log", p.n)))
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin)
	c := p.e.Config
	cmd.Env = append(os.Environ(),
		"TEMPORAL_ADDRESS="+c.TemporalAddress, "TEMPORAL_NAMESPACE="+c.Namespace,
		"LIFEBOAT_TASK_QUEUE="+c.TaskQueue, "LIFEBOAT_CONTROL_TABLE="+c.ControlTable, "LIFEBOAT_TABLE_PREFIX="+c.TablePrefix,
		"LIFEBOAT_POLL_INTERVAL="+c.PollInterval.String(), "LIFEBOAT_METRICS_ADDR=",
		"AWS_ENDPOINT_URL="+p.e.MotoURL, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start worker: %v", err)
	}
	p.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = log.Close()
	})
	return cmd
}

// kill sends SIGKILL and returns when.
func (p *workerProcs) kill(cmd *exec.Cmd) time.Time {
	p.t.Helper()
	at := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		p.t.Fatalf("kill worker %d: %v", cmd.Process.Pid, err)
	}
	_ = cmd.Wait()
	return at
}

// probe writes through the gate in a loop and records which writes were
// refused because the dataset was paused.
type probe struct {
	cancel  context.CancelFunc
	done    chan struct{}
	refused chan struct{} // closed at the first refusal
	once    sync.Once
	mu      sync.Mutex
	writes  []probeWrite
	errs    []error
}

type probeWrite struct {
	at time.Time // when the answer came
	ok bool
}

func startProbe(ctx context.Context, e *testenv.Env, env, ds string) *probe {
	ctx, cancel := context.WithCancel(ctx)
	p := &probe{cancel: cancel, done: make(chan struct{}), refused: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 0; ctx.Err() == nil; i++ {
			err := e.Gate().Put(ctx, env, ds, gate.Item{Key: fmt.Sprintf("probe-%d-%06d", time.Now().UnixNano(), i), Value: "probe"})
			var paused *gate.WritesPausedError
			p.mu.Lock()
			switch {
			case err == nil:
				p.writes = append(p.writes, probeWrite{at: time.Now(), ok: true})
			case errors.As(err, &paused):
				p.writes = append(p.writes, probeWrite{at: time.Now()})
				p.once.Do(func() { close(p.refused) })
			case ctx.Err() == nil:
				p.errs = append(p.errs, err)
			}
			p.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return p
}

// stop waits until a write is accepted after since (a kill inside the
// pause), stops the probe and returns how long after since writes were
// still refused.
func (p *probe) stop(t *testing.T, since time.Time) time.Duration {
	t.Helper()
	defer func() { p.cancel(); <-p.done }()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		var firstOK time.Time
		for _, w := range p.writes {
			if w.ok && w.at.After(since) {
				firstOK = w.at
				break
			}
		}
		errs := p.errs
		p.mu.Unlock()
		if len(errs) > 0 {
			t.Errorf("probe writes failed other than paused: %v", errors.Join(errs...))
		}
		if !firstOK.IsZero() {
			return firstOK.Sub(since)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("writes still refused a minute after %s", since.Format(time.RFC3339Nano))
	return 0
}

// waitAttempt waits until the workflow's pending activity of that type runs
// its attempt n (or later) on a worker, and returns when that attempt started.
func waitAttempt(ctx context.Context, t *testing.T, e *testenv.Env, workflowID, activity string, n int32) time.Time {
	t.Helper()
	for {
		d, err := e.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
		if err != nil {
			t.Fatalf("describe %s: %v", workflowID, err)
		}
		for _, a := range d.PendingActivities {
			if a.GetActivityType().GetName() == activity && a.GetAttempt() >= n && a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
				return a.GetLastStartedTime().AsTime()
			}
		}
		if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Fatalf("%s ended before %s ran attempt %d", workflowID, activity, n)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never ran attempt %d: %v", activity, n, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// retry is the last attempt of an activity that was retried, from history.
type retry struct {
	attempt int32
	started time.Time
	after   string // the last attempt's failure
}

func (r retry) String() string {
	return fmt.Sprintf("attempt %d at %s after %q", r.attempt, r.started.Format("15:04:05.000"), r.after)
}

// retried returns, by activity type, the activities of a workflow that
// completed on a later attempt, and under "workflow task" a workflow task
// that timed out (one handed to a worker that died).
func retried(t *testing.T, e *testenv.Env, workflowID string) map[string]retry {
	t.Helper()
	it := e.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	types := map[int64]string{}
	out := map[string]retry{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		// A retried activity's started event is written when it closes,
		// dated when its last attempt started.
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
			out[types[a.GetScheduledEventId()]] = retry{attempt: a.GetAttempt(), started: ev.GetEventTime().AsTime(), after: a.GetLastFailure().GetMessage()}
		}
		if a := ev.GetWorkflowTaskTimedOutEventAttributes(); a != nil {
			out["workflow task"] = retry{attempt: 1, started: ev.GetEventTime().AsTime(), after: a.GetTimeoutType().String()}
		}
	}
	return out
}
