package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/internal/buildinfo"
)

// versionCommand prints the build: module version, commit and Go version.
// It reaches neither Temporal nor AWS.
func (a *app) versionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use: "version [--output table|json]",
		Example: `  lifeboat version
  lifeboat version --output json`,
		Short: "Print Lifeboat's version, commit and Go version",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("version takes no arguments, got %q", args[0])
			}
			return nil
		},
		RunE: func(*cobra.Command, []string) error {
			info := buildinfo.Read()
			switch output {
			case "table", "text":
				_, err := fmt.Fprint(a.out, info.Text("lifeboat"))
				return err
			case "json":
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return usagef("--output %q: want table or json", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
