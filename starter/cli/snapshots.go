package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/ebsgroups"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

func (a *app) snapshotsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "EBS snapshots: tag-driven create, cross-region copy, expiry, groups and volume restore",
		Long: `EBS snapshots of instances tagged Backup=Yes (Retention=days, Copy_Dest=region[,region]):
create a crash-consistent group per instance and day, copy completed snapshots to Copy_Dest,
expire automated snapshots whose DeleteOn has come (never KeepForever), restore a group's volumes.`,
		Example: `  lifeboat snapshots run --regions us-east-1,us-west-2 --wait
  lifeboat snapshots list --region us-east-1`,
	}
	cmd.AddCommand(a.snapshotsRunCommand(), a.snapshotsStepCommand(client.SnapshotStepCreate),
		a.snapshotsStepCommand(client.SnapshotStepCopy), a.snapshotsStepCommand(client.SnapshotStepExpire),
		a.snapshotsListCommand(), a.snapshotsRestoreCommand(), a.snapshotsVerifyCommand())
	return cmd
}

// snapshotFlags are the options shared by run and the single steps.
type snapshotFlags struct {
	asOf        string
	dryRun      bool
	wait        bool
	maxCopies   int
	copyWindow  time.Duration
	waitTimeout time.Duration
}

func (f *snapshotFlags) add(cmd *cobra.Command, step string) {
	fs := cmd.Flags()
	// Copying does not depend on the date: copy has no --as-of.
	if step != client.SnapshotStepCopy {
		fs.StringVar(&f.asOf, "as-of", "", "evaluate this day instead of today (names the day's groups, starts DeleteOn, decides expiry): "+timeFormats+", a time meaning its UTC date")
	}
	fs.BoolVar(&f.dryRun, "dry-run", false, "change nothing; list what would be done (implies --wait)")
	fs.BoolVar(&f.wait, "wait", false, "wait for the workflow, showing progress; exit non-zero if anything failed")
	if step == "run" || step == client.SnapshotStepCopy {
		f.copyFlags(cmd)
	}
	if step == "run" {
		f.waitFlag(cmd)
	}
}

// copyFlags are the copy limits of run, copy and schedule create snapshots.
func (f *snapshotFlags) copyFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.IntVar(&f.maxCopies, "max-copies", ebs.DefaultMaxConcurrentCopies, "copies in progress at once per destination region (a number)")
	fs.DurationVar(&f.copyWindow, "copy-window", ebs.DefaultCopyWindowSeconds*time.Second, "no copy starts after this; the rest is left for the next run: "+durationFormat)
}

func (f *snapshotFlags) waitFlag(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.waitTimeout, "wait-timeout", ebs.DefaultWaitTimeoutSeconds*time.Second, "how long to wait for new snapshots to complete before copying: "+durationFormat)
}

func (f *snapshotFlags) options() (ebs.Options, error) {
	o := ebs.Options{DryRun: f.dryRun, MaxConcurrentCopies: f.maxCopies,
		CopyWindowSeconds: int(f.copyWindow / time.Second), WaitTimeoutSeconds: int(f.waitTimeout / time.Second)}
	if f.asOf != "" {
		w, err := parseTime("as-of", f.asOf)
		if err != nil {
			return o, err
		}
		o.AsOf = w.day()
	}
	if f.maxCopies < 0 {
		return o, usagef("--max-copies must be at least 1")
	}
	if f.copyWindow < 0 || f.waitTimeout < 0 {
		return o, usagef("durations must not be negative")
	}
	return o, nil
}

func checkRegionFlag(flag, r string) error {
	if !ebstags.ValidRegion(r) {
		return usagef("--%s %q is not an AWS region name (like us-east-1)", flag, r)
	}
	return nil
}

// regionsFlag adds --regions: a comma-separated list, or the flag repeated.
func regionsFlag(cmd *cobra.Command, regions *[]string) {
	cmd.Flags().StringSliceVar(regions, "regions", nil, "regions to run a chain in: comma-separated (us-east-1,us-west-2) or the flag repeated")
}

// checkRegions validates --regions, dropping empty entries.
func checkRegions(regions []string) ([]string, error) {
	var out []string
	for _, r := range regions {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if err := checkRegionFlag("regions", r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, usagef("--regions names no region")
	}
	return out, nil
}

func (a *app) snapshotsRunCommand() *cobra.Command {
	var regions []string
	var f snapshotFlags
	cmd := &cobra.Command{
		Use:   "run --regions us-east-1[,us-west-2] [--wait] [--dry-run] [--as-of DATE]",
		Short: "Run the chain (create, wait, copy, expire) in each region; regions run independently",
		Example: `  lifeboat snapshots run --regions us-east-1,us-west-2 --wait
  lifeboat snapshots run --regions us-east-1 --dry-run --as-of 2026-11-26`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "regions"); err != nil {
				return err
			}
			in := ebs.RunInput{}
			var err error
			if in.Regions, err = checkRegions(regions); err != nil {
				return err
			}
			opts, err := f.options()
			if err != nil {
				return err
			}
			in.Options = opts
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartSnapshotRun(ctx, in) })
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, run.ID)
			if !f.wait && !f.dryRun {
				return nil
			}
			res, err := c.WaitSnapshotRun(cmd.Context(), run.ID, a.printSnapshotProgress())
			if res != nil {
				printRun(a.out, res)
			}
			return err
		},
	}
	regionsFlag(cmd, &regions)
	f.add(cmd, "run")
	return cmd
}

func (a *app) snapshotsStepCommand(step string) *cobra.Command {
	var region string
	var f snapshotFlags
	short := map[string]string{
		client.SnapshotStepCreate: "Snapshot every instance tagged Backup=Yes (one group per instance and day)",
		client.SnapshotStepCopy:   "Copy completed primary snapshots to their Copy_Dest regions",
		client.SnapshotStepExpire: "Delete automated snapshots whose DeleteOn has come, here and in copy destinations",
	}[step]
	use := step + " --region R [--dry-run] [--as-of DATE] [--wait]"
	if step == client.SnapshotStepCopy {
		use = step + " --region R [--dry-run] [--wait]"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: "  lifeboat snapshots " + step + " --region us-east-1 --dry-run\n  lifeboat snapshots " + step + " --region us-east-1 --wait",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "region"); err != nil {
				return err
			}
			if err := checkRegionFlag("region", region); err != nil {
				return err
			}
			opts, err := f.options()
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartSnapshotStep(ctx, step, region, opts) })
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, run.ID)
			if !f.wait && !f.dryRun {
				return nil
			}
			progress := a.printSnapshotProgress()
			switch step {
			case client.SnapshotStepCreate:
				res, err := c.WaitSnapshotCreate(cmd.Context(), run.ID, progress)
				if res != nil {
					printCreate(a.out, res)
				}
				return err
			case client.SnapshotStepCopy:
				res, err := c.WaitSnapshotCopy(cmd.Context(), run.ID, progress)
				if res != nil {
					printCopy(a.out, res)
				}
				return err
			default:
				res, err := c.WaitSnapshotExpire(cmd.Context(), run.ID, progress)
				if res != nil {
					printExpire(a.out, res)
				}
				return err
			}
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "source region, like us-east-1")
	f.add(cmd, step)
	return cmd
}

func (a *app) snapshotsListCommand() *cobra.Command {
	var region, instanceID, groupID string
	var out *output
	cmd := &cobra.Command{
		Use:   "list --region R [--instance-id I] [--group-id G] [--output table|json]",
		Short: "List snapshot groups (and the seed's snapshots, kind seed): generation, state, DeleteOn, copies, last verification",
		Example: `  lifeboat snapshots list --region us-east-1
  lifeboat snapshots list --region us-west-2 --group-id lbg-i-0846123af87f3dfea-20261122 --output json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "region"); err != nil {
				return err
			}
			if err := checkRegionFlag("region", region); err != nil {
				return err
			}
			aws, err := a.awsClients(cmd.Context())
			if err != nil {
				return err
			}
			res, err := ebsgroups.List(cmd.Context(), func(r string) ebsgroups.API { return aws.EC2(r) }, ebsgroups.ListInput{Region: region, InstanceID: instanceID, GroupID: groupID})
			if err != nil {
				return fmt.Errorf("list snapshot groups in %q: %w", region, err)
			}
			groups := res.Groups
			if groups == nil {
				groups = []ebsgroups.Info{}
			}
			return a.render(out, groups, func(tw io.Writer) { printGroups(tw, groups) })
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "region to list, like us-east-1")
	cmd.Flags().StringVar(&instanceID, "instance-id", "", "only this source instance's groups (an EC2 instance id)")
	cmd.Flags().StringVar(&groupID, "group-id", "", "only this group (an id like lbg-<instance>-<YYYYMMDD>, or seed:<snapshot id> for a snapshot of the seed's jobs)")
	out = outputFlag(cmd)
	return cmd
}

func (a *app) snapshotsRestoreCommand() *cobra.Command {
	var in ebs.RestoreInput
	var at string
	var devices []string
	var wait bool
	cmd := &cobra.Command{
		Use:   "restore --region R (--group-id G | --source-instance-id I --at TIME) --target-instance-id T --availability-zone AZ [--wait]",
		Short: "Create a group's volumes in an availability zone and attach them to an instance at their original devices",
		Example: `  lifeboat snapshots restore --region us-east-1 --group-id lbg-i-484eb042ffbdecab8-20261122 \
    --target-instance-id i-c5e58aeeb04e25252 --availability-zone us-east-1a --devices /dev/sdf,/dev/sdg --wait
  lifeboat snapshots restore --region us-west-2 --source-instance-id i-b0b0725a735cf1fbd --at 2026-11-22 \
    --target-instance-id i-ac7bbcc0a17dc00be --availability-zone us-west-2a --wait`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "region", "target-instance-id", "availability-zone"); err != nil {
				return err
			}
			if err := checkRegionFlag("region", in.Region); err != nil {
				return err
			}
			if !strings.HasPrefix(in.AvailabilityZone, in.Region) {
				return usagef("--availability-zone %q is not in region %q", in.AvailabilityZone, in.Region)
			}
			switch {
			case in.GroupID != "" && (in.SourceInstanceID != "" || at != ""):
				return usagef("give --group-id, or --source-instance-id with --at, not both")
			case in.GroupID == "" && (in.SourceInstanceID == "" || at == ""):
				return usagef("give --group-id, or --source-instance-id with --at")
			}
			if at != "" {
				w, err := parseTime("at", at)
				if err != nil {
					return err
				}
				t := w.end()
				in.At = &t
			}
			for _, d := range devices {
				if d = strings.TrimSpace(d); d != "" {
					in.Devices = append(in.Devices, d)
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartSnapshotRestore(ctx, in) })
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, run.ID)
			if !wait {
				return nil
			}
			res, err := c.WaitSnapshotRestore(cmd.Context(), run.ID, a.printSnapshotProgress())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "group %s (generation %d of %s, taken %s) -> %s in %s\n", res.GroupID, res.Generation, res.SourceInstanceID,
				res.CreatedAt.Format(time.RFC3339), res.TargetInstanceID, res.AvailabilityZone)
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DEVICE\tSNAPSHOT\tVOLUME")
			for _, v := range res.Volumes {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Device, v.SnapshotID, v.VolumeID)
			}
			return tw.Flush()
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&in.Region, "region", "", "region holding the group (its source region, or a copy destination), like us-east-1")
	fs.StringVar(&in.GroupID, "group-id", "", "group to restore (an id like lbg-<instance>-<YYYYMMDD>, as snapshots list shows it)")
	fs.StringVar(&in.SourceInstanceID, "source-instance-id", "", "restore this instance's latest group taken at or before --at (an EC2 instance id)")
	fs.StringVar(&at, "at", "", "with --source-instance-id, the latest group taken at or before this moment: "+timeFormats+", a date meaning the end of that day")
	fs.StringVar(&in.TargetInstanceID, "target-instance-id", "", "EC2 instance to attach the volumes to")
	fs.StringVar(&in.AvailabilityZone, "availability-zone", "", "zone to create the volumes in, the target instance's, like us-east-1a")
	fs.StringSliceVar(&devices, "devices", nil, "restore only these devices of the group: comma-separated (/dev/sdf,/dev/sdg) or the flag repeated")
	fs.BoolVar(&wait, "wait", false, "wait for the volumes to be attached; exit non-zero if the restore fails")
	return cmd
}

// printSnapshotProgress prints a line to stderr whenever progress changes.
func (a *app) printSnapshotProgress() func(ebs.Progress) {
	return func(p ebs.Progress) {
		fmt.Fprintf(a.err, "%s  %s\n", time.Now().Format("15:04:05"), p.Summary())
	}
}

func dryRunWord(dry bool, real, would string) string {
	if dry {
		return would
	}
	return real
}

func printRun(w io.Writer, res *ebs.RunResult) {
	fmt.Fprintf(w, "snapshot run for %s\n", res.Date)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tSTATUS\tINSTANCES\tGROUPS NEW\tGROUPS EXISTING\tSNAPSHOTS\tCOPIED\tCOPIES PENDING\tDELETED\tWORKFLOW")
	for _, r := range res.Regions {
		inst, gnew, gold, snaps, copied, pending, deleted := "-", "-", "-", "-", "-", "-", "-"
		if c := r.Chain; c != nil {
			if c.Create != nil {
				inst, gnew, gold, snaps = fmt.Sprint(c.Create.Instances), fmt.Sprint(c.Create.GroupsCreated), fmt.Sprint(c.Create.GroupsExisting), fmt.Sprint(c.Create.Snapshots)
			}
			if c.Copy != nil {
				n, p := 0, 0
				for _, d := range c.Copy.Destinations {
					n += d.Copied
					p += d.Pending + len(d.InFlight)
				}
				copied, pending = fmt.Sprint(n), fmt.Sprint(p)
			}
			if c.Expire != nil {
				deleted = fmt.Sprint(c.Expire.DeletedCount)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Region, r.Status, inst, gnew, gold, snaps, copied, pending, deleted, r.WorkflowID)
	}
	_ = tw.Flush()
	for _, r := range res.Regions {
		if r.Chain != nil && r.Chain.Create != nil {
			for _, p := range r.Chain.Create.Problems {
				fmt.Fprintf(w, "note %s %s: %s\n", r.Region, p.InstanceID, p.Problem)
			}
		}
		if r.Chain != nil {
			for _, s := range r.Chain.Steps {
				if s.Status != ebs.OutcomeOK {
					fmt.Fprintf(w, "%s %s: %s: %s\n", r.Region, s.Step, s.Status, s.Error)
				}
			}
		} else if r.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Region, r.Error)
		}
	}
}

func printCreate(w io.Writer, res *ebs.CreateResult) {
	fmt.Fprintf(w, "%s %s: %d instances with Backup=Yes, %d groups %s (%d snapshots), %d existing, %d failed\n",
		res.Region, res.Date, res.Instances, res.GroupsCreated+res.GroupsToCreate, dryRunWord(res.DryRun, "created", "to create"),
		res.Snapshots, res.GroupsExisting, res.FailedCount)
	if len(res.Groups) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "INSTANCE\tGROUP\tGEN\tSNAPSHOTS\tDELETEON\tSTATUS")
		for _, g := range res.Groups {
			status := "would create"
			switch {
			case g.Created:
				status = "created"
			case g.Existing:
				status = "existing"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", g.InstanceID, g.GroupID, g.Generation, g.Snapshots, g.DeleteOn, status)
		}
		_ = tw.Flush()
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "note %s: %s\n", p.InstanceID, p.Problem)
	}
	for _, f := range res.Failed {
		fmt.Fprintf(w, "failed %s: %s\n", f.InstanceID, f.Message)
	}
}

func printCopy(w io.Writer, res *ebs.CopyResult) {
	if len(res.Destinations) == 0 {
		fmt.Fprintf(w, "%s: nothing to copy (%d primaries not completed yet)\n", res.Region, res.SourcePending)
	}
	for _, d := range res.Destinations {
		if res.DryRun {
			fmt.Fprintf(w, "%s -> %s: %d to copy, %d already copied, %d copies in progress\n", res.Region, d.Destination, d.Pending, d.AlreadyCopied, len(d.InFlight))
			for _, c := range d.Copies {
				fmt.Fprintf(w, "  would copy %s\n", c.SourceSnapshotID)
			}
			continue
		}
		fmt.Fprintf(w, "%s -> %s: %d started, %d completed, %d already copied, %d still in progress, %d left for the next run, %d failed\n",
			res.Region, d.Destination, d.Started, d.Copied, d.AlreadyCopied, len(d.InFlight), d.Pending, d.FailedCount)
		for _, f := range d.Failed {
			fmt.Fprintf(w, "  failed %s: %s\n", f.SnapshotID, f.Message)
		}
		if d.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", d.Error)
		}
	}
	if res.SourcePending > 0 || res.SourceErrored > 0 {
		fmt.Fprintf(w, "%s: %d primaries not completed yet (copied by a later run), %d in the error state (never copied)\n", res.Region, res.SourcePending, res.SourceErrored)
	}
	if res.SeedSkipped > 0 {
		fmt.Fprintf(w, "%s: %d primaries made by the seed's jobs left alone (Lifeboat copies only its own groups)\n", res.Region, res.SeedSkipped)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "note: %s\n", p)
	}
}

func printExpire(w io.Writer, res *ebs.ExpireResult) {
	fmt.Fprintf(w, "%s %s: %d snapshots %s (copy destinations: %s)\n", res.Region, res.Date, res.DeletedCount,
		dryRunWord(res.DryRun, "deleted", "would be deleted"), strings.Join(append([]string{}, res.Destinations...), ", "))
	var rows []ebsact.ExpiredSnapshot
	for _, r := range res.Regions {
		rows = append(rows, r.Deleted...)
	}
	if len(rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REGION\tSNAPSHOT\tDELETEON\tGROUP\tDESCRIPTION")
		for _, s := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Region, s.SnapshotID, s.DeleteOn, dash(s.GroupID), dash(s.Description))
		}
		_ = tw.Flush()
	}
	for _, r := range res.Regions {
		var kept []string
		for _, k := range sortedKept(r.Kept) {
			kept = append(kept, fmt.Sprintf("%d %s", r.Kept[k], k))
		}
		if len(kept) > 0 {
			fmt.Fprintf(w, "%s kept: %s\n", r.Region, strings.Join(kept, ", "))
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "note %s %s: %s\n", r.Region, p.SnapshotID, p.Message)
		}
		for _, f := range r.Failed {
			fmt.Fprintf(w, "failed %s %s: %s\n", r.Region, f.SnapshotID, f.Message)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Region, r.Error)
		}
	}
	for _, c := range res.Carried {
		fmt.Fprintf(w, "KeepForever %s copy %s\n", dryRunWord(res.DryRun, "carried to", "to carry to"), c)
	}
	if res.Error != "" {
		fmt.Fprintf(w, "error: %s\n", res.Error)
	}
}

func sortedKept(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func printGroups(w io.Writer, groups []ebsgroups.Info) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tKIND\tINSTANCE\tGEN\tCREATED\tSNAPSHOTS\tSTATE\tDELETEON\tKEEP\tCOPIES\tVERIFIED\tRESTORE TEST")
	for _, g := range groups {
		copies := "-"
		switch {
		case g.SourceRegion != "":
			copies = "copy from " + g.SourceRegion
		case g.SourceSnapshotID != "":
			copies = "copy of " + g.SourceSnapshotID
		case len(g.Copies) > 0:
			var parts []string
			for _, c := range g.Copies {
				parts = append(parts, fmt.Sprintf("%s %d/%d", c.Region, c.Completed, c.Total))
			}
			copies = strings.Join(parts, ", ")
		}
		keep := "-"
		if g.KeepForever {
			keep = "forever"
		}
		gen := fmt.Sprint(g.Generation)
		if g.Kind == ebsgroups.KindSeed {
			gen = "-" // the seed's snapshots have no generations
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.GroupID, dash(g.Kind), dash(g.InstanceID), gen,
			g.CreatedAt.UTC().Format(time.RFC3339), len(g.Snapshots), g.State, dash(g.DeleteOn), keep, copies, dash(g.Verified), restoreTested(g.RestoreTested))
	}
	_ = tw.Flush()
}

// restoreTested shows a lifeboat:restore-tested value as backup list shows
// restore-test.json: "ok 2026-12-02T03:04:05Z 12.3s".
func restoreTested(v string) string {
	at, outcome, rto, err := ebstags.ParseRestoreTested(v)
	if err != nil {
		return dash(v)
	}
	return fmt.Sprintf("%s %s %.1fs", outcome, at.UTC().Format(time.RFC3339), rto.Seconds())
}
