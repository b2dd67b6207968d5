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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	tclient "go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/buildinfo"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/temporalconn"
	"github.com/lifeboat-dev/lifeboat/worker/app"
)

// Exit codes, as the lifeboat CLI's.
const (
	exitFailure = 1
	exitInvalid = 2 // bad flags or settings: nothing was started
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the worker until ctx ends and returns the exit code. Errors
// are one line on stderr; logs are JSON lines on stderr too.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, _ := command(stderr)
	cmd.SetArgs(longFlags(cmd.Flags(), args))
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "lifeboat worker: "+strings.Join(strings.Fields(err.Error()), " "))
	var usage usageError
	var conf *temporalconn.ConfigError
	if errors.As(err, &usage) || errors.As(err, &conf) {
		return exitInvalid
	}
	return exitFailure
}

const envHelp = `
Environment (flags override; each flag names its variable):
` + temporalconn.EnvHelp + `

AWS (the AWS SDK's own settings):
  AWS_REGION                                    region of DynamoDB and S3 (required)
  AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE
                                                profile of the shared config and credentials files
  AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_<SERVICE>)
                                                another endpoint, e.g. an emulator (S3 then uses path-style)
  credentials                                   the SDK's default chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
                                                (/AWS_SESSION_TOKEN), web identity (AWS_ROLE_ARN with
                                                AWS_WEB_IDENTITY_TOKEN_FILE, as EKS sets), the profile's SSO or
                                                role, the ECS task role, the EC2 instance role

Redis sidecar:
  LIFEBOAT_REDIS_PASSWORD                       the node's Redis password

Health (on --metrics-addr, beside /metrics): GET /healthz answers 200 while the
process runs; GET /readyz answers 200 once the worker polls its task queue, 503
before and while it stops.`

// settings are the worker's flags.
type settings struct {
	cfg         config.Config
	conn        temporalconn.Flags
	node        redisact.Node
	metricsAddr string
	registerSA  bool
}

func command(stderr io.Writer) (*cobra.Command, *settings) {
	s := &settings{cfg: config.FromEnv(), node: redisact.Node{Password: os.Getenv("LIFEBOAT_REDIS_PASSWORD")}}
	info := buildinfo.Read()
	cmd := &cobra.Command{
		Use:   "worker [flags]",
		Short: "Run a Lifeboat worker, or with --redis-node a Redis node's sidecar",
		Long: `Runs a Lifeboat worker: it executes backup and restore workflows and their
activities from the task queue. Run as many identical workers as you like.

With --redis-node it is instead a Redis node's sidecar: run one beside each Redis
node; it serves only that node's task queue (<task queue>-redis-<node>) with the
node-local steps of Redis backups and restores.`,
		Version: info.Version,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected argument %q: the worker takes flags only", args[0])}
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return s.serve(cmd.Context(), stderr)
		},
	}
	cmd.SetVersionTemplate(info.Text("lifeboat worker"))
	cmd.SetUsageTemplate(cmd.UsageTemplate() + envHelp + "\n")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f := cmd.Flags()
	s.conn.AddFlags(f)
	f.StringVar(&s.cfg.TaskQueue, "task-queue", s.cfg.TaskQueue, "task queue to serve (LIFEBOAT_TASK_QUEUE)")
	f.StringVar(&s.cfg.ControlTable, "control-table", s.cfg.ControlTable, "DynamoDB control table (LIFEBOAT_CONTROL_TABLE)")
	f.StringVar(&s.cfg.TablePrefix, "table-prefix", s.cfg.TablePrefix, "prefix of dataset table names (LIFEBOAT_TABLE_PREFIX)")
	f.DurationVar(&s.cfg.PollInterval, "poll-interval", s.cfg.PollInterval, "how often exports and imports are polled (LIFEBOAT_POLL_INTERVAL)")
	f.BoolVar(&s.cfg.AllowCheckCommands, "allow-check-commands", s.cfg.AllowCheckCommands,
		"run restore tests' --check-command on this worker (LIFEBOAT_ALLOW_CHECK_COMMANDS=true); whoever may start workflows may then run commands here")
	f.StringVar(&s.cfg.EBSCopyRole, "ebs-copy-role", s.cfg.EBSCopyRole,
		"role ARN for EBS copies into another account (Copy_Dest account:region), {account} standing for it, e.g. arn:aws:iam::{account}:role/lifeboat-ebs-copy (LIFEBOAT_EBS_COPY_ROLE)")
	f.StringVar(&s.cfg.EBSCopyExternalID, "ebs-copy-external-id", s.cfg.EBSCopyExternalID,
		"external id --ebs-copy-role is assumed with, when its trust policy asks for one (LIFEBOAT_EBS_COPY_EXTERNAL_ID)")
	f.StringVar(&s.node.NodeID, "redis-node", "", "run as the sidecar of this Redis node id (as registered with lifeboat redis cluster register)")
	f.StringVar(&s.node.Addr, "redis-addr", "127.0.0.1:6379", "sidecar: the node's Redis host:port (password from LIFEBOAT_REDIS_PASSWORD)")
	f.StringVar(&s.node.StartCmd, "redis-start-cmd", "", "sidecar: shell command starting Redis, e.g. 'systemctl start redis-server' (restores need it)")
	f.StringVar(&s.node.StopCmd, "redis-stop-cmd", "", "sidecar: shell command stopping Redis, e.g. 'systemctl stop redis-server' (restores need it)")
	f.StringVar(&s.node.DataDir, "redis-dir", "", "sidecar: Redis's data directory, used only when Redis is down at restore time (else CONFIG GET dir)")
	f.DurationVar(&s.node.StartTimeout, "redis-start-timeout", 2*time.Minute, "sidecar: how long Redis may take to answer after the start command")
	f.DurationVar(&s.node.StopTimeout, "redis-stop-timeout", 2*time.Minute, "sidecar: how long Redis may take to stop after the stop command")
	f.StringVar(&s.metricsAddr, "metrics-addr", os.Getenv("LIFEBOAT_METRICS_ADDR"), "serve Prometheus metrics at /metrics and health at /healthz, /readyz on host:port, e.g. :9090; off when empty (LIFEBOAT_METRICS_ADDR)")
	f.BoolVar(&s.registerSA, "register-search-attributes", os.Getenv("LIFEBOAT_REGISTER_SEARCH_ATTRIBUTES") != "false",
		"register Lifeboat's search attributes on the namespace at start-up if missing (LIFEBOAT_REGISTER_SEARCH_ATTRIBUTES=false to only check)")
	f.BoolP("version", "v", false, "print the version, commit and Go version")
	return cmd, s
}

// serve connects, starts the worker and runs it until ctx ends.
func (s *settings) serve(ctx context.Context, stderr io.Writer) error {
	// Workflow and activity log lines carry WorkflowID, RunID, ActivityID
	// and friends: the SDK adds them to workflow.GetLogger/activity.GetLogger.
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts, err := s.conn.Load(nil)
	if err != nil {
		return err
	}
	s.cfg.TemporalAddress, s.cfg.Namespace = opts.HostPort, opts.Namespace
	opts.Logger = tlog.NewStructuredLogger(logger)

	aws, err := awsx.Load(ctx)
	if err != nil {
		return err
	}
	health := &health{}
	if s.metricsAddr != "" {
		m := metrics.New()
		defer m.Close()
		health.register(m)
		addr, err := m.Serve(s.metricsAddr)
		if err != nil {
			return err
		}
		opts.MetricsHandler = m.Handler()
		logger.Info("Serving Prometheus metrics and health checks", "url", fmt.Sprintf("http://%s/metrics", addr))
		if s.node.NodeID == "" {
			// Every worker serves the paused datasets (alerts take the max):
			// a pause outlives the worker that took it, so no worker can
			// leave it to the one that paused.
			if err := m.WatchPaused(ctx, app.NewRegistry(s.cfg, aws), metrics.PausedInterval, logger); err != nil {
				return fmt.Errorf("metrics: %w", err)
			}
		}
	}
	if s.node.NodeID != "" {
		// Before anything else, Temporal included: a sidecar that died
		// mid-restore left its node down; bring it back now, not after the
		// restore activity's retry (README, Redis: "A sidecar dies").
		if _, err := s.node.Recover(ctx, logger); err != nil {
			return fmt.Errorf("recover the interrupted restore of node %s: %w", s.node.NodeID, err)
		}
	}
	c, err := temporalconn.Dial(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	fatal := make(chan error, 1)
	w, err := s.build(ctx, c, aws, worker.Options{OnFatalError: func(err error) { fatal <- err }})
	if err != nil {
		return err
	}
	if s.node.NodeID != "" {
		logger.Info("Lifeboat Redis sidecar starting", "temporal", s.cfg.TemporalAddress, "namespace", s.cfg.Namespace,
			"tls", temporalconn.UsesTLS(opts), "taskQueue", redisbackup.NodeTaskQueue(s.cfg.TaskQueue, s.node.NodeID),
			"node", s.node.NodeID, "redis", s.node.Addr, "canRestore", s.node.StartCmd != "" && s.node.StopCmd != "")
	} else {
		logger.Info("Lifeboat worker starting", "temporal", s.cfg.TemporalAddress, "namespace", s.cfg.Namespace,
			"tls", temporalconn.UsesTLS(opts), "taskQueue", s.cfg.TaskQueue, "controlTable", s.cfg.ControlTable)
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	health.setReady(true)
	select {
	case <-ctx.Done():
	case err = <-fatal: // e.g. the namespace was deleted
	}
	// Not ready from the first moment of shutdown, while running tasks finish.
	health.setReady(false)
	logger.Info("Lifeboat worker stopping")
	w.Stop()
	if err != nil {
		return fmt.Errorf("worker stopped: %w", err)
	}
	return nil
}

// build makes the worker, or the Redis sidecar with --redis-node.
func (s *settings) build(ctx context.Context, c tclient.Client, aws *awsx.Clients, opts worker.Options) (worker.Worker, error) {
	if s.node.NodeID != "" {
		return app.NewRedisSidecar(c, s.cfg, aws, &s.node, opts)
	}
	if s.registerSA {
		if err := app.EnsureSearchAttributes(ctx, c, s.cfg.Namespace); err != nil {
			return nil, err
		}
	} else if err := app.CheckSearchAttributes(ctx, c, s.cfg.Namespace); err != nil {
		return nil, err
	}
	return app.New(ctx, c, s.cfg, aws, opts)
}

// usageError is a bad command line: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// longFlags turns the single-dash long flags Go's flag package accepted
// (-task-queue x, -redis-node=n1), which this worker took before it moved
// to cobra, into the double-dash form, so scripts written for it still run.
func longFlags(fs *pflag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if name, _, _ := strings.Cut(a, "="); len(name) > 2 && name[0] == '-' && name[1] != '-' && fs.Lookup(name[1:]) != nil {
			a = "-" + a
		}
		out = append(out, a)
	}
	return out
}
