package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// NodeStageInput asks a node's sidecar to download and check the
// files it will be restored from.
type NodeStageInput struct {
	Node string `json:"node"`
	// Source names the backed-up node (cluster, node, backup) for messages.
	SourceCluster string `json:"sourceCluster"`
	SourceNode    string `json:"sourceNode"`
	BackupID      string `json:"backupId"`
	// Persistence is the backup's format: rdb or aof.
	Persistence string             `json:"persistence"`
	Bucket      string             `json:"bucket"`
	Files       []redisbackup.File `json:"files"`
	// Role is assumed for the downloads when the bucket is another account's.
	awsx.Role
}

// NodeStageResult says where the checked files wait, and what they replace.
type NodeStageResult struct {
	Layout     Layout `json:"layout"`
	StagingDir string `json:"stagingDir"`
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
func (a *Node) StageNodeRestore(ctx context.Context, in NodeStageInput) (*NodeStageResult, error) {
	ctx = awsx.WithRole(ctx, in.Role)
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
	out := &NodeStageResult{Layout: *l, StagingDir: staging, Target: plan.target, Converted: plan.converted}
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
func (a *Node) planStaging(in NodeStageInput, l *Layout) (*stagingPlan, error) {
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
