package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// ErrCheckerMissing is the error type of a verification on a worker
// without redis-check-rdb / redis-check-aof on its PATH (Debian's
// redis-tools). It is not retried: the worker's image needs the tools.
const ErrCheckerMissing = "RedisCheckerMissing"

// The checkers Redis ships, run on each node's downloaded files.
const (
	CheckRDB = "redis-check-rdb"
	CheckAOF = "redis-check-aof"
)

// verifyPartSize is the size of each ranged GET of a verification's
// downloads (the sidecars' default).
const verifyPartSize = 16 << 20

// FindRedisBackupToVerifyInput names the backup a RedisVerify checks, as
// the user gave it: the one named, else the latest at or before Date,
// else the latest.
type FindRedisBackupToVerifyInput struct {
	Cluster        string `json:"cluster"`
	BackupLocation string `json:"backupLocation"`
	BackupID       string `json:"backupId,omitempty"`
	Date           string `json:"date,omitempty"`
	// Access names the role to assume for the location and its bucket's owner.
	backupstore.Access
}

// FindRedisBackupToVerifyResult is the backup found and its manifest's nodes.
type FindRedisBackupToVerifyResult struct {
	Cluster     string               `json:"cluster"`
	BackupID    string               `json:"backupId"`
	Persistence string               `json:"persistence"`
	Location    backupstore.Location `json:"location"`
	ManifestURL string               `json:"manifestUrl"`
	Keys        int64                `json:"keys"`
	Bytes       int64                `json:"bytes"`
	Nodes       []redisbackup.Node   `json:"nodes"`
}

// FindRedisBackupToVerify resolves a backup as a restore would
// (redisbackup.FindBackup: passing over folders without a cluster manifest),
// reading only listings and the manifest. The cluster need not be
// registered any more: a backup outlives its cluster. A missing bucket or
// backup is InvalidInput; an unreadable manifest is BackupCorrupt.
func (a *Clusters) FindRedisBackupToVerify(ctx context.Context, in FindRedisBackupToVerifyInput) (*FindRedisBackupToVerifyResult, error) {
	if err := ids.Validate("cluster", in.Cluster); err != nil {
		return nil, activities.Invalid(err)
	}
	if in.BackupID != "" && in.Date != "" {
		return nil, activities.Invalid(errors.New("give a backup id or a date, not both"))
	}
	if in.BackupID != "" {
		if _, err := redisbackup.ParseBackupID(in.BackupID); err != nil {
			return nil, activities.Invalid(err)
		}
	}
	var notAfter time.Time
	if in.Date != "" {
		t, err := redisbackup.ParseDate(in.Date)
		if err != nil {
			return nil, activities.Invalid(err)
		}
		notAfter = t
	}
	loc, err := backupstore.ParseLocationWith(in.BackupLocation, in.Access)
	if err != nil {
		return nil, activities.Invalid(err)
	}
	if err := a.checkBucket(ctx, loc); err != nil {
		return nil, err
	}
	id, m, key, err := redisbackup.FindBackup(loc.WithRole(ctx), a.S3, loc, in.Cluster, in.BackupID, notAfter)
	var none *redisbackup.NoBackupError
	switch {
	case errors.As(err, &none):
		return nil, activities.Invalid(err)
	case err != nil && id != "":
		return nil, activities.Corrupt(err)
	case err != nil:
		return nil, err
	}
	if m.Cluster != in.Cluster || m.BackupID != id {
		return nil, activities.Corrupt(fmt.Errorf("s3://%s/%s is the manifest of %s backup %s", loc.Bucket, key, m.Cluster, m.BackupID))
	}
	return &FindRedisBackupToVerifyResult{
		Cluster: m.Cluster, BackupID: id, Persistence: m.Persistence, Location: loc,
		ManifestURL: "s3://" + loc.Bucket + "/" + key, Keys: m.Keys, Bytes: m.Bytes, Nodes: m.Nodes,
	}, nil
}

// VerifyRedisNodeInput is one node's part of a backup to check.
type VerifyRedisNodeInput struct {
	Bucket      string           `json:"bucket"`
	Cluster     string           `json:"cluster"`
	BackupID    string           `json:"backupId"`
	Persistence string           `json:"persistence"`
	Node        redisbackup.Node `json:"node"`
	// Location is the backup's location with its role, if it has one: the
	// files are downloaded with that role's credentials. Empty in histories
	// from before roles: the worker's own credentials.
	Location backupstore.Location `json:"location,omitzero"`
}

// VerifyRedisNodeResult is a node's files found sound.
type VerifyRedisNodeResult struct {
	Node  string `json:"node"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	// Checker is the tool that accepted the files (redis-check-rdb or
	// redis-check-aof).
	Checker string `json:"checker"`
}

// VerifyNodeProgress is VerifyRedisNode's heartbeat: the files already
// downloaded and matched, so a retry on the same worker resumes after them.
type VerifyNodeProgress struct {
	Checked []string `json:"checked"`
	Step    string   `json:"step"`
}

// VerifyRedisNode downloads one node's backed-up files into a temporary
// folder (parallel ranged GETs, as a restore does), checks each file's size
// and SHA-256 against the cluster manifest, then runs redis-check-rdb on the
// dump file or redis-check-aof on the append-only manifest. It heartbeats
// throughout and, retried on the same worker, skips the files it already
// matched. A mismatch fails with ChecksumMismatch, a missing file or the
// checker's rejection with BackupCorrupt, a worker without the checker
// with RedisCheckerMissing; each message names the node and the file.
func (a *Clusters) VerifyRedisNode(ctx context.Context, in VerifyRedisNodeInput) (res *VerifyRedisNodeResult, err error) {
	n := in.Node
	ctx = in.Location.WithRole(ctx)
	checker, target, err := checkerFor(in.Persistence, n)
	if err != nil {
		return nil, err
	}
	tool, err := exec.LookPath(checker)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"node %s: cannot check %s: %s is not on this worker's PATH (install Debian's redis-tools)", n.Node, target, checker), ErrCheckerMissing, err)
	}
	// One folder per run and node, so a retry on this worker finds what the
	// last attempt downloaded; it goes unless the error is retried.
	dir := filepath.Join(os.TempDir(), "lifeboat-verify-"+runToken(ctx)+"-"+n.Node)
	defer func() {
		var app *temporal.ApplicationError
		if err == nil || (errors.As(err, &app) && app.NonRetryable()) || ctx.Err() != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	var p VerifyNodeProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	step := new(atomic.Pointer[string])
	checked := new(atomic.Pointer[[]string]) // what the heartbeat goroutine reports
	checked.Store(&[]string{})
	hb := activities.KeepAlive(ctx, 5*time.Second, func() any {
		s := ""
		if v := step.Load(); v != nil {
			s = *v
		}
		return VerifyNodeProgress{Checked: *checked.Load(), Step: s}
	})
	defer hb.Stop()
	var total int64
	for _, f := range n.Files {
		total += f.Size
	}
	progress := &transferProgress{step: step, verb: "node " + n.Node + ": downloaded", total: total}
	for _, f := range n.Files {
		dest := filepath.Join(dir, filepath.FromSlash(f.Name))
		if slices.Contains(p.Checked, f.Name) {
			if st, serr := os.Stat(dest); serr == nil && st.Size() == f.Size {
				progress.add(f.Size)
				done := append(slices.Clone(*checked.Load()), f.Name)
				checked.Store(&done)
				continue
			}
		}
		url := "s3://" + in.Bucket + "/" + f.Key
		got, sum, derr := downloadFile(ctx, a.S3, verifyPartSize, in.Bucket, f.Key, dest, progress)
		switch {
		case derr != nil && backupstore.IsNotFound(derr):
			return nil, activities.Corrupt(fmt.Errorf("node %s: %s (%s) is missing", n.Node, url, f.Name))
		case derr != nil:
			return nil, fmt.Errorf("node %s: download %s: %w", n.Node, url, derr)
		case got != f.Size || sum != f.SHA256:
			msg := fmt.Sprintf("node %s: %s (%s) does not match the cluster manifest: checksum mismatch (%d bytes with SHA-256 %s, want %d bytes with %s)",
				n.Node, url, f.Name, got, sum, f.Size, f.SHA256)
			return nil, temporal.NewNonRetryableApplicationError(msg, activities.ErrChecksumMismatch, nil)
		}
		done := append(slices.Clone(*checked.Load()), f.Name)
		checked.Store(&done)
		hb.Beat()
	}
	setStep(step, fmt.Sprintf("node %s: %s %s", n.Node, checker, target))
	hb.Beat()
	out, rerr := exec.CommandContext(ctx, tool, filepath.Join(dir, filepath.FromSlash(target))).CombinedOutput()
	if rerr != nil {
		var exit *exec.ExitError
		if !errors.As(rerr, &exit) || ctx.Err() != nil {
			return nil, fmt.Errorf("node %s: run %s: %w", n.Node, checker, rerr)
		}
		return nil, activities.Corrupt(fmt.Errorf("node %s: %s rejects %s of backup %s: %s", n.Node, checker, target, in.BackupID, CheckerVerdict(out)))
	}
	activity.GetLogger(ctx).Info("Redis backup node verified", "cluster", in.Cluster, "backup", in.BackupID, "node", n.Node, "checker", checker)
	return &VerifyRedisNodeResult{Node: n.Node, Files: len(n.Files), Bytes: total, Checker: checker}, nil
}

// checkerFor picks the checker of a node's files and the file to give it:
// the dump file, or the multi-part AOF's manifest (which names the rest).
func checkerFor(persistence string, n redisbackup.Node) (checker, target string, err error) {
	role, checker := redisbackup.RoleRDB, CheckRDB
	if persistence == redisbackup.FormatAOF {
		role, checker = redisbackup.RoleAOFManifest, CheckAOF
	}
	for _, f := range n.Files {
		if f.Role == role {
			return checker, f.Name, nil
		}
	}
	return "", "", activities.Corrupt(fmt.Errorf("node %s: the cluster manifest lists no %s file", n.Node, role))
}

// CheckerVerdict is the line of redis-check-rdb's or redis-check-aof's
// output that says what is wrong: the one after "--- RDB ERROR DETECTED
// ---", else the first naming an error or an invalid file, else the last.
func CheckerVerdict(out []byte) string {
	var lines []string
	for _, l := range bytes.Split(out, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			lines = append(lines, s)
		}
	}
	for i, l := range lines {
		if strings.Contains(l, "ERROR DETECTED") && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	for _, l := range lines {
		low := strings.ToLower(l)
		if strings.Contains(low, "not valid") || strings.Contains(low, "error") || strings.Contains(low, "bad ") {
			return l
		}
	}
	if len(lines) == 0 {
		return "no output"
	}
	return lines[len(lines)-1]
}

// RecordRedisVerificationInput is a verification's outcome, to be kept
// beside the backup.
type RecordRedisVerificationInput struct {
	Location     backupstore.Location     `json:"location"`
	Cluster      string                   `json:"cluster"`
	BackupID     string                   `json:"backupId"`
	Verification backupstore.Verification `json:"verification"`
}

// RecordRedisVerificationResult is where the record went.
type RecordRedisVerificationResult struct {
	URL string `json:"url"`
}

// RecordRedisVerification writes verified.json into the backup's folder,
// beside the cluster manifest, replacing an earlier record.
func (a *Clusters) RecordRedisVerification(ctx context.Context, in RecordRedisVerificationInput) (*RecordRedisVerificationResult, error) {
	folder := redisbackup.BackupFolder(in.Location, in.Cluster, in.BackupID)
	if err := backupstore.WriteVerification(in.Location.WithRole(ctx), a.S3, in.Location.Bucket, folder, &in.Verification); err != nil {
		return nil, err
	}
	return &RecordRedisVerificationResult{URL: "s3://" + in.Location.Bucket + "/" + backupstore.VerifiedKey(folder)}, nil
}
