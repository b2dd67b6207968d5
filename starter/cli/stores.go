package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// storeCommand is the `store` group: the DynamoDB tables each store of an
// environment holds, and deleting those of stores a restore switched away
// from (the restore keeps them, INACTIVE, for going back by hand).
func (a *app) storeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use: "store",
		Example: `  lifeboat store list --env-id prod
  lifeboat store delete --env-id prod --inactive --dry-run`,
		Short: "List the DynamoDB tables of every store, and delete inactive stores' tables",
		Long: `Every restore populates a new store (one DynamoDB table per dataset) and switches the
environment to it; the store it switched away from is kept, INACTIVE, with its tables, and a
restore that failed leaves its store FAILED. These commands list those tables with DynamoDB's
figures and delete the ones no environment uses: never the active store's, never a store a
restore is populating, never a table Lifeboat did not record.`,
	}
	cmd.AddCommand(a.storeListCommand(), a.storeDeleteCommand())
	return cmd
}

func (a *app) storeListCommand() *cobra.Command {
	var envID, datasetID string
	var out *output
	cmd := &cobra.Command{
		Use: "list [--env-id E] [--dataset-id D] [--output table|json]",
		Example: `  lifeboat store list
  lifeboat store list --env-id prod --dataset-id orders --output json`,
		Short: "List the dataset tables of every store: environment, dataset, store, state, items, size, created",
		Long: `List the dataset tables of every store the control table records, that DynamoDB still has:
environment, dataset, store, table, state (ACTIVE, INACTIVE, CREATING: a restore is populating
it, FAILED: a restore into it failed, DELETING), item count and size as DynamoDB reports them
(DescribeTable, refreshed by DynamoDB about every six hours; no scan) and creation time.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOptionalIDs(map[string]string{"environment": envID, "dataset": datasetID}); err != nil {
				return err
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			tables, err := reg.ListStoreTables(cmd.Context(), registry.StoreFilter{EnvID: envID, DatasetID: datasetID})
			if err != nil {
				return err
			}
			if tables == nil {
				tables = []registry.StoreTable{}
			}
			return a.render(out, tables, func(tw io.Writer) {
				fmt.Fprintln(tw, "ENV\tDATASET\tSTORE\tTABLE\tSTATE\tITEMS\tSIZE\tCREATED")
				for _, t := range tables {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.EnvID, t.DatasetID, t.StoreID, t.Table, t.State,
						t.ItemCount, humanBytes(t.SizeBytes), t.CreatedAt.UTC().Format(time.RFC3339))
				}
			})
		},
	}
	cmd.Flags().StringVar(&envID, "env-id", "", "only this environment's stores")
	cmd.Flags().StringVar(&datasetID, "dataset-id", "", "only this dataset's tables")
	out = outputFlag(cmd)
	return cmd
}

func checkOptionalIDs(byKind map[string]string) error {
	for kind, id := range byKind {
		if id == "" {
			continue
		}
		if err := ids.Validate(kind, id); err != nil {
			return err
		}
	}
	return nil
}

// confirmInput is where `store delete` reads its confirmation: stdin when
// it is a terminal, else nil (then --yes is required). Tests replace it.
var confirmInput = func() io.Reader {
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return os.Stdin
	}
	return nil
}

func (a *app) storeDeleteCommand() *cobra.Command {
	var table, envID string
	var inactive, dryRun, yes bool
	cmd := &cobra.Command{
		Use: "delete (--table T | --env-id E --inactive) [--dry-run] [--yes]",
		Example: `  lifeboat store delete --env-id prod --inactive --dry-run
  lifeboat store delete --env-id prod --inactive --yes
  lifeboat store delete --table lifeboat-prod-orders-s0a1b2c3`,
		Short: "Delete the tables of stores no environment uses (inactive or failed), never the active store's",
		Long: `Delete dataset tables of stores no environment uses: INACTIVE stores (kept by a restore that
switched away from them) and FAILED ones (a restore that did not finish). --table deletes one
table; --env-id E --inactive every such table of the environment. The active store, a store a
restore is populating (CREATING) and any table the control table does not record are refused
(exit 2). Each deletion is recorded in the environment's record before the table goes; a store
with no table left becomes DELETED (lifeboat env show). Asks before deleting unless --yes (which
a non-interactive run needs); --dry-run lists what would be deleted and changes nothing.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			byTable, byEnv := cmd.Flags().Changed("table"), cmd.Flags().Changed("env-id")
			switch {
			case byTable && (byEnv || inactive):
				return usagef("give --table, or --env-id with --inactive, not both")
			case byEnv && !inactive:
				return usagef("--env-id needs --inactive: it deletes every inactive store's tables of the environment (or give --table)")
			case inactive && !byEnv:
				return usagef("--inactive needs --env-id")
			case !byTable && !byEnv:
				return usagef("give --table T, or --env-id E --inactive")
			}
			if byEnv {
				if err := ids.Validate("environment", envID); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			reg, err := a.registry(ctx)
			if err != nil {
				return err
			}
			var targets []registry.StoreTable
			if byTable {
				t, err := reg.ResolveStoreTable(ctx, table)
				if err != nil {
					return storeInputError(err)
				}
				if err := registry.CheckDeletable(t); err != nil {
					return storeInputError(err)
				}
				targets = []registry.StoreTable{t}
			} else {
				all, err := reg.ListStoreTables(ctx, registry.StoreFilter{EnvID: envID})
				if err != nil {
					return err
				}
				for _, t := range all {
					if t.Deletable() {
						targets = append(targets, t)
					}
				}
				if len(targets) == 0 {
					fmt.Fprintf(a.out, "environment %s has no tables of inactive or failed stores: nothing to delete\n", envID)
					return nil
				}
			}
			verb := "will delete"
			if dryRun {
				verb = "would delete (dry run)"
			}
			fmt.Fprintf(a.out, "%s %s:\n", verb, plural(len(targets), "table"))
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  TABLE\tENV\tSTORE\tSTATE\tITEMS\tSIZE")
			for _, t := range targets {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", t.Table, t.EnvID, t.StoreID, t.State, t.ItemCount, humanBytes(t.SizeBytes))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if dryRun {
				return nil
			}
			if !yes {
				if err := a.confirm(fmt.Sprintf("delete %s? This cannot be undone [y/N] ", plural(len(targets), "table"))); err != nil {
					return err
				}
			}
			db, err := a.awsClients(ctx)
			if err != nil {
				return err
			}
			stores := map[string][]string{}
			for _, t := range targets {
				if err := reg.DeleteStoreTable(ctx, db.DynamoDB, t, time.Now()); err != nil {
					return storeInputError(err)
				}
				fmt.Fprintf(a.out, "deleted %s (environment %s, store %s, dataset %s)\n", t.Table, t.EnvID, t.StoreID, t.DatasetID)
				if !slices.Contains(stores[t.EnvID], t.StoreID) {
					stores[t.EnvID] = append(stores[t.EnvID], t.StoreID)
				}
			}
			envs := slices.Sorted(maps.Keys(stores))
			for _, env := range envs {
				e, err := reg.GetEnvironment(ctx, env)
				if err != nil {
					return err
				}
				for _, id := range stores[env] {
					if e.Stores[id].Status == registry.StoreDeleted {
						fmt.Fprintf(a.out, "store %s of environment %s has no table left: marked %s\n", id, env, registry.StoreDeleted)
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&table, "table", "", "the table to delete, as store list shows it")
	f.StringVar(&envID, "env-id", "", "with --inactive: the environment whose inactive stores' tables to delete")
	f.BoolVar(&inactive, "inactive", false, "with --env-id: every table of the environment's INACTIVE and FAILED stores")
	f.BoolVar(&dryRun, "dry-run", false, "list what would be deleted; change nothing")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}

// confirm asks on the terminal; without one it refuses, as nothing can answer.
func (a *app) confirm(question string) error {
	in := confirmInput()
	if in == nil {
		return usagef("not a terminal, so nothing can confirm: give --yes to delete (or --dry-run to look)")
	}
	fmt.Fprint(a.err, question)
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed: nothing deleted")
}

// storeInputError gives refusals about stores the bad-input exit code.
func storeInputError(err error) error {
	var (
		inUse *registry.StoreInUseError
		not   *registry.NotStoreTableError
	)
	if errors.As(err, &inUse) || errors.As(err, &not) {
		return usageError{err}
	}
	return err
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
