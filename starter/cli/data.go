package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/gateload"
)

func (a *app) dataCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "data", Short: "Read and write a dataset's items through the write gate",
		Example: "  lifeboat data put --env-id demo --dataset-id orders --key k1 --value v1\n  lifeboat data get --env-id demo --dataset-id orders --key k1"}
	var envID, datasetID, key, value, prefix string
	var count, batch, parallel int
	ids := func(c *cobra.Command) {
		c.Flags().StringVar(&envID, "env-id", "", "environment id")
		c.Flags().StringVar(&datasetID, "dataset-id", "", "dataset id")
	}
	put := &cobra.Command{
		Use:     "put --env-id E --dataset-id D --key K --value V",
		Short:   "Write one item (refused with exit code 3 while the dataset is paused)",
		Example: "  lifeboat data put --env-id demo --dataset-id orders --key k1 --value v1",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id", "dataset-id", "key"); err != nil {
				return err
			}
			if err := checkKey(key); err != nil {
				return err
			}
			if err := gate.CheckItem(gate.Item{Key: key, Value: value}); err != nil {
				return usagef("--value: %v", err)
			}
			g, err := a.gate(cmd.Context())
			if err != nil {
				return err
			}
			if err := g.Put(cmd.Context(), envID, datasetID, gate.Item{Key: key, Value: value}); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "put %s\n", key)
			return nil
		},
	}
	ids(put)
	put.Flags().StringVar(&key, "key", "", "item key (1-2048 bytes of UTF-8)")
	put.Flags().StringVar(&value, "value", "", "item value (text)")
	get := &cobra.Command{
		Use:     "get --env-id E --dataset-id D --key K",
		Short:   "Read one item from the active store (exit 2 when the key is not there)",
		Example: "  lifeboat data get --env-id demo --dataset-id orders --key k1",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id", "dataset-id", "key"); err != nil {
				return err
			}
			if err := checkKey(key); err != nil {
				return err
			}
			g, err := a.gate(cmd.Context())
			if err != nil {
				return err
			}
			it, ok, err := g.Get(cmd.Context(), envID, datasetID, key)
			if err != nil {
				return err
			}
			if !ok {
				return &notFoundError{fmt.Errorf("key %q not found in dataset %q", key, envID+"/"+datasetID)}
			}
			fmt.Fprintln(a.out, it.Value)
			return nil
		},
	}
	ids(get)
	get.Flags().StringVar(&key, "key", "", "item key (1-2048 bytes of UTF-8)")
	cnt := &cobra.Command{
		Use:     "count --env-id E --dataset-id D",
		Short:   "Print the number of items in the active store",
		Example: "  lifeboat data count --env-id demo --dataset-id orders",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id", "dataset-id"); err != nil {
				return err
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			n, err := gateload.Count(cmd.Context(), reg, envID, datasetID)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, n)
			return nil
		},
	}
	ids(cnt)
	load := &cobra.Command{
		Use:     "load --env-id E --dataset-id D --count N",
		Short:   "Write N generated items (<prefix>-000001 ...) with a progress bar",
		Example: "  lifeboat data load --env-id demo --dataset-id orders --count 1000",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id", "dataset-id", "count"); err != nil {
				return err
			}
			if count < 1 || batch < 1 || batch > gate.MaxBatch || parallel < 1 {
				return usagef("--count and --parallel must be positive and --batch between 1 and %d", gate.MaxBatch)
			}
			if gate.CheckKey(gateload.ItemKey(prefix, count)) != nil {
				return usagef("--prefix is %d bytes: the keys it makes (%s) must be at most %d bytes",
					len(prefix), gateload.ItemKey("<prefix>", count), gate.MaxKeyBytes)
			}
			g, err := a.gate(cmd.Context())
			if err != nil {
				return err
			}
			progress := a.loadProgress("loading "+envID+"/"+datasetID, count)
			written, err := gateload.Load(cmd.Context(), g, envID, datasetID, prefix, count, batch, parallel, progress)
			if err != nil {
				return fmt.Errorf("after %d items: %w", written, err)
			}
			fmt.Fprintf(a.out, "loaded %d items into %s/%s\n", written, envID, datasetID)
			return nil
		},
	}
	ids(load)
	load.Flags().IntVar(&count, "count", 0, "number of items to write (a number)")
	load.Flags().StringVar(&prefix, "prefix", "item", "key prefix: keys are <prefix>-000001, <prefix>-000002, ...")
	load.Flags().IntVar(&batch, "batch", 50, fmt.Sprintf("items per transaction (1-%d)", gate.MaxBatch))
	load.Flags().IntVar(&parallel, "parallel", 4, "concurrent writers (a number)")
	cmd.AddCommand(put, get, cnt, load)
	return cmd
}

// checkKey refuses, as bad input, a key DynamoDB would refuse, before
// anything is contacted.
func checkKey(key string) error {
	if err := gate.CheckKey(key); err != nil {
		return usagef("--key: %v", err)
	}
	return nil
}
