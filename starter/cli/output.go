package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// output is the --output flag of list and status commands.
type output string

const (
	outputTable output = "table"
	outputJSON  output = "json"
)

func (o *output) String() string { return string(*o) }
func (o *output) Type() string   { return "table|json" }
func (o *output) Set(s string) error {
	switch output(s) {
	case outputTable, outputJSON:
		*o = output(s)
		return nil
	}
	return fmt.Errorf("want table or json")
}

// outputFlag adds --output to a list or status command.
func outputFlag(cmd *cobra.Command) *output {
	o := outputTable
	cmd.Flags().VarP(&o, "output", "o", "table (aligned columns for people) or json (one JSON document, lowerCamel field names, for scripts)")
	return &o
}

// render prints doc as one JSON document, or the table as people read it.
// doc's field names are part of the CLI's interface: change them only with
// a CHANGELOG entry.
func (a *app) render(o *output, doc any, table func(w io.Writer)) error {
	if *o == outputJSON {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}
