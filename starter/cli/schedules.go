package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

func (a *app) scheduleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run backups and snapshot chains on Temporal Schedules",
		Long: `Temporal Schedules start Lifeboat runs on a timetable: the Temporal server keeps
the timetable, so runs start whether or not this machine is up, and show in the
Web UI under Schedules. A run due while the last still runs is skipped by default.`,
	}
	create := &cobra.Command{Use: "create", Short: "Create a schedule"}
	create.AddCommand(a.scheduleBackupCommand(), a.scheduleSnapshotsCommand(), a.scheduleRedisCommand())
	cmd.AddCommand(create, a.scheduleListCommand(), a.scheduleDescribeCommand(),
		a.scheduleActionCommand("pause", "Pause a schedule: no runs start until unpaused"),
		a.scheduleActionCommand("unpause", "Unpause a schedule"),
		a.scheduleActionCommand("trigger", "Start a run now (under the schedule's overlap policy)"),
		a.scheduleActionCommand("delete", "Delete a schedule (runs it started go on)"))
	return cmd
}

// scheduleFlags are the timetable and policy flags of every schedule.
type scheduleFlags struct {
	s       client.Schedule
	overlap string
}

func (f *scheduleFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.s.ID, "schedule-id", "", "schedule id (required)")
	fl.StringVar(&f.s.Cron, "cron", "", `cron expression, e.g. "0 2 * * *" or "@daily" (or --every)`)
	fl.DurationVar(&f.s.Every, "every", 0, "run at this interval, e.g. 6h (or --cron)")
	fl.StringVar(&f.s.TimeZone, "time-zone", "", "IANA time zone of --cron (default UTC)")
	fl.StringVar(&f.overlap, "overlap", "skip", "when a run is due while the last still runs: skip, buffer-one, buffer-all, cancel-other, terminate-other, allow-all")
	fl.DurationVar(&f.s.CatchupWindow, "catchup-window", client.DefaultCatchupWindow, "how late a run missed while Temporal was down may still start")
	fl.BoolVar(&f.s.PauseOnFailure, "pause-on-failure", false, "pause the schedule when a run fails")
	fl.BoolVar(&f.s.Paused, "paused", false, "create the schedule paused")
	fl.StringVar(&f.s.Note, "note", "", "a note shown with the schedule")
}

func (f *scheduleFlags) schedule(cmd *cobra.Command) (client.Schedule, error) {
	if err := requireFlags(cmd, "schedule-id"); err != nil {
		return client.Schedule{}, err
	}
	p, err := client.ParseOverlap(f.overlap)
	if err != nil {
		return client.Schedule{}, err
	}
	f.s.Overlap = p
	return f.s, f.s.Check()
}

func (a *app) scheduleBackupCommand() *cobra.Command {
	var f scheduleFlags
	var envID, datasetID, location, file string
	var retain, retainDays int
	var drain time.Duration
	var verify bool
	cmd := &cobra.Command{
		Use:   "backup --schedule-id S (--env-id E --dataset-id D --backup-location s3://... | --datasets FILE) (--cron EXPR | --every DURATION) [--retain N] [--retain-days D] [--verify]",
		Short: "Back up datasets on a schedule, pruning older backups after each successful run",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.schedule(cmd)
			if err != nil {
				return err
			}
			in := dataset.BackupInput{DrainTimeoutSeconds: int(drain / time.Second), Verify: verify}
			if in.Datasets, err = backupDatasets(cmd, envID, datasetID, location, "", file); err != nil {
				return err
			}
			if retain < 0 || retainDays < 0 {
				return usagef("--retain and --retain-days cannot be negative")
			}
			if retain > 0 || retainDays > 0 {
				in.Retention = &dataset.RetentionPolicy{Count: retain, Days: retainDays}
			}
			for _, d := range in.Datasets {
				if d.PointInTime != nil {
					return usagef("dataset %s/%s: a scheduled backup cannot have a fixed pointInTime", d.EnvID, d.DatasetID)
				}
			}
			if err := a.checkBackupTargets(cmd.Context(), in.Datasets); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.CreateBackupSchedule(cmd.Context(), s, in); err != nil {
				return err
			}
			return a.printScheduleCreated(cmd.Context(), c, s.ID)
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&envID, "env-id", "", "environment id (default for entries of --datasets without envId)")
	fl.StringVar(&datasetID, "dataset-id", "", "dataset id")
	fl.StringVar(&location, "backup-location", "", "s3://bucket/prefix to back up to")
	fl.StringVar(&file, "datasets", "", "JSON file: array of {envId, datasetId, backupLocation}")
	fl.IntVar(&retain, "retain", 0, "after each successful run keep each dataset's newest N backups (0: no count rule)")
	fl.IntVar(&retainDays, "retain-days", 0, "after each successful run keep backups younger than D days (0: no age rule)")
	fl.DurationVar(&drain, "drain-timeout", time.Duration(dataset.DefaultDrainTimeoutSeconds)*time.Second, "how long each run waits for in-flight writes")
	verifyFlag(cmd, &verify)
	return cmd
}

// checkBackupTargets refuses datasets that do not exist and buckets that
// cannot be reached, so a schedule is not created to fail every night.
func (a *app) checkBackupTargets(ctx context.Context, ds []dataset.BackupDataset) error {
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	buckets := map[string]bool{}
	for _, d := range ds {
		if _, err := reg.GetDataset(ctx, d.EnvID, d.DatasetID); err != nil {
			return err
		}
		loc, err := backupstore.ParseLocation(d.BackupLocation)
		if err != nil {
			return err
		}
		if buckets[loc.Bucket] {
			continue
		}
		if _, err := a.aws.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(loc.Bucket)}); err != nil {
			var nf *s3types.NotFound
			if errors.As(err, &nf) {
				return usagef("backup location %s: bucket %s does not exist", d.BackupLocation, loc.Bucket)
			}
			return fmt.Errorf("backup location %s: bucket %s cannot be reached: %v", d.BackupLocation, loc.Bucket, err)
		}
		buckets[loc.Bucket] = true
	}
	return nil
}

func (a *app) scheduleSnapshotsCommand() *cobra.Command {
	var f scheduleFlags
	var regions []string
	var sf snapshotFlags
	cmd := &cobra.Command{
		Use:   "snapshots --schedule-id S --regions r1[,r2] (--cron EXPR | --every DURATION)",
		Short: "Run the EBS snapshot chain (create, wait, copy, expire) per region on a schedule",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.schedule(cmd)
			if err != nil {
				return err
			}
			if err := requireFlags(cmd, "regions"); err != nil {
				return err
			}
			for _, r := range regions {
				if err := checkRegionFlag("regions", r); err != nil {
					return err
				}
			}
			opts, err := sf.options()
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.CreateSnapshotsSchedule(cmd.Context(), s, ebs.RunInput{Regions: regions, Options: opts}); err != nil {
				return err
			}
			return a.printScheduleCreated(cmd.Context(), c, s.ID)
		},
	}
	f.add(cmd)
	fs := cmd.Flags()
	fs.StringSliceVar(&regions, "regions", nil, "regions to run a chain in, comma-separated")
	fs.IntVar(&sf.maxCopies, "max-copies", ebs.DefaultMaxConcurrentCopies, "copies in progress at once per destination region")
	fs.DurationVar(&sf.copyWindow, "copy-window", ebs.DefaultCopyWindowSeconds*time.Second, "no copy starts after this; the rest is left for the next run")
	fs.DurationVar(&sf.waitTimeout, "wait-timeout", ebs.DefaultWaitTimeoutSeconds*time.Second, "how long to wait for new snapshots to complete before copying")
	return cmd
}

func (a *app) printScheduleCreated(ctx context.Context, c *client.Client, id string) error {
	st, err := c.DescribeSchedule(ctx, id)
	if err != nil {
		return err
	}
	next := "-"
	if len(st.NextRuns) > 0 {
		next = st.NextRuns[0].UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(a.out, "schedule %s created: %s, %s, overlap %s, next run %s\n", id, st.WorkflowType, st.Spec, st.Overlap, next)
	return nil
}

func (a *app) scheduleListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List Lifeboat's schedules",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			list, err := c.ListSchedules(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCHEDULE ID\tWORKFLOW\tSPEC\tSTATE\tNEXT RUN\tLAST RUN")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.WorkflowType, s.Spec, scheduleState(s.Paused), timeOrDash(s.NextRun), timeOrDash(s.LastRun))
			}
			return tw.Flush()
		},
	}
}

func scheduleState(paused bool) string {
	if paused {
		return "paused"
	}
	return "active"
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func (a *app) scheduleDescribeCommand() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "describe --schedule-id S",
		Short: "Show a schedule: timetable, policies, next runs and the outcome of recent runs",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "schedule-id"); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			st, err := c.DescribeSchedule(cmd.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "schedule:        %s (%s)\n", st.ID, scheduleState(st.Paused))
			if st.Note != "" {
				fmt.Fprintf(a.out, "note:            %s\n", st.Note)
			}
			fmt.Fprintf(a.out, "workflow:        %s %s\n", st.WorkflowType, st.Input)
			fmt.Fprintf(a.out, "spec:            %s\n", st.Spec)
			fmt.Fprintf(a.out, "policies:        overlap %s, catch-up window %s, pause on failure %t\n", st.Overlap, st.CatchupWindow, st.PauseOnFailure)
			fmt.Fprintf(a.out, "runs:            %d started, %d skipped (overlap), %d missed (catch-up window)\n", st.Actions, st.SkippedOverlap, st.MissedCatchup)
			var next []string
			for _, t := range st.NextRuns[:min(3, len(st.NextRuns))] {
				next = append(next, t.UTC().Format(time.RFC3339))
			}
			fmt.Fprintf(a.out, "next runs:       %s\n", dash(strings.Join(next, ", ")))
			if len(st.Running) > 0 {
				fmt.Fprintf(a.out, "running:         %s\n", strings.Join(st.Running, ", "))
			}
			if len(st.Recent) == 0 {
				fmt.Fprintln(a.out, "recent runs:     none")
				return nil
			}
			fmt.Fprintln(a.out, "recent runs:")
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  STARTED\tWORKFLOW ID\tSTATUS\tERROR")
			for _, r := range st.Recent {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.StartedAt.UTC().Format(time.RFC3339), r.WorkflowID, r.Status, dash(r.Error))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&id, "schedule-id", "", "schedule id (required)")
	return cmd
}

func (a *app) scheduleActionCommand(verb, short string) *cobra.Command {
	var id, note string
	cmd := &cobra.Command{
		Use:   verb + " --schedule-id S",
		Short: short,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "schedule-id"); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			switch verb {
			case "pause":
				err = c.PauseSchedule(ctx, id, note)
			case "unpause":
				err = c.UnpauseSchedule(ctx, id, note)
			case "trigger":
				err = c.TriggerSchedule(ctx, id)
			case "delete":
				err = c.DeleteSchedule(ctx, id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "schedule %s: %s\n", id, map[string]string{
				"pause": "paused", "unpause": "unpaused", "trigger": "triggered (see describe for the run)", "delete": "deleted",
			}[verb])
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "schedule-id", "", "schedule id (required)")
	if verb == "pause" || verb == "unpause" {
		cmd.Flags().StringVar(&note, "note", "", "why (shown with the schedule)")
	}
	return cmd
}
