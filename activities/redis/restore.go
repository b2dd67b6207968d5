package redis

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/activities"
)

// NodeRestoreInput asks a node's sidecar to put staged files in place.
type NodeRestoreInput struct {
	Node       string          `json:"node"`
	BackupID   string          `json:"backupId"`
	SourceNode string          `json:"sourceNode"`
	Stage      NodeStageResult `json:"stage"`
	// MinKeys..MaxKeys is the key count the node must come back with (the manifest's).
	MinKeys int64 `json:"minKeys"`
	MaxKeys int64 `json:"maxKeys"`
}

// NodeRestoreResult is a node back up on the restored data.
type NodeRestoreResult struct {
	Node  string `json:"node"`
	Keys  int64  `json:"keys"`
	RunID string `json:"runId"`
	// DownMillis is how long Redis answered nothing with its data loaded:
	// from just before the stop command was issued until it answered INFO
	// persistence with loading:0 on the restored data.
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
func (a *Node) RestoreNode(ctx context.Context, in NodeRestoreInput) (*NodeRestoreResult, error) {
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
	j.Target, j.BackupID, j.SourceNode, j.MinKeys, j.MaxKeys = st.Target, in.BackupID, in.SourceNode, in.MinKeys, in.MaxKeys
	var down time.Time // Redis stops answering from here on
	if j.DownAt != 0 {
		down = time.UnixMilli(j.DownAt) // an earlier attempt stopped it
	}
	if err := a.stop(work, rc, func() {
		down = time.Now()
		j.DownAt = down.UnixMilli()
		if err := writeJournal(st.StagingDir, j); err != nil {
			activity.GetLogger(ctx).Warn("Could not record when Redis was stopped", "node", a.NodeID, "error", err)
		}
	}); err != nil {
		if j.State == stateStaged {
			return nil, err // Redis did not stop: nothing was changed
		}
		return nil, a.rollback(work, rc, in, target, aside, j, step, err)
	}
	if down.IsZero() {
		down = time.Now() // Redis was down already, since an unknown time
	}
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
	res := &NodeRestoreResult{Node: a.NodeID, Keys: ready.keys.Keys, RunID: ready.runID, DownMillis: ready.at.Sub(down).Milliseconds()}
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

// NodeDiscardInput names a staging folder to remove.
type NodeDiscardInput struct {
	Node string `json:"node"`
}

// NodeDiscardResult says whether anything was removed.
type NodeDiscardResult struct {
	Removed bool `json:"removed"`
}

// DiscardNodeRestore removes the workflow run's staging folder, if any: the
// restore did not get to use it.
func (a *Node) DiscardNodeRestore(ctx context.Context, in NodeDiscardInput) (*NodeDiscardResult, error) {
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
	out := &NodeDiscardResult{}
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
