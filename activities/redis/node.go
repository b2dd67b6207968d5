// Package redis holds the Redis activities: RedisClusters (cluster.go) plans
// and records a cluster's backups and restores from anywhere; RedisNode runs
// on a node's sidecar and reads, stops, starts and replaces that node's files.
package redis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/activities"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// RedisS3API is the part of the S3 client a node's sidecar needs: reads,
// and the calls of a multipart upload.
type RedisS3API interface {
	backupstore.API
	manager.UploadAPIClient
}

// RedisNode acts on one Redis node from the node's own machine: it reads
// the node's dump and append-only files, stops and starts Redis and puts
// files in place. It is registered only on the node's sidecar worker, which
// serves task queue <task queue>-redis-<node>; workflows route its
// activities there.
type RedisNode struct {
	NodeID   string
	Addr     string
	Password string
	// StartCmd and StopCmd start and stop Redis (sh -c). Restores need both.
	// StartCmd may keep running (a foreground redis-server) or return once
	// Redis is launched (systemctl start); StopCmd must return once Redis is
	// stopping. Redis should save on shutdown (SHUTDOWN SAVE, or save points
	// configured), so that the data kept aside during a restore is current.
	StartCmd string
	StopCmd  string
	// StartLog receives the start command's output (default
	// $TMPDIR/lifeboat-redis-<node>-start.log).
	StartLog string
	// DataDir is the data directory to restore into when Redis is down and
	// cannot report its own (CONFIG GET dir).
	DataDir string
	S3      RedisS3API
	// PartSize is the multipart upload's part size (default 16 MiB, at least 5 MiB).
	PartSize int64
	// PollInterval is how often Redis is polled while saving, stopping,
	// starting and loading (default 200ms).
	PollInterval time.Duration
	// StartTimeout bounds the wait for Redis to answer after StartCmd, and
	// StopTimeout for it to stop answering after StopCmd (default 2m each).
	// Loading a large dataset may take longer: that wait is bounded only by
	// the activity's timeout, and heartbeats with the progress.
	StartTimeout time.Duration
	StopTimeout  time.Duration

	mu     sync.Mutex
	layout *RedisLayout // what Redis last reported, for restores while it is down
	// restoreMu keeps a node's restore steps from overlapping, e.g. an
	// attempt retried after a lost heartbeat while the first still runs.
	restoreMu sync.Mutex
}

func (a *RedisNode) tryLock() bool { return a.restoreMu.TryLock() }

func (a *RedisNode) unlock() { a.restoreMu.Unlock() }

// RedisLayout is where a node keeps its data, from CONFIG GET.
type RedisLayout struct {
	Dir            string `json:"dir"`
	DBFilename     string `json:"dbFilename"`
	AppendOnly     bool   `json:"appendOnly"`
	AppendDirName  string `json:"appendDirName,omitempty"` // empty before Redis 7 (single-file AOF)
	AppendFilename string `json:"appendFilename"`
	RedisVersion   string `json:"redisVersion,omitempty"`
	RunID          string `json:"runId,omitempty"`
	// Assumed says Redis was down: the layout is the sidecar's --redis-dir
	// with Redis's default file names.
	Assumed bool `json:"assumed,omitempty"`
}

// Redis defaults, for a node whose Redis is down.
const (
	defaultDBFilename     = "dump.rdb"
	defaultAppendDirName  = "appendonlydir"
	defaultAppendFilename = "appendonly.aof"
	// asideSuffix marks a node's pre-restore data, kept until the node is
	// back on the restored data.
	asideSuffix   = ".lifeboat-old"
	stagingPrefix = ".lifeboat-restore-"
)

func (a *RedisNode) poll() time.Duration {
	if a.PollInterval > 0 {
		return a.PollInterval
	}
	return 200 * time.Millisecond
}

func (a *RedisNode) startTimeout() time.Duration {
	if a.StartTimeout > 0 {
		return a.StartTimeout
	}
	return 2 * time.Minute
}

func (a *RedisNode) stopTimeout() time.Duration {
	if a.StopTimeout > 0 {
		return a.StopTimeout
	}
	return 2 * time.Minute
}

func (a *RedisNode) partSize() int64 {
	if a.PartSize >= manager.MinUploadPartSize {
		return a.PartSize
	}
	return 16 << 20
}

// errorf names the node in an error.
func (a *RedisNode) errorf(format string, args ...any) error {
	return fmt.Errorf("node %s (%s): %w", a.NodeID, a.Addr, fmt.Errorf(format, args...))
}

func permanent(errType string, err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), errType, err)
}

func (a *RedisNode) client() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: a.Addr, Password: a.Password,
		Protocol: 2, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		DialTimeout:              2 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		MaxRetries: -1, PoolSize: 2,
	})
}

// checkNode refuses work meant for another node: a sidecar started with
// the wrong --redis-node must not back up or overwrite the wrong Redis.
func (a *RedisNode) checkNode(node string) error {
	if node != a.NodeID {
		return permanent(activities.ErrInvalidInput, fmt.Errorf("the sidecar of node %s received work for node %s: check its --redis-node", a.NodeID, node))
	}
	return nil
}

func (a *RedisNode) checkCommands() error {
	var missing []string
	if strings.TrimSpace(a.StartCmd) == "" {
		missing = append(missing, "--redis-start-cmd")
	}
	if strings.TrimSpace(a.StopCmd) == "" {
		missing = append(missing, "--redis-stop-cmd")
	}
	if len(missing) > 0 {
		return permanent(activities.ErrNoStartCommand, a.errorf("cannot restore: its sidecar has no %s, so it cannot stop and start Redis (nothing was changed)",
			strings.Join(missing, " or ")))
	}
	return nil
}

func redisInfo(ctx context.Context, rc *redis.Client, section string) (map[string]string, error) {
	s, err := rc.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	return redisbackup.ParseInfo(s), nil
}

func redisKeyspace(ctx context.Context, rc *redis.Client) (redisbackup.Keyspace, error) {
	m, err := redisInfo(ctx, rc, "keyspace")
	if err != nil {
		return redisbackup.Keyspace{}, err
	}
	return redisbackup.ParseKeyspace(m)
}

// discover asks Redis where it keeps its data, and remembers the answer for
// restores while Redis is down.
func (a *RedisNode) discover(ctx context.Context, rc *redis.Client) (*RedisLayout, error) {
	get := func(name string) (string, error) {
		m, err := rc.ConfigGet(ctx, name).Result()
		if err != nil {
			return "", err
		}
		return m[name], nil
	}
	l := &RedisLayout{}
	var err error
	fields := []struct {
		name string
		into *string
	}{{"dir", &l.Dir}, {"dbfilename", &l.DBFilename}, {"appenddirname", &l.AppendDirName}, {"appendfilename", &l.AppendFilename}}
	for _, f := range fields {
		if *f.into, err = get(f.name); err != nil {
			return nil, a.errorf("Redis does not answer CONFIG GET %s: %w", f.name, err)
		}
	}
	ao, err := get("appendonly")
	if err != nil {
		return nil, a.errorf("Redis does not answer CONFIG GET appendonly: %w", err)
	}
	l.AppendOnly = ao == "yes"
	server, err := redisInfo(ctx, rc, "server")
	if err != nil {
		return nil, a.errorf("Redis does not answer INFO server: %w", err)
	}
	l.RedisVersion, l.RunID = server["redis_version"], server["run_id"]
	if l.Dir == "" || l.DBFilename == "" {
		return nil, a.errorf("Redis reports no data directory or dump file name")
	}
	a.mu.Lock()
	saved := *l
	a.layout = &saved
	a.mu.Unlock()
	return l, nil
}

// layoutForRestore is the node's layout: from Redis if it answers, else
// what it last reported to this sidecar, else --redis-dir with defaults.
func (a *RedisNode) layoutForRestore(ctx context.Context, rc *redis.Client, persistence string) (*RedisLayout, error) {
	if a.answers() {
		return a.discover(ctx, rc)
	}
	a.mu.Lock()
	last := a.layout
	a.mu.Unlock()
	if last != nil {
		l := *last
		return &l, nil
	}
	if a.DataDir == "" {
		return nil, permanent(activities.ErrInvalidInput, a.errorf("Redis does not answer, and its sidecar has no --redis-dir to restore into"))
	}
	return &RedisLayout{
		Dir: a.DataDir, DBFilename: defaultDBFilename, AppendDirName: defaultAppendDirName, AppendFilename: defaultAppendFilename,
		AppendOnly: persistence == redisbackup.FormatAOF, Assumed: true,
	}, nil
}

// answers reports whether anything accepts connections on the node's address.
func (a *RedisNode) answers() bool {
	c, err := net.DialTimeout("tcp", a.Addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RedisNodeBackupInput asks a node's sidecar to back the node up.
type RedisNodeBackupInput struct {
	Cluster string `json:"cluster"`
	Node    string `json:"node"`
	// Format is rdb or aof.
	Format string `json:"format"`
	Bucket string `json:"bucket"`
	// Folder is the node's folder of the backup (no trailing slash).
	Folder string `json:"folder"`
}

// RedisNodeBackupResult is the node's part of the cluster manifest.
type RedisNodeBackupResult struct {
	redisbackup.Node
}

// BackupNode persists the node's data (BGSAVE, or BGREWRITEAOF for AOF),
// waits for it to finish and checks it succeeded, then uploads the file
// (every part of a multi-part AOF) to the node's folder with a multipart
// upload, hashing it with SHA-256 on the way. The key count is read right
// around the moment the file was cut, so the restore can check it.
func (a *RedisNode) BackupNode(ctx context.Context, in RedisNodeBackupInput) (*RedisNodeBackupResult, error) {
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

	out := &RedisNodeBackupResult{Node: redisbackup.Node{
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
		sum, n, err := a.upload(ctx, in.Bucket, key, f.open(), progress)
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
func (a *RedisNode) waitIdle(ctx context.Context, rc *redis.Client, what string, step *atomic.Pointer[string]) error {
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
func (a *RedisNode) snapshotRDB(ctx context.Context, rc *redis.Client, l *RedisLayout, step *atomic.Pointer[string]) (*redisCut, error) {
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
func (a *RedisNode) snapshotAOF(ctx context.Context, rc *redis.Client, l *RedisLayout, step *atomic.Pointer[string]) (*redisCut, error) {
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

// upload streams r to s3://bucket/key with the transfer manager (a
// multipart upload above one part), hashing what it sends.
func (a *RedisNode) upload(ctx context.Context, bucket, key string, r io.Reader, progress *transferProgress) (string, int64, error) {
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(r, h), progress: progress}
	// The reader hides io.Seeker and io.ReaderAt, so the uploader reads it
	// once, in order, and the hash is of exactly the bytes sent.
	//lint:ignore SA1019 feature/s3/manager is deprecated for transfermanager, which is still pre-1.0.
	up := manager.NewUploader(a.S3, func(u *manager.Uploader) {
		u.PartSize = a.partSize()
		u.Concurrency = 2
	})
	//lint:ignore SA1019 see above.
	if _, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: counted}); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), counted.n, nil
}

type countingReader struct {
	r        io.Reader
	n        int64
	progress *transferProgress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress.add(int64(n))
	return n, err
}

// transferProgress reports a node's transfer in its heartbeats.
type transferProgress struct {
	step        *atomic.Pointer[string]
	verb        string
	done, total int64
	last        time.Time
}

func (p *transferProgress) add(n int64) {
	p.done += n
	if time.Since(p.last) < time.Second && p.done < p.total {
		return
	}
	p.last = time.Now()
	setStep(p.step, fmt.Sprintf("%s %d of %d bytes", p.verb, p.done, p.total))
}
