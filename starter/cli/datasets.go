package cli

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) envCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "env", Short: "Manage environments"}
	var envID string
	create := &cobra.Command{
		Use:   "create --env-id E",
		Short: "Create an environment (and the control table, if missing)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id"); err != nil {
				return err
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			if err := reg.EnsureControlTable(cmd.Context()); err != nil {
				return err
			}
			e, err := reg.CreateEnvironment(cmd.Context(), envID, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "environment %s created, active store %s\n", e.ID, e.ActiveStore)
			return nil
		},
	}
	create.Flags().StringVar(&envID, "env-id", "", "environment id")
	show := &cobra.Command{
		Use:   "show --env-id E",
		Short: "Show an environment's active store and every store it has known",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id"); err != nil {
				return err
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			e, err := reg.GetEnvironment(cmd.Context(), envID)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "environment %s, active store %s\n", e.ID, e.ActiveStore)
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STORE\tSTATUS\tCREATED\tBY WORKFLOW")
			for _, id := range e.StoreIDs() {
				s := e.Stores[id]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", id, s.Status, s.CreatedAt.Format(time.RFC3339), dash(s.WorkflowID))
			}
			return tw.Flush()
		},
	}
	show.Flags().StringVar(&envID, "env-id", "", "environment id")
	cmd.AddCommand(create, show)
	return cmd
}

func (a *app) datasetCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "dataset", Short: "Manage datasets"}
	var envID, datasetID string
	create := &cobra.Command{
		Use:   "create --env-id E --dataset-id D",
		Short: "Create a dataset and its table (point-in-time recovery on)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id", "dataset-id"); err != nil {
				return err
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			d, err := reg.CreateDataset(cmd.Context(), envID, datasetID, time.Now())
			if err != nil {
				return err
			}
			e, err := reg.GetEnvironment(cmd.Context(), envID)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "dataset %s/%s created: %s, table %s\n", envID, d.ID, d.Status, reg.TableName(envID, e.ActiveStore, d.ID))
			return nil
		},
	}
	create.Flags().StringVar(&envID, "env-id", "", "environment id")
	create.Flags().StringVar(&datasetID, "dataset-id", "", "dataset id")
	list := &cobra.Command{
		Use:   "list --env-id E",
		Short: "List an environment's datasets with their status, store and table",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id"); err != nil {
				return err
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			e, err := reg.GetEnvironment(cmd.Context(), envID)
			if err != nil {
				return err
			}
			ds, err := reg.ListDatasets(cmd.Context(), envID)
			if err != nil {
				return err
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DATASET\tSTATUS\tSTORE\tTABLE\tHELD BY")
			for _, d := range ds {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, d.Status, e.ActiveStore, reg.TableName(envID, e.ActiveStore, d.ID), dash(d.HeldBy))
			}
			if len(e.Stores) > 1 {
				fmt.Fprintf(tw, "\nstores: %s (active: %s)\n", strings.Join(e.StoreIDs(), ", "), e.ActiveStore)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&envID, "env-id", "", "environment id")
	cmd.AddCommand(create, list)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
