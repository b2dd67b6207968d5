package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) envCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "env", Short: "Manage environments: named sets of datasets that switch stores together",
		Example: "  lifeboat env create --env-id demo\n  lifeboat env show --env-id demo"}
	var envID string
	var out *output
	create := &cobra.Command{
		Use:     "create --env-id E",
		Short:   "Create an environment (and the control table, if missing)",
		Example: "  lifeboat env create --env-id demo",
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
		Use:     "show --env-id E [--output table|json]",
		Short:   "Show an environment's active store and every store it has known",
		Example: "  lifeboat env show --env-id demo --output json",
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
			doc := envJSON{EnvID: e.ID, ActiveStore: e.ActiveStore, CreatedAt: e.CreatedAt, Stores: []storeJSON{}}
			for _, id := range e.StoreIDs() {
				s := e.Stores[id]
				doc.Stores = append(doc.Stores, storeJSON{StoreID: id, Status: s.Status, CreatedAt: s.CreatedAt, WorkflowID: s.WorkflowID})
			}
			return a.render(out, doc, func(tw io.Writer) {
				fmt.Fprintf(tw, "environment %s, active store %s\n", e.ID, e.ActiveStore)
				fmt.Fprintln(tw, "STORE\tSTATUS\tCREATED\tBY WORKFLOW")
				for _, s := range doc.Stores {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.StoreID, s.Status, s.CreatedAt.Format(time.RFC3339), dash(s.WorkflowID))
				}
			})
		},
	}
	show.Flags().StringVar(&envID, "env-id", "", "environment id")
	out = outputFlag(show)
	cmd.AddCommand(create, show)
	return cmd
}

// envJSON is env show's JSON.
type envJSON struct {
	EnvID       string      `json:"envId"`
	ActiveStore string      `json:"activeStore"`
	CreatedAt   time.Time   `json:"createdAt"`
	Stores      []storeJSON `json:"stores"`
}

type storeJSON struct {
	StoreID    string    `json:"storeId"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"createdAt"`
	WorkflowID string    `json:"workflowId,omitempty"`
}

// datasetJSON is one dataset in dataset list's JSON.
type datasetJSON struct {
	EnvID     string `json:"envId"`
	DatasetID string `json:"datasetId"`
	Status    string `json:"status"`
	StoreID   string `json:"storeId"`
	Table     string `json:"table"`
	HeldBy    string `json:"heldBy,omitempty"`
}

func (a *app) datasetCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "dataset", Short: "Manage datasets: DynamoDB tables written through the write gate",
		Example: "  lifeboat dataset create --env-id demo --dataset-id orders\n  lifeboat dataset list --env-id demo"}
	var envID, datasetID string
	var rpo time.Duration
	var out *output
	create := &cobra.Command{
		Use:     "create --env-id E --dataset-id D [--rpo DURATION]",
		Short:   "Create a dataset and its table (point-in-time recovery on)",
		Example: "  lifeboat dataset create --env-id demo --dataset-id orders\n  lifeboat dataset create --env-id prod --dataset-id orders --rpo 6h",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id", "dataset-id"); err != nil {
				return err
			}
			if err := checkRPO(rpo); err != nil {
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
			if rpo > 0 {
				if err := reg.SetDatasetRPO(cmd.Context(), envID, d.ID, rpo); err != nil {
					return fmt.Errorf("dataset %s/%s created, but its RPO target was not set (run dataset set-rpo): %w", envID, d.ID, err)
				}
			}
			e, err := reg.GetEnvironment(cmd.Context(), envID)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "dataset %s/%s created: %s, table %s", envID, d.ID, d.Status, reg.TableName(envID, e.ActiveStore, d.ID))
			if rpo > 0 {
				fmt.Fprintf(a.out, ", RPO target %s", rpo)
			}
			fmt.Fprintln(a.out)
			return nil
		},
	}
	create.Flags().StringVar(&envID, "env-id", "", "environment id")
	create.Flags().StringVar(&datasetID, "dataset-id", "", "dataset id")
	rpoFlag(create, &rpo, "dataset")
	list := &cobra.Command{
		Use:     "list --env-id E [--output table|json]",
		Short:   "List an environment's datasets with their status, store and table",
		Example: "  lifeboat dataset list --env-id demo --output json",
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
			doc := make([]datasetJSON, 0, len(ds))
			for _, d := range ds {
				doc = append(doc, datasetJSON{EnvID: envID, DatasetID: d.ID, Status: d.Status, StoreID: e.ActiveStore,
					Table: reg.TableName(envID, e.ActiveStore, d.ID), HeldBy: d.HeldBy})
			}
			return a.render(out, doc, func(tw io.Writer) {
				fmt.Fprintln(tw, "DATASET\tSTATUS\tSTORE\tTABLE\tHELD BY")
				for _, d := range doc {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.DatasetID, d.Status, d.StoreID, d.Table, dash(d.HeldBy))
				}
				if len(e.Stores) > 1 {
					fmt.Fprintf(tw, "\nstores: %s (active: %s)\n", strings.Join(e.StoreIDs(), ", "), e.ActiveStore)
				}
			})
		},
	}
	list.Flags().StringVar(&envID, "env-id", "", "environment id")
	out = outputFlag(list)
	cmd.AddCommand(create, list, a.datasetSetRPOCommand())
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
