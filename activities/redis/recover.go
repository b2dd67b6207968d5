package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	tlog "go.temporal.io/sdk/log"
)

// nodeLogger is the activity's logger inside an activity, and slog's
// default logger at start-up (Recover), where there is no activity.
func nodeLogger(ctx context.Context) tlog.Logger {
	if activity.IsActivity(ctx) {
		return activity.GetLogger(ctx)
	}
	return tlog.NewStructuredLogger(slog.Default())
}

// Recover brings the node back after its sidecar died in the middle of a
// restore (between stopping Redis and seeing it answer again), before the
// sidecar takes any work, so that a node is down for the sidecar's restart
// rather than for the restore activity's heartbeat timeout and retry. From
// the journal in each staging folder of the data directory:
//
//   - swapped (restored files in place, Redis down): Redis is started on
//     them; with the key count the journal expects the restore is finished
//     (journal done, the old data removed), otherwise rolled back onto the
//     old data (journal rolled-back). The restore activity's retry then
//     returns that outcome without touching Redis.
//   - staged but stopped (Redis stopped, nothing swapped): Redis is started
//     on its own data; the retry restores as if it had never been stopped.
//
// It does nothing while Redis answers (someone restarted it: the retry takes
// it from there) or when the data directory is unknown (Redis down and no
// DataDir). It returns one line per journal it acted on.
func (a *Node) Recover(ctx context.Context, log *slog.Logger) ([]string, error) {
	if a.StartCmd == "" || a.answers() {
		return nil, nil
	}
	dir := a.DataDir
	if dir == "" {
		log.Warn("Redis does not answer and no data directory is configured (--redis-dir): an interrupted restore cannot be looked for", "node", a.NodeID)
		return nil, nil
	}
	a.restoreMu.Lock()
	defer a.restoreMu.Unlock()
	stagings, err := filepath.Glob(filepath.Join(dir, stagingPrefix+"*"))
	if err != nil {
		return nil, a.errorf("look for interrupted restores in %s: %w", dir, err)
	}
	var done []string
	for _, staging := range stagings {
		j, err := readJournal(staging)
		if errors.Is(err, os.ErrNotExist) {
			continue // still downloading: nothing was stopped
		}
		if err != nil {
			return done, a.errorf("read the journal in %s: %w", staging, err)
		}
		line, err := a.recoverOne(ctx, dir, staging, j)
		if line != "" {
			log.Info("Interrupted restore recovered", "node", a.NodeID, "staging", staging, "outcome", line)
			done = append(done, line)
		}
		if err != nil {
			return done, err
		}
		if a.answers() {
			break // one Redis, one restore at a time: it is back
		}
	}
	return done, nil
}

func (a *Node) recoverOne(ctx context.Context, dir, staging string, j *restoreJournal) (string, error) {
	rc := a.client()
	defer rc.Close()
	step := new(atomic.Pointer[string])
	switch {
	case j.State == stateStaged && j.DownAt != 0:
		if _, err := a.start(ctx, rc, step); err != nil {
			return "", a.errorf("start Redis again on its own data after an interrupted restore: %w", err)
		}
		j.DownAt = 0 // the retry's stop starts a new downtime
		if err := writeJournal(staging, j); err != nil {
			return "", err
		}
		return "restarted on its own data (the restore had stopped it before swapping)", nil
	case j.State != stateSwapped:
		return "", nil
	case j.Target == "":
		// An older journal: bring the node back; the retry finishes the job.
		if _, err := a.start(ctx, rc, step); err != nil {
			return "", a.errorf("start Redis after an interrupted restore: %w", err)
		}
		return "restarted on the restored data (old journal: the retry checks it)", nil
	}
	target := filepath.Join(dir, j.Target)
	aside := target + asideSuffix
	in := NodeRestoreInput{Node: a.NodeID, BackupID: j.BackupID, SourceNode: j.SourceNode, MinKeys: j.MinKeys, MaxKeys: j.MaxKeys,
		Stage: NodeStageResult{Layout: Layout{Dir: dir}, StagingDir: staging, Target: j.Target}}
	ready, err := a.start(ctx, rc, step)
	if err == nil && !keysMatch(ready.keys.Keys, j.MinKeys, j.MaxKeys) {
		err = fmt.Errorf("it holds %d keys, the backup %s", ready.keys.Keys, keysWanted(j.MinKeys, j.MaxKeys))
	}
	if err != nil {
		rerr := a.rollback(ctx, rc, in, target, aside, j, step, err)
		if j.State == stateRolledBack {
			return "rolled back onto its old data: " + j.Error, nil
		}
		return "", rerr
	}
	down := time.Duration(0)
	if j.DownAt != 0 {
		down = ready.at.Sub(time.UnixMilli(j.DownAt))
	}
	j.State = stateDone
	j.Result = &NodeRestoreResult{Node: a.NodeID, Keys: ready.keys.Keys, RunID: ready.runID, DownMillis: down.Milliseconds()}
	if err := writeJournal(staging, j); err != nil {
		return "", a.errorf("record the recovered restore: %w", err)
	}
	_ = os.RemoveAll(aside)
	return fmt.Sprintf("restore of backup %s finished: %d keys, down %s", j.BackupID, ready.keys.Keys, down.Round(time.Millisecond)), nil
}
