package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// stop runs the stop command if Redis answers, and waits until it does not.
// issuing, if set, is called just before the stop command runs: from then
// on Redis may stop answering at any moment, so that is when a restore's
// downtime starts.
//
// Redis is first told not to save on shutdown (CONFIG SET save ""): a
// restore keeps the node's data files aside for a rollback anyway, and a
// save of the whole old dataset would only keep the node down longer (about
// 6 s at 500 MB). The files set aside are therefore what Redis last
// persisted: its last save for a dump file, everything for an append-only
// node (its AOF is written as it goes). A stop command that forces a save
// (SHUTDOWN SAVE) still saves. If Redis does not stop, its save points are
// put back.
func (a *Node) stop(ctx context.Context, rc *redis.Client, issuing func()) error {
	if !a.answers() {
		return nil
	}
	restoreSave := a.noSaveOnShutdown(ctx, rc)
	if issuing != nil {
		issuing()
	}
	ctx, cancel := context.WithTimeout(ctx, a.stopTimeout())
	defer cancel()
	cmd := shellCommand(ctx, a.StopCmd)
	out, runErr := cmd.CombinedOutput()
	for {
		if !a.answers() {
			return nil
		}
		if ctx.Err() != nil {
			restoreSave()
			detail := ""
			if runErr != nil {
				detail = fmt.Sprintf(" (stop command: %v: %s)", runErr, strings.TrimSpace(string(out)))
			}
			return a.errorf("Redis still answers %s after the stop command %q%s", a.stopTimeout(), a.StopCmd, detail)
		}
		_ = sleepCtx(ctx, a.poll())
	}
}

// noSaveOnShutdown clears Redis's save points, so that a shutdown (SIGTERM,
// SHUTDOWN without SAVE) does not write the dataset first. It returns what
// puts them back. Best effort: a Redis that refuses CONFIG SET still stops,
// only more slowly.
func (a *Node) noSaveOnShutdown(ctx context.Context, rc *redis.Client) (restore func()) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := rc.ConfigGet(ctx, "save").Result()
	if err != nil || m["save"] == "" {
		return func() {}
	}
	old := m["save"]
	if err := rc.ConfigSet(ctx, "save", "").Err(); err != nil {
		return func() {}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = rc.ConfigSet(ctx, "save", old).Err()
	}
}

// started is Redis answering again, its data loaded.
type started struct {
	keys  redisbackup.Keyspace
	runID string
	// at is when Redis first answered INFO persistence with loading:0.
	at time.Time
}

// start runs the start command, then waits until Redis answers and has
// finished loading its data. The command may keep running (a foreground
// redis-server) or exit once Redis is launched; if it fails before Redis
// answers, its output (kept in StartLog) is reported.
func (a *Node) start(ctx context.Context, rc *redis.Client, step *atomic.Pointer[string]) (*started, error) {
	if a.answers() {
		return nil, a.errorf("something already answers on %s before Redis was started", a.Addr)
	}
	logPath := a.StartLog
	if logPath == "" {
		logPath = filepath.Join(os.TempDir(), "lifeboat-redis-"+a.NodeID+"-start.log")
	}
	exited, err := launchDetached(a.StartCmd, logPath)
	if err != nil {
		return nil, a.errorf("start command %q: %w", a.StartCmd, err)
	}
	deadline := time.Now().Add(a.startTimeout())
	var lastErr error
	for {
		p, err := redisInfo(ctx, rc, "persistence")
		switch {
		case err == nil && p["loading"] == "0":
			at := time.Now() // answering, its data loaded: the downtime ends here
			ks, kerr := redisKeyspace(ctx, rc)
			srv, serr := redisInfo(ctx, rc, "server")
			if kerr == nil && serr == nil {
				return &started{keys: ks, runID: srv["run_id"], at: at}, nil
			}
			lastErr = errors.Join(kerr, serr)
		case err == nil:
			// Loading: no deadline but the activity's, and heartbeats show progress.
			deadline = time.Now().Add(a.startTimeout())
			setStep(step, fmt.Sprintf("Redis loading, %s%%", p["loading_loaded_perc"]))
		case isLoading(err):
			deadline = time.Now().Add(a.startTimeout())
		default:
			lastErr = err
		}
		select {
		case res := <-exited:
			if res != nil {
				return nil, a.errorf("start command %q failed: %v: %s", a.StartCmd, res, tail(logPath))
			}
			exited = nil // exited cleanly (it launched Redis): keep waiting for Redis
		default:
		}
		if time.Now().After(deadline) {
			return nil, a.errorf("Redis did not answer within %s of the start command %q: %v (output: %s)", a.startTimeout(), a.StartCmd, lastErr, tail(logPath))
		}
		if err := sleepCtx(ctx, a.poll()); err != nil {
			return nil, err
		}
	}
}

func isLoading(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "LOADING") }

// launchDetached starts a shell command in its own process group, so that
// it outlives the sidecar and is not hit by the sidecar's terminal signals.
// Its output goes to a file, not a pipe, so a foreground Redis keeps
// logging wherever it was told to after the sidecar is gone. The returned
// channel reports the command's exit.
func launchDetached(cmdline, logPath string) (<-chan error, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command("/bin/sh", "-c", cmdline)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = detachedProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return exited, nil
}

// tail is the end of a command's output file, on one line.
func tail(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return ""
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// shellCommand runs a short command (the stop command), killing its whole
// process group if the context ends first.
func shellCommand(ctx context.Context, cmdline string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", cmdline)
	cmd.SysProcAttr = detachedProcAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
