// Package cli is the lifeboat command line: cobra commands over the starter
// client, the registry and the write gate.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	tclient "go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/temporalconn"
	"github.com/lifeboat-dev/lifeboat/starter/client"
)

// Exit codes.
const (
	ExitFailure = 1 // the operation failed
	ExitInvalid = 2 // bad input: nothing was changed
	ExitRefused = 3 // a write was refused because the dataset is paused
)

// app holds what commands share; clients are built on first use.
type app struct {
	cfg      config.Config
	out, err io.Writer
	aws      *awsx.Clients
	temporal tclient.Client
	conn     temporalconn.Flags
}

// Main runs the CLI with the process's arguments and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{cfg: config.FromEnv(), out: stdout, err: stderr}
	defer a.close()
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := exitCode(err)
	fmt.Fprintln(stderr, "lifeboat: "+oneLine(err))
	return code
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "lifeboat",
		Short: "Durable backup and restore of DynamoDB datasets, EBS snapshots and Redis, on Temporal",
		Long: `Lifeboat backs up and restores AWS data with Temporal workflows run by lifeboat workers:

  DynamoDB datasets  env, dataset, data, backup-dataset, restore-dataset, backup, backup-status, restore-status
  EBS snapshots      snapshots (tag-driven create, cross-region copy, expiry, groups, volume restore)
  Redis              redis (node and cluster backups to S3 and restores, through sidecar workers)
  Timetables         schedule (Temporal Schedules for backups and snapshot chains)
  Protection         report (every resource's last backup against its RPO target, verification, restore test)

Settings come from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, LIFEBOAT_*, AWS_*); flags override.
Exit codes: 0 success, 1 failure, 2 bad input or not found (nothing was changed), 3 a write refused
because the dataset is paused. Errors are one line on stderr.`,
		Example: `  lifeboat env create --env-id demo
  lifeboat backup-dataset --env-id demo --dataset-id orders --backup-location s3://my-bucket/backups --wait
  lifeboat snapshots run --regions us-east-1,us-west-2 --wait
  lifeboat redis backup --cluster-id shop --backup-location s3://my-bucket/redis --wait
  lifeboat backup-status --output json`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	a.conn.AddFlags(pf) // --temporal-address, --namespace, --api-key, --tls-*: see temporalconn
	pf.StringVar(&a.cfg.TaskQueue, "task-queue", a.cfg.TaskQueue, "Lifeboat task queue (LIFEBOAT_TASK_QUEUE)")
	pf.StringVar(&a.cfg.ControlTable, "control-table", a.cfg.ControlTable, "DynamoDB control table (LIFEBOAT_CONTROL_TABLE)")
	pf.StringVar(&a.cfg.TablePrefix, "table-prefix", a.cfg.TablePrefix, "prefix of dataset table names (LIFEBOAT_TABLE_PREFIX)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SetGlobalNormalizationFunc(kebab)
	root.AddCommand(a.snapshotsCommand(), a.scheduleCommand())
	root.AddCommand(a.envCommand(), a.datasetCommand(), a.dataCommand(),
		a.backupCommand(), a.restoreCommand(), a.statusCommand("backup-status"), a.statusCommand("restore-status"), a.redisCommand())
	root.AddCommand(a.backupsCommand(), a.restoreTestCommand())
	root.AddCommand(a.versionCommand(), a.storeCommand(), a.reportCommand())
	finish(root)
	return root
}

// kebab lets the seed's camelCase flag spellings (--datasetId) stand for the
// kebab-case ones (--dataset-id).
func kebab(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return pflag.NormalizedName(b.String())
}

func (a *app) close() {
	if a.temporal != nil {
		a.temporal.Close()
	}
}

func (a *app) awsClients(ctx context.Context) (*awsx.Clients, error) {
	if a.aws == nil {
		c, err := awsx.Load(ctx)
		if err != nil {
			return nil, err
		}
		a.aws = c
	}
	return a.aws, nil
}

func (a *app) registry(ctx context.Context) (*registry.Registry, error) {
	c, err := a.awsClients(ctx)
	if err != nil {
		return nil, err
	}
	return &registry.Registry{DB: c.DynamoDB, Table: a.cfg.ControlTable, TablePrefix: a.cfg.TablePrefix}, nil
}

func (a *app) gate(ctx context.Context) (*gate.Gate, error) {
	c, err := a.awsClients(ctx)
	if err != nil {
		return nil, err
	}
	return gate.New(c.DynamoDB, gate.Options{ControlTable: a.cfg.ControlTable, TablePrefix: a.cfg.TablePrefix}), nil
}

func (a *app) client() (*client.Client, error) {
	if a.temporal == nil {
		opts, err := a.conn.Load(nil) // temporal.toml profile, TEMPORAL_* variables, then flags
		if err != nil {
			return nil, usageError{err}
		}
		a.cfg.TemporalAddress, a.cfg.Namespace = opts.HostPort, opts.Namespace
		// The SDK's client logs would clutter the terminal; errors reach the user as values.
		opts.Logger = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
		c, err := temporalconn.Dial(context.Background(), opts)
		if err != nil {
			return nil, err
		}
		a.temporal = c
	}
	return client.New(a.temporal, a.cfg.TaskQueue), nil
}

// usageError is bad input found by the CLI itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// notFoundError is a thing named on the command line that does not exist
// (a workflow id, an item key): bad input, exit 2.
type notFoundError struct{ err error }

func (e *notFoundError) Error() string { return e.err.Error() }
func (e *notFoundError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var (
		usage   usageError
		invalid *client.InvalidInputError
		paused  *gate.WritesPausedError
		nf      *registry.NotFoundError
		exists  *registry.AlreadyExistsError
		badID   *ids.InvalidIDError
		badLoc  *backupstore.InvalidLocationError
		missing *notFoundError
	)
	switch {
	case errors.As(err, &paused):
		return ExitRefused
	case errors.As(err, &usage), errors.As(err, &invalid), errors.As(err, &nf), errors.As(err, &exists),
		errors.As(err, &badID), errors.As(err, &badLoc), errors.As(err, &missing):
		return ExitInvalid
	}
	return ExitFailure
}

// oneLine keeps an error to the single line users read.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
