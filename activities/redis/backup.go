package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// NodeBackupInput asks a node's sidecar to back the node up.
type NodeBackupInput struct {
	Cluster string `json:"cluster"`
	Node    string `json:"node"`
	// Format is rdb or aof.
	Format string `json:"format"`
	Bucket string `json:"bucket"`
	// Folder is the node's folder of the backup (no trailing slash).
	Folder string `json:"folder"`
	// Role is assumed for the uploads when the bucket is another account's.
	awsx.Role
	// KMSKeyID, when set, encrypts the uploads with SSE-KMS under this key.
	KMSKeyID string `json:"kmsKeyId,omitempty"`
}

// NodeBackupResult is the node's part of the cluster manifest.
type NodeBackupResult struct {
	redisbackup.Node
}

// BackupNode persists the node's data (BGSAVE, or BGREWRITEAOF for AOF),
// waits for it to finish and checks it succeeded, then uploads the file
// (every part of a multi-part AOF) to the node's folder with a multipart
// upload, hashing it with SHA-256 on the way. The key count is read right
// around the moment the file was cut, so the restore can check it.
func (a *Node) BackupNode(ctx context.Context, in NodeBackupInput) (*NodeBackupResult, error) {
	ctx = awsx.WithRole(ctx, in.Role)
	if err := a.checkNode(in.Node); err != nil {
		return nil, err
	}
	format, err := redisbackup.ParseFormat(in.Format)
	if err != nil {
		return nil, permanent(activities.ErrInvalidInput, err)
	}
	rc := a.client()
	defer rc.Close()
	layout, err := a.discover(ctx, rc)
	if err != nil {
		return nil, err
	}
	if format == redisbackup.FormatAOF {
		if layout.AppendDirName == "" {
			return nil, permanent(activities.ErrInvalidInput, a.errorf("AOF backups need Redis 7 or later (multi-part AOF); this node runs Redis %s", layout.RedisVersion))
		}
		if !layout.AppendOnly {
			return nil, permanent(activities.ErrInvalidInput, a.errorf("runs with appendonly no: an AOF backup needs appendonly yes (or back up in RDB format)"))
		}
	}
	step := new(atomic.Pointer[string])
	defer keepHeartbeating(ctx, a.NodeID, step)()
	var snap *redisCut
	for attempt := 1; ; attempt++ {
		if format == redisbackup.FormatRDB {
			snap, err = a.snapshotRDB(ctx, rc, layout, step)
		} else {
			snap, err = a.snapshotAOF(ctx, rc, layout, step)
		}
		if err == nil {
			break
		}
		// Another save replaced the files between ours and their opening:
		// take ours again, so the key count matches what is uploaded.
		if !errors.Is(err, errCutMoved) {
			return nil, err
		}
		if attempt == 3 {
			return nil, a.errorf("other saves kept replacing the files to back up: %w", err)
		}
	}
	defer snap.close()

	out := &NodeBackupResult{Node: redisbackup.Node{
		Node: a.NodeID, Addr: a.Addr, RedisVersion: layout.RedisVersion, RunID: layout.RunID,
		Keys: snap.keys.Keys, Expires: snap.keys.Expires, MinKeys: snap.minKeys, MaxKeys: snap.maxKeys, SavedAt: snap.savedAt,
	}}
	var total int64
	for _, f := range snap.files {
		total += f.size
	}
	progress := &transferProgress{step: step, verb: "uploaded", total: total}
	for _, f := range snap.files {
		key := path.Join(in.Folder, f.name)
		sum, n, err := a.upload(ctx, in.Bucket, key, in.KMSKeyID, f.open(), progress)
		if err != nil {
			return nil, a.errorf("upload %s to s3://%s/%s: %w", f.name, in.Bucket, key, err)
		}
		if n != f.size {
			return nil, a.errorf("%s: read %d bytes, expected %d", f.name, n, f.size)
		}
		out.Files = append(out.Files, redisbackup.File{Name: f.name, Role: f.role, Key: key, Size: n, SHA256: sum})
		out.Bytes += n
	}
	activity.GetLogger(ctx).Info("Redis node backed up", "node", a.NodeID, "format", format, "keys", out.Keys, "bytes", out.Bytes)
	return out, nil
}

var errCutMoved = errors.New("the persistence files changed while being opened")

// redisCut is a node's persisted data, opened for upload.
type redisCut struct {
	files            []cutFile
	keys             redisbackup.Keyspace
	minKeys, maxKeys int64
	savedAt          time.Time
}

type cutFile struct {
	name string // below the node folder
	role string
	size int64
	file *os.File // nil for data held in memory
	data []byte
}

// open reads the file from its start, up to the size it had when cut.
func (f cutFile) open() io.Reader {
	if f.file == nil {
		return bytes.NewReader(f.data)
	}
	return io.NewSectionReader(f.file, 0, f.size)
}

func (s *redisCut) close() {
	for _, f := range s.files {
		if f.file != nil {
			_ = f.file.Close()
		}
	}
}

// keyRange turns key counts read before and after a cut into the range a
// restore must land in: keys with a TTL may be gone by then.
func keyRange(before, after redisbackup.Keyspace) (lo, hi int64) {
	lo, hi = min(before.Keys, after.Keys), max(before.Keys, after.Keys)
	return max(lo-max(before.Expires, after.Expires), 0), hi
}

// waitIdle waits until no fork child (BGSAVE, AOF rewrite, module fork) runs.
func (a *Node) waitIdle(ctx context.Context, rc *redis.Client, what string, step *atomic.Pointer[string]) error {
	for start := time.Now(); ; {
		p, err := redisInfo(ctx, rc, "persistence")
		if err != nil {
			return a.errorf("INFO persistence: %w", err)
		}
		if p["rdb_bgsave_in_progress"] != "1" && p["aof_rewrite_in_progress"] != "1" && p["module_fork_in_progress"] != "1" {
			return nil
		}
		setStep(step, fmt.Sprintf("waiting %s for a running save to finish before %s", time.Since(start).Round(time.Second), what))
		if err := sleepCtx(ctx, a.poll()); err != nil {
			return err
		}
	}
}

// snapshotRDB runs BGSAVE and opens the dump it wrote. INFO keyspace is
// sent in the same pipeline right before and after BGSAVE, which forks
// while handling the command: Redis runs one client's pipelined commands
// back to back, so both counts are the dump's.
func (a *Node) snapshotRDB(ctx context.Context, rc *redis.Client, l *Layout, step *atomic.Pointer[string]) (*redisCut, error) {
	var p0, k1, k2 *redis.StringCmd
	var save *redis.StatusCmd
	for {
		if err := a.waitIdle(ctx, rc, "BGSAVE", step); err != nil {
			return nil, err
		}
		_, _ = rc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p0, k1, save, k2 = p.Info(ctx, "persistence"), p.Info(ctx, "keyspace"), p.BgSave(ctx), p.Info(ctx, "keyspace")
			return nil
		})
		if err := save.Err(); err != nil {
			if strings.Contains(err.Error(), "in progress") {
				continue // a save started between our check and BGSAVE
			}
			return nil, a.errorf("BGSAVE: %w", err)
		}
		break
	}
	before, after, err := pipelinedKeys(p0, k1, k2)
	if err != nil {
		return nil, a.errorf("INFO: %w", err)
	}
	p0m := redisbackup.ParseInfo(p0.Val())
	saves0, counted := redisbackup.InfoInt(p0m, "rdb_saves")
	var done map[string]string
	for start := time.Now(); ; {
		p, err := redisInfo(ctx, rc, "persistence")
		if err != nil {
			return nil, a.errorf("INFO persistence while saving: %w", err)
		}
		saves, _ := redisbackup.InfoInt(p, "rdb_saves")
		if p["rdb_bgsave_in_progress"] == "0" && (!counted || saves > saves0) {
			done = p
			break
		}
		setStep(step, fmt.Sprintf("BGSAVE running for %s (%s/%s keys)",
			time.Since(start).Round(time.Second), p["current_save_keys_processed"], p["current_save_keys_total"]))
		if err := sleepCtx(ctx, a.poll()); err != nil {
			return nil, err
		}
	}
	if st := done["rdb_last_bgsave_status"]; st != "ok" {
		return nil, a.errorf("BGSAVE failed (rdb_last_bgsave_status:%s): see the Redis log", st)
	}
	name := filepath.Join(l.Dir, l.DBFilename)
	f, err := os.Open(name)
	if err != nil {
		return nil, a.errorf("open the dump file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, a.errorf("stat the dump file: %w", err)
	}
	// Redis writes a new dump beside the old one and renames it over: the
	// file opened is ours unless another save completed meanwhile.
	if p, err := redisInfo(ctx, rc, "persistence"); err != nil || p["rdb_saves"] != done["rdb_saves"] {
		_ = f.Close()
		if err != nil {
			return nil, a.errorf("INFO persistence: %w", err)
		}
		return nil, errCutMoved
	}
	s := &redisCut{keys: after, savedAt: lastSave(done)}
	s.minKeys, s.maxKeys = keyRange(before, after)
	s.files = []cutFile{{name: l.DBFilename, role: redisbackup.RoleRDB, size: st.Size(), file: f}}
	return s, nil
}

func pipelinedKeys(p0, k1, k2 *redis.StringCmd) (before, after redisbackup.Keyspace, err error) {
	for _, c := range []*redis.StringCmd{p0, k1, k2} {
		if c.Err() != nil {
			return before, after, c.Err()
		}
	}
	if before, err = redisbackup.ParseKeyspace(redisbackup.ParseInfo(k1.Val())); err != nil {
		return before, after, err
	}
	after, err = redisbackup.ParseKeyspace(redisbackup.ParseInfo(k2.Val()))
	return before, after, err
}

func lastSave(p map[string]string) time.Time {
	if t, ok := redisbackup.InfoInt(p, "rdb_last_save_time"); ok && t > 0 {
		return time.Unix(t, 0).UTC()
	}
	return time.Now().UTC()
}

// snapshotAOF runs BGREWRITEAOF, then opens every live part of the
// multi-part AOF. The incremental file keeps growing after the rewrite; it
// is uploaded up to the size it had when opened, between two key counts.
func (a *Node) snapshotAOF(ctx context.Context, rc *redis.Client, l *Layout, step *atomic.Pointer[string]) (*redisCut, error) {
	var p0 map[string]string
	for {
		if err := a.waitIdle(ctx, rc, "BGREWRITEAOF", step); err != nil {
			return nil, err
		}
		var pc *redis.StringCmd
		var rw *redis.StatusCmd
		_, _ = rc.Pipelined(ctx, func(p redis.Pipeliner) error {
			pc, rw = p.Info(ctx, "persistence"), p.BgRewriteAOF(ctx)
			return nil
		})
		if pc.Err() != nil {
			return nil, a.errorf("INFO persistence: %w", pc.Err())
		}
		if err := rw.Err(); err != nil {
			if strings.Contains(err.Error(), "in progress") {
				continue
			}
			return nil, a.errorf("BGREWRITEAOF: %w", err)
		}
		p0 = redisbackup.ParseInfo(pc.Val())
		break
	}
	rewrites0, counted := redisbackup.InfoInt(p0, "aof_rewrites")
	var done map[string]string
	for start := time.Now(); ; {
		p, err := redisInfo(ctx, rc, "persistence")
		if err != nil {
			return nil, a.errorf("INFO persistence while rewriting the AOF: %w", err)
		}
		n, _ := redisbackup.InfoInt(p, "aof_rewrites")
		if p["aof_rewrite_in_progress"] == "0" && p["aof_rewrite_scheduled"] == "0" && (!counted || n > rewrites0) {
			done = p
			break
		}
		setStep(step, fmt.Sprintf("BGREWRITEAOF running for %s", time.Since(start).Round(time.Second)))
		if err := sleepCtx(ctx, a.poll()); err != nil {
			return nil, err
		}
	}
	if st := done["aof_last_bgrewrite_status"]; st != "ok" {
		return nil, a.errorf("BGREWRITEAOF failed (aof_last_bgrewrite_status:%s): see the Redis log", st)
	}
	before, err := redisKeyspace(ctx, rc)
	if err != nil {
		return nil, a.errorf("INFO keyspace: %w", err)
	}
	dir := filepath.Join(l.Dir, l.AppendDirName)
	manifestName := redisbackup.AOFManifestName(l.AppendFilename)
	raw, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, a.errorf("read the AOF manifest: %w", err)
	}
	parts, err := redisbackup.ParseAOFManifest(raw)
	if err != nil {
		return nil, a.errorf("%s: %w", manifestName, err)
	}
	live := redisbackup.LiveAOFParts(parts)
	manifest := redisbackup.RenderAOFManifest(live)
	s := &redisCut{savedAt: time.Now().UTC()}
	// The manifest uploaded lists only the parts Redis loads; history
	// parts are about to be deleted by Redis and are not backed up.
	s.files = append(s.files, cutFile{
		name: path.Join(l.AppendDirName, manifestName), role: redisbackup.RoleAOFManifest,
		data: manifest, size: int64(len(manifest)),
	})
	for _, p := range live {
		f, err := os.Open(filepath.Join(dir, p.Name))
		if err != nil {
			s.close()
			return nil, a.errorf("open AOF part %s: %w", p.Name, err)
		}
		st, err := f.Stat()
		if err != nil {
			_ = f.Close()
			s.close()
			return nil, a.errorf("stat AOF part %s: %w", p.Name, err)
		}
		s.files = append(s.files, cutFile{name: path.Join(l.AppendDirName, p.Name), role: p.Role(), size: st.Size(), file: f})
	}
	after, err := redisKeyspace(ctx, rc)
	if err != nil {
		s.close()
		return nil, a.errorf("INFO keyspace: %w", err)
	}
	// A rewrite finished since ours replaced the parts: take ours again.
	if p, err := redisInfo(ctx, rc, "persistence"); err != nil || p["aof_rewrites"] != done["aof_rewrites"] {
		s.close()
		if err != nil {
			return nil, a.errorf("INFO persistence: %w", err)
		}
		return nil, errCutMoved
	}
	s.keys = after
	s.minKeys, s.maxKeys = keyRange(before, after)
	return s, nil
}
