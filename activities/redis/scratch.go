package redis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// scratchPrefix names the scratch directories below the worker's temporary
// folder: lifeboat-scratch-<run token>-<node>.
const scratchPrefix = "lifeboat-scratch-"

// scratchDir is the run's scratch directory for a node on this worker: a
// retry on the same worker, and DiscardRedisScratch, find the same one.
func scratchDir(ctx context.Context, node string) string {
	return filepath.Join(os.TempDir(), scratchPrefix+runToken(ctx)+"-"+node)
}

// scratchConf is how a scratch redis-server is told to load a node's files:
// the configuration follows the backup, not any node's.
type scratchConf struct {
	file string   // the file or manifest loaded, for messages
	args []string // the persistence arguments
}

func scratchConfig(persistence string, n redisbackup.Node) (scratchConf, error) {
	_, target, err := checkerFor(persistence, n)
	if err != nil {
		return scratchConf{}, err
	}
	if persistence == redisbackup.FormatAOF {
		// appendonlydir/appendonly.aof.manifest: the directory and the
		// appendfilename Redis derives the manifest's name from.
		d, name := path.Split(target)
		d = strings.TrimSuffix(d, "/")
		if d == "" || strings.Contains(d, "/") || !strings.HasSuffix(name, ".manifest") {
			return scratchConf{}, activities.Corrupt(fmt.Errorf("node %s: unexpected AOF manifest %q", n.Node, target))
		}
		return scratchConf{file: target, args: []string{"--appendonly", "yes", "--appenddirname", d,
			"--appendfilename", strings.TrimSuffix(name, ".manifest")}}, nil
	}
	if strings.Contains(target, "/") {
		return scratchConf{}, activities.Corrupt(fmt.Errorf("node %s: unexpected dump file %q", n.Node, target))
	}
	return scratchConf{file: target, args: []string{"--appendonly", "no", "--dbfilename", target}}, nil
}

// scratchProc is a running scratch redis-server.
type scratchProc struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	addr    string
	logPath string
}

// startScratch starts redis-server on the files in dir, on a free port of
// 127.0.0.1 (trying another if the one picked was taken meanwhile). It
// never saves (save "", the data is thrown away) and logs to redis.log in
// dir.
func startScratch(ctx context.Context, server, dir string, conf scratchConf) (*scratchProc, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freeLocalPort()
		if err != nil {
			return nil, err
		}
		p := &scratchProc{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), logPath: filepath.Join(dir, "redis.log"), exited: make(chan struct{})}
		args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "yes",
			"--dir", dir, "--save", "", "--daemonize", "no", "--logfile", ""}, conf.args...)
		log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		p.cmd = exec.Command(server, args...)
		p.cmd.Dir = dir
		p.cmd.Stdout, p.cmd.Stderr = log, log
		p.cmd.SysProcAttr = scratchProcAttr()
		err = p.cmd.Start()
		_ = log.Close() // the child has its own copy
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", server, err)
		}
		go func() { _ = p.cmd.Wait(); close(p.exited) }()
		// Taken port: redis-server exits at once saying so.
		if err := p.waitListening(ctx); err == nil {
			return p, nil
		} else if !strings.Contains(tail(p.logPath), "Address already in use") {
			p.kill()
			return nil, err
		} else {
			lastErr = err
		}
		p.kill()
	}
	return nil, fmt.Errorf("no free port for a scratch redis-server: %w", lastErr)
}

func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitListening waits until the process accepts connections (it may still
// be loading) or exits.
func (p *scratchProc) waitListening(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-p.exited:
			return &loadError{verdict: scratchVerdict(p.logPath)}
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server does not listen on %s after a minute: %s", p.addr, tail(p.logPath))
		}
	}
}

// loadError is a scratch redis-server that exited instead of answering:
// verdict is the reason from its log.
type loadError struct{ verdict string }

func (e *loadError) Error() string { return "redis-server exited: " + e.verdict }

// waitLoaded waits until the scratch node answers INFO persistence with
// loading:0. Loading has no deadline but the activity's; the heartbeats
// carry its progress.
func (p *scratchProc) waitLoaded(ctx context.Context, rc *redis.Client, step *atomic.Pointer[string]) error {
	if err := p.waitListening(ctx); err != nil {
		return err
	}
	for {
		info, err := redisInfo(ctx, rc, "persistence")
		switch {
		case err == nil && info["loading"] == "0":
			return nil
		case err == nil:
			setStep(step, fmt.Sprintf("scratch node loading, %s%%", info["loading_loaded_perc"]))
		}
		select {
		case <-p.exited:
			return &loadError{verdict: scratchVerdict(p.logPath)}
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill stops the scratch redis-server (SIGKILL to its process group: its
// data is thrown away, nothing needs saving) and waits for it to exit.
func (p *scratchProc) kill() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = killGroup(p.cmd.Process)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// scratchVerdict is the line of a scratch redis-server's log that says why
// it did not load: what its built-in RDB check detected, else its last
// warning (a "#" line), else its last line.
func scratchVerdict(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return "it exited without a word"
	}
	if bytes.Contains(b, []byte("ERROR DETECTED")) {
		return CheckerVerdict(b)
	}
	var warning, last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		last = l
		if _, msg, ok := strings.Cut(l, " # "); ok {
			warning = msg
		}
	}
	if warning != "" {
		return warning
	}
	return last
}

func scratchClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		DialTimeout:              2 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		MaxRetries: -1, PoolSize: 2,
	})
}

// DiscardRedisScratchInput names the nodes of a restore test whose scratch
// directories must go.
type DiscardRedisScratchInput struct {
	Nodes []string `json:"nodes"`
}

// DiscardRedisScratchResult lists the directories removed.
type DiscardRedisScratchResult struct {
	Removed []string `json:"removed,omitempty"`
}

// staleScratch is how long an unused scratch directory of another run must
// have been left before DiscardRedisScratch removes it too.
const staleScratch = 10 * time.Minute

// DiscardRedisScratch is a restore test's last step, run whatever happened:
// it removes the run's scratch directories on this worker, and any other
// run's left by a worker that died (unused for 10 minutes). A directory
// still in use (locked by a scratch activity on this worker) is not
// touched: the activity removes its own, and this step is retried.
// RestoreTestRedisNode cleans up after itself; this is the backstop.
func (a *Clusters) DiscardRedisScratch(ctx context.Context, in DiscardRedisScratchInput) (*DiscardRedisScratchResult, error) {
	out := &DiscardRedisScratchResult{}
	for _, node := range in.Nodes {
		dir := scratchDir(ctx, node)
		removed, err := removeScratch(dir)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", node, err)
		}
		if removed {
			out.Removed = append(out.Removed, dir)
		}
	}
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return out, nil
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), scratchPrefix) {
			continue
		}
		dir := filepath.Join(os.TempDir(), e.Name())
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < staleScratch {
			continue
		}
		if removed, err := removeScratch(dir); err == nil && removed {
			out.Removed = append(out.Removed, dir)
		}
	}
	return out, nil
}

// lockFile marks a scratch directory in use: a scratch activity holds an
// exclusive flock on it while it works, which the kernel drops if the
// worker dies.
const lockFile = ".lock"

// lockScratch creates a node's scratch directory, locks it and clears what
// an earlier attempt on this worker left in it. A directory locked by an
// attempt still running here is an error (retried).
func lockScratch(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err = tryLockScratch(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		unlock()
		return nil, err
	}
	for _, e := range entries {
		if e.Name() != lockFile {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				unlock()
				return nil, err
			}
		}
	}
	return unlock, nil
}

func tryLockScratch(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flockExclusive(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("in use by a restore test still running on this worker (%w)", err)
	}
	return func() { _ = f.Close() }, nil
}

// removeScratch removes a scratch directory unless a scratch activity on
// this worker holds it.
func removeScratch(dir string) (bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	unlock, err := tryLockScratch(dir)
	if err != nil {
		return false, err
	}
	defer unlock()
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("remove %s: %w", dir, err)
	}
	return true, nil
}
