package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// snapshotsVerifyCommand runs the SnapshotsVerify workflow on one group.
func (a *app) snapshotsVerifyCommand() *cobra.Command {
	var in ebs.VerifyInput
	cmd := &cobra.Command{
		Use:   "verify --region R --group-id G",
		Short: "Check a snapshot group: every snapshot present and completed, tags consistent, copies in each Copy_Dest destination",
		Long: `Run the SnapshotsVerify workflow: read the group in the region (its source region, or a
destination holding its copies) and check that every snapshot its group-size tag promises is
present and completed, that the lineage tags agree, and, for a group of primaries, that each
destination its Copy_Dest tag names (a region, or account:region read through the worker's
--ebs-copy-role) holds a completed copy of every snapshot. The outcome is tagged
on the group's snapshots and copies (lifeboat:verified=<time>:<ok|failed>), which snapshots
list shows. Exit 0 when the group is sound, 1 when it is not (one line naming the snapshot,
copy or region at fault), 2 when there is no such group.`,
		Example: `  lifeboat snapshots verify --region us-east-1 --group-id lbg-i-0846123af87f3dfea-20261122`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "region", "group-id"); err != nil {
				return err
			}
			if err := checkRegionFlag("region", in.Region); err != nil {
				return err
			}
			if strings.TrimSpace(in.GroupID) == "" {
				return usagef("--group-id is empty")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			notSound := func(err error, id string) error {
				var failed *client.WorkflowFailedError
				if errors.As(err, &failed) {
					return fmt.Errorf("%s (workflow %s)", failed.Msg, id)
				}
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartSnapshotVerify(ctx, in) })
			if err != nil {
				return notSound(err, run.ID)
			}
			fmt.Fprintf(a.err, "verifying in workflow %s\n", run.ID)
			res, err := c.WaitSnapshotVerify(cmd.Context(), run.ID, a.printSnapshotProgress())
			if err != nil {
				return notSound(err, run.ID)
			}
			what := fmt.Sprintf("group %s (generation %d of %s) in %s is sound: %d snapshot(s) completed", res.GroupID, res.Generation, res.InstanceID, res.Region, res.Snapshots)
			for _, cp := range res.Copies {
				what += fmt.Sprintf(", %d/%d copies in %s", cp.Completed, cp.Total, cp.Region)
			}
			fmt.Fprintln(a.out, what)
			fmt.Fprintf(a.out, "tagged %d snapshot(s) lifeboat:verified=%s\n", res.Tagged, res.Verified)
			return nil
		},
	}
	cmd.Flags().StringVar(&in.Region, "region", "", "region holding the group (its source region, or a copy destination), like us-east-1")
	cmd.Flags().StringVar(&in.GroupID, "group-id", "", "group to check (an id like lbg-<instance>-<YYYYMMDD>, as snapshots list shows it)")
	return cmd
}
