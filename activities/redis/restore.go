package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/activities"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// RedisNodeStageInput asks a node's sidecar to download and check the
// files it will be restored from.
type RedisNodeStageInput struct {
	Node string `json:"node"`
	// Source names the backed-up node (cluster, node, backup) for messages.
	SourceCluster string `json:"sourceCluster"`
	SourceNode    string `json:"sourceNode"`
	BackupID      string `json:"backupId"`
	// Persistence is the backup's format: rdb or aof.
	Persistence string             `json:"persistence"`
	Bucket      string             `json:"bucket"`
	Files       []redisbackup.File `json:"files"`
}

// RedisNodeStageResult says where the checked files wait, and what they replace.
type RedisNodeStageResult struct {
	Layout     RedisLayout `json:"layout"`
	StagingDir string      `json:"stagingDir"`
	// Target is the file or directory below the data directory that the
	// restore replaces: the dump file, or the append-only directory.
	Target string `json:"target"`
	Bytes  int64  `json:"bytes"`
	// Converted says an RDB backup was staged as the base of an
	// append-only directory, because the node runs with appendonly yes.
	Converted bool `json:"converted,omitempty"`
}

// StageNodeRestore downloads a node's backed-up files into a staging
// folder inside the node's data directory (same file system, so putting
// them in place is a rename) and checks each file's size and SHA-256
// against the cluster manifest. Redis is not touched: a mismatch fails
// with ChecksumMismatch before anything is stopped.
func (a *RedisNode) StageNodeRestore(ctx context.Context, in RedisNodeStageInput) (*RedisNodeStageResult, error) {
	if err := a.checkNode(in.Node); err != nil {
		return nil, err
	}
	if err := a.checkCommands(); err != nil {
		return nil, err
	}
	if !a.tryLock() {
		return nil, a.errorf("busy with another restore step; will retry")
	}
	defer a.unlock()
	rc := a.client()
	defer rc.Close()
	l, err := a.layoutForRestore(ctx, rc, in.Persistence)
	if err != nil {
		return nil, err
	}
	plan, err := a.planStaging(in, l)
	if err != nil {
		return nil, err
	}
	staging := filepath.Join(l.Dir, stagingPrefix+runToken(ctx))
	if err := os.RemoveAll(staging); err != nil {
		return nil, a.errorf("clear staging folder: %w", err)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, a.errorf("create staging folder in the data directory: %w", err)
	}
	out := &RedisNodeStageResult{Layout: *l, StagingDir: staging, Target: plan.target, Converted: plan.converted}
	var total int64
	for _, f := range in.Files {
		total += f.Size
	}
	step := new(atomic.Pointer[string])
	defer keepHeartbeating(ctx, a.NodeID, step)()
	progress := &transferProgress{step: step, verb: "downloaded", total: total}
	for _, f := range in.Files {
		dest, ok := plan.dest[f.Name]
		if !ok {
			continue
		}
		if err := a.download(ctx, in, f, filepath.Join(staging, dest), progress); err != nil {
			_ = os.RemoveAll(staging)
			return nil, err
		}
		out.Bytes += f.Size
	}
	for name, body := range plan.write {
		if err := writeFileSync(filepath.Join(staging, name), body); err != nil {
			_ = os.RemoveAll(staging)
			return nil, a.errorf("stage %s: %w", name, err)
		}
	}
	if err := chownLike(staging, l.Dir); err != nil {
		_ = os.RemoveAll(staging)
		return nil, a.errorf("give the staged files the data directory's owner: %w", err)
	}
	if err := writeJournal(staging, &restoreJournal{State: stateStaged}); err != nil {
		_ = os.RemoveAll(staging)
		return nil, a.errorf("record the staging: %w", err)
	}
	activity.GetLogger(ctx).Info("Redis restore staged", "node", a.NodeID, "backup", in.BackupID, "bytes", out.Bytes, "target", plan.target)
	return out, nil
}

// stagingPlan maps the backup's files to their place below the staging folder.
type stagingPlan struct {
	target    string
	dest      map[string]string // backup file name -> staged path
	write     map[string][]byte // staged files Lifeboat writes itself
	converted bool
}

// planStaging decides what a node's backup becomes on this node: a dump
// file; an append-only directory; or, for an RDB backup on a node that
// loads its AOF, an append-only directory with the dump as its only part.
// An AOF backup cannot be loaded by a node with appendonly no.
func (a *RedisNode) planStaging(in RedisNodeStageInput, l *RedisLayout) (*stagingPlan, error) {
	p := &stagingPlan{dest: map[string]string{}, write: map[string][]byte{}}
	switch in.Persistence {
	case redisbackup.FormatRDB:
		if len(in.Files) != 1 {
			return nil, permanent(activities.ErrBackupCorrupt, a.errorf("backup %s of node %s holds %d files, an RDB backup one", in.BackupID, in.SourceNode, len(in.Files)))
		}
		if !l.AppendOnly {
			p.target = l.DBFilename
			p.dest[in.Files[0].Name] = l.DBFilename
			return p, nil
		}
		if l.AppendDirName == "" {
			return nil, permanent(activities.ErrInvalidInput, a.errorf("runs with appendonly yes on Redis %s (single-file AOF): an RDB backup can be restored only with appendonly no there", l.RedisVersion))
		}
		base, manifest := redisbackup.BaseOnlyAOF(l.AppendFilename)
		p.target, p.converted = l.AppendDirName, true
		p.dest[in.Files[0].Name] = path.Join(l.AppendDirName, base)
		p.write[path.Join(l.AppendDirName, redisbackup.AOFManifestName(l.AppendFilename))] = manifest
		return p, nil
	case redisbackup.FormatAOF:
		if !l.AppendOnly || l.AppendDirName == "" {
			return nil, permanent(activities.ErrInvalidInput, a.errorf("runs with appendonly no: an AOF backup is loaded only with appendonly yes (set it in the node's Redis configuration, or restore an RDB backup); nothing was changed"))
		}
		p.target = l.AppendDirName
		for _, f := range in.Files {
			// appendonlydir/<part>: the source's directory name gives way to this node's.
			_, name, ok := strings.Cut(f.Name, "/")
			if !ok || strings.Contains(name, "/") {
				return nil, permanent(activities.ErrBackupCorrupt, a.errorf("backup %s: unexpected AOF file %q", in.BackupID, f.Name))
			}
			if f.Role == redisbackup.RoleAOFManifest && name != redisbackup.AOFManifestName(l.AppendFilename) {
				return nil, permanent(activities.ErrInvalidInput, a.errorf("its appendfilename is %q but the backup's AOF is %q: set the same appendfilename to restore it",
					l.AppendFilename, strings.TrimSuffix(name, ".manifest")))
			}
			p.dest[f.Name] = path.Join(l.AppendDirName, name)
		}
		return p, nil
	}
	return nil, permanent(activities.ErrInvalidInput, fmt.Errorf("unknown backup format %q", in.Persistence))
}

// download fetches one file and checks it against the manifest.
func (a *RedisNode) download(ctx context.Context, in RedisNodeStageInput, f redisbackup.File, dest string, progress *transferProgress) error {
	url := "s3://" + in.Bucket + "/" + f.Key
	out, err := a.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(in.Bucket), Key: aws.String(f.Key)})
	if err != nil {
		return a.errorf("download %s: %w", url, err)
	}
	defer out.Body.Close()
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return a.errorf("stage %s: %w", f.Name, err)
	}
	w, err := os.OpenFile(dest, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return a.errorf("stage %s: %w", f.Name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), &countingReader{r: out.Body, progress: progress})
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return a.errorf("download %s: %w", url, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != f.Size || sum != f.SHA256 {
		return permanent(activities.ErrChecksumMismatch, a.errorf(
			"%s of backup %s (node %s) does not match the cluster manifest: %d bytes with SHA-256 %s, want %d bytes with %s: the backup is corrupt",
			url, in.BackupID, in.SourceNode, n, sum, f.Size, f.SHA256))
	}
	return nil
}

func writeFileSync(name string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// runToken names a workflow run's staging folder, so that a retried
// activity, and the restore step after it, find the same one.
func runToken(ctx context.Context) string {
	ai := activity.GetInfo(ctx)
	sum := sha256.Sum256([]byte(ai.WorkflowExecution.ID + "/" + ai.WorkflowExecution.RunID))
	return hex.EncodeToString(sum[:6])
}

// RedisNodeRestoreInput asks a node's sidecar to put staged files in place.
type RedisNodeRestoreInput struct {
	Node       string               `json:"node"`
	BackupID   string               `json:"backupId"`
	SourceNode string               `json:"sourceNode"`
	Stage      RedisNodeStageResult `json:"stage"`
	// MinKeys..MaxKeys is the key count the node must come back with (the manifest's).
	MinKeys int64 `json:"minKeys"`
	MaxKeys int64 `json:"maxKeys"`
}

// RedisNodeRestoreResult is a node back up on the restored data.
type RedisNodeRestoreResult struct {
	Node  string `json:"node"`
	Keys  int64  `json:"keys"`
	RunID string `json:"runId"`
	// DownMillis is how long Redis was stopped.
	DownMillis int64 `json:"downMillis"`
}

// RestoreNode stops Redis, moves its current data aside (<name>.lifeboat-old),
// moves the staged files in place, starts Redis and waits until it has
// loaded them and holds the manifest's key count. If the node does not come
// back, it is stopped again, put back on its old data and started, and the
// failure is reported (RedisNodeFailed). Once Redis has been stopped, this
// runs to the end even if the workflow is cancelled: a node is never left
// down.
//
// A journal in the staging folder makes retries safe: after a crash the
// next attempt carries on from the last step recorded, and an attempt
// after the end returns the recorded outcome without touching Redis.
func (a *RedisNode) RestoreNode(ctx context.Context, in RedisNodeRestoreInput) (*RedisNodeRestoreResult, error) {
	if err := a.checkNode(in.Node); err != nil {
		return nil, err
	}
	if err := a.checkCommands(); err != nil {
		return nil, err
	}
	if !a.tryLock() {
		return nil, a.errorf("busy with another restore step; will retry")
	}
	defer a.unlock()
	st := in.Stage
	if !strings.HasPrefix(filepath.Base(st.StagingDir), stagingPrefix) || filepath.Dir(st.StagingDir) != filepath.Clean(st.Layout.Dir) ||
		st.Target == "" || strings.ContainsAny(st.Target, `/\`) {
		return nil, permanent(activities.ErrInvalidInput, a.errorf("bad staging %q / %q", st.StagingDir, st.Target))
	}
	target := filepath.Join(st.Layout.Dir, st.Target)
	aside := target + asideSuffix
	staged := filepath.Join(st.StagingDir, st.Target)
	j, err := readJournal(st.StagingDir)
	if err != nil {
		return nil, permanent(activities.ErrRedisNodeFailed, a.errorf("the downloaded backup is gone from %s (%v); nothing was changed", st.StagingDir, err))
	}
	switch j.State {
	case stateDone:
		_ = os.RemoveAll(aside)
		return j.Result, nil
	case stateRolledBack:
		return nil, permanent(activities.ErrRedisNodeFailed, errors.New(j.Error))
	}

	work := context.WithoutCancel(ctx)
	step := new(atomic.Pointer[string])
	defer keepHeartbeating(ctx, a.NodeID, step)()
	rc := a.client()
	defer rc.Close()
	setStep(step, "stopping Redis")
	if err := a.stop(work); err != nil {
		if j.State == stateStaged {
			return nil, err // Redis did not stop: nothing was changed
		}
		return nil, a.rollback(work, rc, in, target, aside, j, step, err)
	}
	down := time.Now()
	if j.State == stateStaged {
		if err := swapIn(staged, target, aside); err != nil {
			return nil, a.rollback(work, rc, in, target, aside, j, step, fmt.Errorf("put the restored files in place: %w", err))
		}
		j.State = stateSwapped
		if err := writeJournal(st.StagingDir, j); err != nil {
			return nil, a.rollback(work, rc, in, target, aside, j, step, err)
		}
	}
	setStep(step, "starting Redis on backup "+in.BackupID)
	ready, err := a.start(work, rc, step)
	if err == nil && !keysMatch(ready.keys.Keys, in.MinKeys, in.MaxKeys) {
		err = fmt.Errorf("it holds %d keys, the backup %s", ready.keys.Keys, keysWanted(in.MinKeys, in.MaxKeys))
	}
	if err != nil {
		return nil, a.rollback(work, rc, in, target, aside, j, step, err)
	}
	res := &RedisNodeRestoreResult{Node: a.NodeID, Keys: ready.keys.Keys, RunID: ready.runID, DownMillis: ready.at.Sub(down).Milliseconds()}
	j.State, j.Result = stateDone, res
	if err := writeJournal(st.StagingDir, j); err != nil {
		return nil, a.errorf("record the restore: %w", err)
	}
	if err := os.RemoveAll(aside); err != nil {
		activity.GetLogger(ctx).Warn("Could not remove the data kept aside", "node", a.NodeID, "path", aside, "error", err)
	}
	activity.GetLogger(ctx).Info("Redis node restored", "node", a.NodeID, "backup", in.BackupID, "keys", ready.keys.Keys)
	return res, nil
}

func keysMatch(got, lo, hi int64) bool { return got >= lo && got <= hi }

func keysWanted(lo, hi int64) string {
	if lo == hi {
		return fmt.Sprintf("has %d", lo)
	}
	return fmt.Sprintf("has %d..%d", lo, hi)
}

func pathExists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

// swapIn moves the node's data aside and the staged data in. It is safe to
// repeat: data already aside is the node's original data and stays there,
// and what stands in its place then is not worth keeping.
func swapIn(staged, target, aside string) error {
	if pathExists(target) {
		if !pathExists(aside) {
			if err := os.Rename(target, aside); err != nil {
				return err
			}
		} else if err := os.RemoveAll(target); err != nil {
			return err
		}
	}
	return os.Rename(staged, target)
}

// rollback puts a node that did not come back on the restored data back on
// its old data, and reports the failure either way.
func (a *RedisNode) rollback(ctx context.Context, rc *redis.Client, in RedisNodeRestoreInput, target, aside string, j *restoreJournal, step *atomic.Pointer[string], cause error) error {
	msg := a.errorf("did not come back on backup %s (of node %s): %v", in.BackupID, in.SourceNode, cause).Error()
	activity.GetLogger(ctx).Error("Redis node restore failed, putting the old data back", "node", a.NodeID, "error", cause)
	setStep(step, "putting the old data back")
	ready, err := func() (*started, error) {
		if err := a.stop(ctx); err != nil {
			return nil, err
		}
		switch {
		case pathExists(aside):
			if err := os.RemoveAll(target); err != nil {
				return nil, err
			}
			if err := os.Rename(aside, target); err != nil {
				return nil, err
			}
		case j.State == stateSwapped:
			// Swapped, and nothing was aside: there was no old data.
			if err := os.RemoveAll(target); err != nil {
				return nil, err
			}
		}
		// Otherwise the swap never started and target is still the old data.
		return a.start(ctx, rc, step)
	}()
	if err != nil {
		where := ""
		if pathExists(aside) {
			where = " (the old data is kept at " + aside + ")"
		}
		// Not recorded: a retry tries again to bring the node back.
		return fmt.Errorf("%s; putting it back on its old data failed too: %v%s", msg, err, where)
	}
	msg = fmt.Sprintf("%s; it was put back on its old data (%d keys)", msg, ready.keys.Keys)
	j.State, j.Error = stateRolledBack, msg
	if err := writeJournal(in.Stage.StagingDir, j); err != nil {
		activity.GetLogger(ctx).Warn("Could not record the rollback", "node", a.NodeID, "error", err)
	}
	return permanent(activities.ErrRedisNodeFailed, errors.New(msg))
}

// Journal states of a node's restore, in its staging folder.
const (
	stateStaged     = "staged"      // files downloaded and checked; Redis untouched
	stateSwapped    = "swapped"     // old data aside (if any), restored data in place
	stateDone       = "done"        // Redis back on the restored data
	stateRolledBack = "rolled-back" // Redis back on its old data; the restore failed
	journalName     = "lifeboat-restore.json"
)

type restoreJournal struct {
	State  string                  `json:"state"`
	Result *RedisNodeRestoreResult `json:"result,omitempty"`
	Error  string                  `json:"error,omitempty"`
}

func readJournal(dir string) (*restoreJournal, error) {
	raw, err := os.ReadFile(filepath.Join(dir, journalName))
	if err != nil {
		return nil, err
	}
	var j restoreJournal
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("read %s: %w", journalName, err)
	}
	return &j, nil
}

// writeJournal replaces the journal atomically.
func writeJournal(dir string, j *restoreJournal) error {
	raw, err := json.Marshal(j)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, journalName+".tmp")
	if err := writeFileSync(tmp, raw); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, journalName))
}

// keepHeartbeating heartbeats at once and then every 5 s until stopped,
// with the step the node is at, so that waits on commands (stopping Redis)
// never look like a lost worker: a retry must not start while this attempt
// still works on the node.
func keepHeartbeating(ctx context.Context, node string, step *atomic.Pointer[string]) (stop func()) {
	hb := activities.KeepAlive(ctx, 5*time.Second, func() any {
		s := ""
		if p := step.Load(); p != nil {
			s = *p
		}
		return "node " + node + ": " + s
	})
	hb.Beat()
	return hb.Stop
}

// stop runs the stop command if Redis answers, and waits until it does not.
func (a *RedisNode) stop(ctx context.Context) error {
	if !a.answers() {
		return nil
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
			detail := ""
			if runErr != nil {
				detail = fmt.Sprintf(" (stop command: %v: %s)", runErr, strings.TrimSpace(string(out)))
			}
			return a.errorf("Redis still answers %s after the stop command %q%s", a.stopTimeout(), a.StopCmd, detail)
		}
		_ = sleepCtx(ctx, a.poll())
	}
}

// started is Redis answering again, its data loaded.
type started struct {
	keys  redisbackup.Keyspace
	runID string
	at    time.Time
}

// start runs the start command, then waits until Redis answers and has
// finished loading its data. The command may keep running (a foreground
// redis-server) or exit once Redis is launched; if it fails before Redis
// answers, its output (kept in StartLog) is reported.
func (a *RedisNode) start(ctx context.Context, rc *redis.Client, step *atomic.Pointer[string]) (*started, error) {
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
			ks, kerr := redisKeyspace(ctx, rc)
			srv, serr := redisInfo(ctx, rc, "server")
			if kerr == nil && serr == nil {
				return &started{keys: ks, runID: srv["run_id"], at: time.Now()}, nil
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

// RedisNodeDiscardInput names a staging folder to remove.
type RedisNodeDiscardInput struct {
	Node string `json:"node"`
}

// RedisNodeDiscardResult says whether anything was removed.
type RedisNodeDiscardResult struct {
	Removed bool `json:"removed"`
}

// DiscardNodeRestore removes the workflow run's staging folder, if any: the
// restore did not get to use it.
func (a *RedisNode) DiscardNodeRestore(ctx context.Context, in RedisNodeDiscardInput) (*RedisNodeDiscardResult, error) {
	if err := a.checkNode(in.Node); err != nil {
		return nil, err
	}
	// Never while a restore step of this node runs.
	a.restoreMu.Lock()
	defer a.restoreMu.Unlock()
	var dirs []string
	if a.DataDir != "" {
		dirs = append(dirs, a.DataDir)
	}
	a.mu.Lock()
	if a.layout != nil {
		dirs = append(dirs, a.layout.Dir)
	}
	a.mu.Unlock()
	out := &RedisNodeDiscardResult{}
	for _, d := range dirs {
		staging := filepath.Join(d, stagingPrefix+runToken(ctx))
		if _, err := os.Stat(staging); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := os.RemoveAll(staging); err != nil {
			return nil, a.errorf("remove %s: %w", staging, err)
		}
		out.Removed = true
	}
	return out, nil
}

// setStep records the step a long activity is at, for its heartbeats.
func setStep(step *atomic.Pointer[string], s string) { step.Store(&s) }
