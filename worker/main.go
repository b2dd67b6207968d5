// Command worker runs a Lifeboat worker: it executes backup and restore
// workflows and their activities from the task queue. Run as many identical
// workers as you like.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/config"
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
	flag.Parse()

	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	aws, err := awsx.Load(ctx)
	if err != nil {
		return err
	}
	c, err := client.Dial(client.Options{
		HostPort: cfg.TemporalAddress, Namespace: cfg.Namespace, Logger: tlog.NewStructuredLogger(logger),
	})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
	}
	defer c.Close()
	w, err := app.New(ctx, c, cfg, aws, worker.Options{})
	if err != nil {
		return err
	}
	logger.Info("Lifeboat worker starting", "temporal", cfg.TemporalAddress, "namespace", cfg.Namespace,
		"taskQueue", cfg.TaskQueue, "controlTable", cfg.ControlTable)
	return w.Run(worker.InterruptCh())
}
