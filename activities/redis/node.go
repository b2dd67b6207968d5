// Package redis holds the Redis activities: Clusters (cluster.go) plans
// and records a cluster's backups and restores from anywhere; Node runs
// on a node's sidecar and reads, stops, starts and replaces that node's files.
package redis

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// S3API is the part of the S3 client a node's sidecar needs: reads,
// and the calls of a multipart upload.
type S3API interface {
	backupstore.API
	manager.UploadAPIClient
}

// Node acts on one Redis node from the node's own machine: it reads
// the node's dump and append-only files, stops and starts Redis and puts
// files in place. It is registered only on the node's sidecar worker, which
// serves task queue <task queue>-redis-<node>; workflows route its
// activities there.
type Node struct {
	NodeID   string
	Addr     string
	Password string
	// StartCmd and StopCmd start and stop Redis (sh -c). Restores need both.
	// StartCmd may keep running (a foreground redis-server) or return once
	// Redis is launched (systemctl start); StopCmd must return once Redis is
	// stopping. It need not save: Lifeboat clears the save points before
	// running it (the data kept aside during a restore is what Redis last
	// persisted), and a forced save (SHUTDOWN SAVE) only lengthens the
	// downtime.
	StartCmd string
	StopCmd  string
	// StartLog receives the start command's output (default
	// $TMPDIR/lifeboat-redis-<node>-start.log).
	StartLog string
	// DataDir is the data directory to restore into when Redis is down and
	// cannot report its own (CONFIG GET dir).
	DataDir string
	S3      S3API
	// PartSize is the multipart upload's part size and the size of each
	// ranged GET of a download (default 16 MiB, at least 5 MiB).
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
	layout *Layout // what Redis last reported, for restores while it is down
	// restoreMu keeps a node's restore steps from overlapping, e.g. an
	// attempt retried after a lost heartbeat while the first still runs.
	restoreMu sync.Mutex
}

func (a *Node) tryLock() bool { return a.restoreMu.TryLock() }

func (a *Node) unlock() { a.restoreMu.Unlock() }

// Layout is where a node keeps its data, from CONFIG GET.
type Layout struct {
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

func (a *Node) poll() time.Duration {
	if a.PollInterval > 0 {
		return a.PollInterval
	}
	return 200 * time.Millisecond
}

func (a *Node) startTimeout() time.Duration {
	if a.StartTimeout > 0 {
		return a.StartTimeout
	}
	return 2 * time.Minute
}

func (a *Node) stopTimeout() time.Duration {
	if a.StopTimeout > 0 {
		return a.StopTimeout
	}
	return 2 * time.Minute
}

func (a *Node) partSize() int64 {
	if a.PartSize >= manager.MinUploadPartSize {
		return a.PartSize
	}
	return 16 << 20
}

// errorf names the node in an error.
func (a *Node) errorf(format string, args ...any) error {
	return fmt.Errorf("node %s (%s): %w", a.NodeID, a.Addr, fmt.Errorf(format, args...))
}

func permanent(errType string, err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), errType, err)
}

func (a *Node) client() *redis.Client {
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
func (a *Node) checkNode(node string) error {
	if node != a.NodeID {
		return permanent(activities.ErrInvalidInput, fmt.Errorf("the sidecar of node %s received work for node %s: check its --redis-node", a.NodeID, node))
	}
	return nil
}

func (a *Node) checkCommands() error {
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
func (a *Node) discover(ctx context.Context, rc *redis.Client) (*Layout, error) {
	get := func(name string) (string, error) {
		m, err := rc.ConfigGet(ctx, name).Result()
		if err != nil {
			return "", err
		}
		return m[name], nil
	}
	l := &Layout{}
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
func (a *Node) layoutForRestore(ctx context.Context, rc *redis.Client, persistence string) (*Layout, error) {
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
	return &Layout{
		Dir: a.DataDir, DBFilename: defaultDBFilename, AppendDirName: defaultAppendDirName, AppendFilename: defaultAppendFilename,
		AppendOnly: persistence == redisbackup.FormatAOF, Assumed: true,
	}, nil
}

// answers reports whether anything accepts connections on the node's address.
func (a *Node) answers() bool {
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

// setStep records the step a long activity is at, for its heartbeats.
func setStep(step *atomic.Pointer[string], s string) { step.Store(&s) }
