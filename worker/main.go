// Command worker runs a Lifeboat worker: it executes backup and restore
// workflows and their activities from the task queue. Run as many identical
// workers as you like.
//
// With --redis-node it is instead a Redis node's sidecar: run one beside
// each Redis node; it serves only that node's task queue
// (<task queue>-redis-<node>) with the node-local steps of Redis backups
// and restores.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/worker/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lifeboat worker:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := config.FromEnv()
	flag.StringVar(&cfg.TemporalAddress, "temporal-address", cfg.TemporalAddress, "Temporal frontend host:port (TEMPORAL_ADDRESS)")
	flag.StringVar(&cfg.Namespace, "namespace", cfg.Namespace, "Temporal namespace (TEMPORAL_NAMESPACE)")
	flag.StringVar(&cfg.TaskQueue, "task-queue", cfg.TaskQueue, "task queue to serve (LIFEBOAT_TASK_QUEUE)")
	flag.StringVar(&cfg.ControlTable, "control-table", cfg.ControlTable, "DynamoDB control table (LIFEBOAT_CONTROL_TABLE)")
	flag.StringVar(&cfg.TablePrefix, "table-prefix", cfg.TablePrefix, "prefix of dataset table names (LIFEBOAT_TABLE_PREFIX)")
	flag.DurationVar(&cfg.PollInterval, "poll-interval", cfg.PollInterval, "how often exports and imports are polled (LIFEBOAT_POLL_INTERVAL)")
	node := &redisact.Node{Password: os.Getenv("LIFEBOAT_REDIS_PASSWORD")}
	flag.StringVar(&node.NodeID, "redis-node", "", "run as the sidecar of this Redis node id (as registered with lifeboat redis cluster register)")
	flag.StringVar(&node.Addr, "redis-addr", "127.0.0.1:6379", "sidecar: the node's Redis host:port (password from LIFEBOAT_REDIS_PASSWORD)")
	flag.StringVar(&node.StartCmd, "redis-start-cmd", "", "sidecar: shell command starting Redis, e.g. 'systemctl start redis-server' (restores need it)")
	flag.StringVar(&node.StopCmd, "redis-stop-cmd", "", "sidecar: shell command stopping Redis, e.g. 'systemctl stop redis-server' (restores need it)")
	flag.StringVar(&node.DataDir, "redis-dir", "", "sidecar: Redis's data directory, used only when Redis is down at restore time (else CONFIG GET dir)")
	flag.DurationVar(&node.StartTimeout, "redis-start-timeout", 2*time.Minute, "sidecar: how long Redis may take to answer after the start command")
	flag.DurationVar(&node.StopTimeout, "redis-stop-timeout", 2*time.Minute, "sidecar: how long Redis may take to stop after the stop command")
	metricsAddr := flag.String("metrics-addr", os.Getenv("LIFEBOAT_METRICS_ADDR"), "serve Prometheus metrics on host:port at /metrics, e.g. :9090; off when empty (LIFEBOAT_METRICS_ADDR)")
	registerSA := flag.Bool("register-search-attributes", os.Getenv("LIFEBOAT_REGISTER_SEARCH_ATTRIBUTES") != "false",
		"register Lifeboat's search attributes on the namespace at start-up if missing (LIFEBOAT_REGISTER_SEARCH_ATTRIBUTES=false to only check)")
	flag.Parse()

	// Workflow and activity log lines carry WorkflowID, RunID, ActivityID
	// and friends: the SDK adds them to workflow.GetLogger/activity.GetLogger.
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	aws, err := awsx.Load(ctx)
	if err != nil {
		return err
	}
	opts := client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.Namespace, Logger: tlog.NewStructuredLogger(logger)}
	if *metricsAddr != "" {
		m := metrics.New()
		defer m.Close()
		addr, err := m.Serve(*metricsAddr)
		if err != nil {
			return err
		}
		opts.MetricsHandler = m.Handler()
		logger.Info("Serving Prometheus metrics", "url", fmt.Sprintf("http://%s/metrics", addr))
	}
	c, err := client.Dial(opts)
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
	}
	defer c.Close()
	if node.NodeID != "" {
		w, err := app.NewRedisSidecar(c, cfg, aws, node, worker.Options{})
		if err != nil {
			return err
		}
		logger.Info("Lifeboat Redis sidecar starting", "temporal", cfg.TemporalAddress, "namespace", cfg.Namespace,
			"taskQueue", redisbackup.NodeTaskQueue(cfg.TaskQueue, node.NodeID), "node", node.NodeID, "redis", node.Addr,
			"canRestore", node.StartCmd != "" && node.StopCmd != "")
		return w.Run(worker.InterruptCh())
	}
	if *registerSA {
		if err := app.EnsureSearchAttributes(ctx, c, cfg.Namespace); err != nil {
			return err
		}
	} else if err := app.CheckSearchAttributes(ctx, c, cfg.Namespace); err != nil {
		return err
	}
	w, err := app.New(ctx, c, cfg, aws, worker.Options{})
	if err != nil {
		return err
	}
	logger.Info("Lifeboat worker starting", "temporal", cfg.TemporalAddress, "namespace", cfg.Namespace,
		"taskQueue", cfg.TaskQueue, "controlTable", cfg.ControlTable)
	return w.Run(worker.InterruptCh())
}
