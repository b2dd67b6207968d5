package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/lifeboat-dev/lifeboat/activities"
)

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
func (a *Node) rollback(ctx context.Context, rc *redis.Client, in NodeRestoreInput, target, aside string, j *restoreJournal, step *atomic.Pointer[string], cause error) error {
	msg := a.errorf("did not come back on backup %s (of node %s): %v", in.BackupID, in.SourceNode, cause).Error()
	nodeLogger(ctx).Error("Redis node restore failed, putting the old data back", "node", a.NodeID, "error", cause)
	setStep(step, "putting the old data back")
	ready, err := func() (*started, error) {
		if err := a.stop(ctx, rc, nil); err != nil {
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
		nodeLogger(ctx).Warn("Could not record the rollback", "node", a.NodeID, "error", err)
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
	State  string             `json:"state"`
	Result *NodeRestoreResult `json:"result,omitempty"`
	// DownAt (Unix ms) is when the stop command was issued: the start of
	// the node's downtime, kept across attempts.
	DownAt int64  `json:"downAt,omitempty"`
	Error  string `json:"error,omitempty"`
	// What the restore puts in place and expects, recorded before Redis is
	// stopped, so that a sidecar restarted after dying mid-swap can finish
	// or roll back on its own at start-up (Recover). Absent in journals of
	// older sidecars.
	Target     string `json:"target,omitempty"` // file (or AOF folder) name in the data dir
	BackupID   string `json:"backupId,omitempty"`
	SourceNode string `json:"sourceNode,omitempty"`
	MinKeys    int64  `json:"minKeys,omitempty"`
	MaxKeys    int64  `json:"maxKeys,omitempty"`
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
