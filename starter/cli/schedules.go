package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

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
		Example: `  lifeboat schedule create backup --schedule-id orders-nightly --env-id prod --dataset-id orders \
    --backup-location s3://nightly/lb --cron '0 2 * * *' --retain 7
  lifeboat schedule list`,
	}
	create := &cobra.Command{Use: "create", Short: "Create a schedule",
		Example: "  lifeboat schedule create snapshots --schedule-id ebs-nightly --regions us-east-1,us-west-2 --cron '30 3 * * *'"}
	create.AddCommand(a.scheduleBackupCommand(), a.scheduleSnapshotsCommand(), a.scheduleRedisCommand(), a.scheduleRestoreTestCommand())
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
	fl.StringVar(&f.s.ID, "schedule-id", "", "schedule id (required; letters, digits, '-', '_', '.')")
	fl.StringVar(&f.s.Cron, "cron", "", `cron expression: 5 fields like "0 2 * * *", or "@daily" (or --every)`)
	fl.DurationVar(&f.s.Every, "every", 0, "run at this interval (or --cron): "+durationFormat)
	fl.StringVar(&f.s.TimeZone, "time-zone", "", "IANA time zone of --cron, like Europe/Berlin (default UTC)")
	fl.StringVar(&f.overlap, "overlap", "skip", "when a run is due while the last still runs: skip, buffer-one, buffer-all, cancel-other, terminate-other or allow-all")
	fl.DurationVar(&f.s.CatchupWindow, "catchup-window", client.DefaultCatchupWindow, "how late a run missed while Temporal was down may still start: "+durationFormat)
	fl.BoolVar(&f.s.PauseOnFailure, "pause-on-failure", false, "pause the schedule when a run fails")
	fl.BoolVar(&f.s.Paused, "paused", false, "create the schedule paused")
	fl.StringVar(&f.s.Note, "reason", "", "why the schedule exists (free text, shown with it)")
	fl.DurationVar(&f.s.RPO, "rpo", 0, "recovery point objective of backup schedules: a backup older than this is overdue (lifeboat_rpo_target_seconds and its alert; default: the timetable's longest gap between runs): "+durationFormat)
	alias(cmd, "reason", "note")
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
	var bo bucketOptions
	cmd := &cobra.Command{
		Use:   "backup --schedule-id S (--env-id E --dataset-id D --backup-location s3://... | --datasets FILE) (--cron EXPR | --every DURATION) [--retain N] [--retain-days D] [--verify]",
		Short: "Back up datasets on a schedule, pruning older backups after each successful run",
		Example: `  lifeboat schedule create backup --schedule-id orders-nightly --env-id prod --dataset-id orders \
    --backup-location s3://nightly/lb --cron '0 2 * * *' --retain 7 --pause-on-failure
  lifeboat schedule create backup --schedule-id all-6h --env-id prod --datasets datasets.json --every 6h --verify`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.schedule(cmd)
			if err != nil {
				return err
			}
			in := dataset.BackupInput{DrainTimeoutSeconds: int(drain / time.Second), Verify: verify}
			if in.Datasets, err = backupDatasets(cmd, envID, datasetID, location, "", file); err != nil {
				return err
			}
			for i := range in.Datasets {
				bo.apply(&in.Datasets[i])
			}
			if retain < 0 || retainDays < 0 {
				return usagef("--retain and --retain-days cannot be negative")
			}
			if retain > 0 || retainDays > 0 {
				in.Retention = &dataset.RetentionPolicy{Count: retain, Days: retainDays}
			}
			for _, d := range in.Datasets {
				if d.PointInTime != nil {
					return usagef("dataset %q: a scheduled backup cannot have a fixed pointInTime", d.EnvID+"/"+d.DatasetID)
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
	fl.StringVar(&location, "backup-location", "", "where to back up to: s3://bucket/prefix")
	fl.StringVar(&file, "datasets", "", "path of a JSON file: an array of {envId, datasetId, backupLocation, allowUnversioned, kmsKeyId, roleArn, externalId, bucketOwner, copyTo: [{location, roleArn, externalId}]}")
	fl.IntVar(&retain, "retain", 0, "after each successful run keep each dataset's newest N backups (a number; 0: no count rule)")
	fl.IntVar(&retainDays, "retain-days", 0, "after each successful run keep backups younger than D days (a number; 0: no age rule)")
	fl.DurationVar(&drain, "drain-timeout", time.Duration(dataset.DefaultDrainTimeoutSeconds)*time.Second, "how long each run waits for in-flight writes: "+durationFormat)
	verifyFlag(cmd, &verify)
	bo.add(cmd)
	return cmd
}

// checkBackupTargets refuses datasets that do not exist, buckets that
// cannot be reached and unversioned buckets not allowed, so a schedule is
// not created to fail every night.
func (a *app) checkBackupTargets(ctx context.Context, ds []dataset.BackupDataset) error {
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	buckets := map[backupstore.Location]*backupstore.Bucket{} // by bucket and access
	for _, d := range ds {
		if _, err := reg.GetDataset(ctx, d.EnvID, d.DatasetID); err != nil {
			return err
		}
		loc, err := backupstore.ParseLocationWith(d.BackupLocation, d.Access)
		if err != nil {
			return err
		}
		key := loc
		key.Prefix = ""
		b, ok := buckets[key]
		if !ok {
			if b, err = checkBucket(ctx, a.aws.Buckets, loc); err != nil {
				return err
			}
			buckets[key] = b
		}
		if err := b.Require(loc.Bucket, d.AllowUnversioned); err != nil {
			return usageError{err}
		}
	}
	return nil
}

func (a *app) scheduleSnapshotsCommand() *cobra.Command {
	var f scheduleFlags
	var regions []string
	var sf snapshotFlags
	cmd := &cobra.Command{
		Use:     "snapshots --schedule-id S --regions r1[,r2] (--cron EXPR | --every DURATION)",
		Short:   "Run the EBS snapshot chain (create, wait, copy, expire) per region on a schedule",
		Example: "  lifeboat schedule create snapshots --schedule-id ebs-nightly --regions us-east-1,us-west-2 --cron '30 3 * * *'",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.schedule(cmd)
			if err != nil {
				return err
			}
			if err := requireFlags(cmd, "regions"); err != nil {
				return err
			}
			if regions, err = checkRegions(regions); err != nil {
				return err
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
	regionsFlag(cmd, &regions)
	sf.copyFlags(cmd)
	sf.waitFlag(cmd)
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
	var out *output
	cmd := &cobra.Command{
		Use:     "list [--output table|json]",
		Short:   "List Lifeboat's schedules",
		Example: "  lifeboat schedule list --output json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			list, err := c.ListSchedules(cmd.Context())
			if err != nil {
				return err
			}
			doc := make([]scheduleJSON, 0, len(list))
			for _, s := range list {
				doc = append(doc, scheduleJSON{ScheduleID: s.ID, WorkflowType: s.WorkflowType, Spec: s.Spec, Paused: s.Paused,
					Reason: s.Note, NextRun: timeOrNil(s.NextRun), LastRun: timeOrNil(s.LastRun)})
			}
			return a.render(out, doc, func(tw io.Writer) {
				fmt.Fprintln(tw, "SCHEDULE ID\tWORKFLOW\tSPEC\tSTATE\tNEXT RUN\tLAST RUN")
				for _, s := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.WorkflowType, s.Spec, scheduleState(s.Paused), timeOrDash(s.NextRun), timeOrDash(s.LastRun))
				}
			})
		},
	}
	out = outputFlag(cmd)
	return cmd
}

// scheduleJSON is one schedule in schedule list's JSON.
type scheduleJSON struct {
	ScheduleID   string     `json:"scheduleId"`
	WorkflowType string     `json:"workflowType"`
	Spec         string     `json:"spec"`
	Paused       bool       `json:"paused"`
	Reason       string     `json:"reason,omitempty"`
	NextRun      *time.Time `json:"nextRun,omitempty"`
	LastRun      *time.Time `json:"lastRun,omitempty"`
}

// scheduleStatusJSON is schedule describe's JSON.
type scheduleStatusJSON struct {
	ScheduleID              string             `json:"scheduleId"`
	WorkflowType            string             `json:"workflowType"`
	Input                   json.RawMessage    `json:"input,omitempty"`
	Spec                    string             `json:"spec"`
	Overlap                 string             `json:"overlap"`
	CatchupWindowSeconds    int64              `json:"catchupWindowSeconds"`
	PauseOnFailure          bool               `json:"pauseOnFailure"`
	Paused                  bool               `json:"paused"`
	Reason                  string             `json:"reason,omitempty"`
	NextRuns                []time.Time        `json:"nextRuns"`
	Running                 []string           `json:"running"`
	Recent                  []scheduledRunJSON `json:"recent"`
	RunsStarted             int                `json:"runsStarted"`
	RunsSkippedOverlap      int                `json:"runsSkippedOverlap"`
	RunsMissedCatchupWindow int                `json:"runsMissedCatchupWindow"`
}

type scheduledRunJSON struct {
	WorkflowID  string    `json:"workflowId"`
	ScheduledAt time.Time `json:"scheduledAt"`
	StartedAt   time.Time `json:"startedAt"`
	Status      string    `json:"status"`
	Error       string    `json:"error,omitempty"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
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
	var out *output
	cmd := &cobra.Command{
		Use:     "describe --schedule-id S [--output table|json]",
		Short:   "Show a schedule: timetable, policies, next runs and the outcome of recent runs",
		Example: "  lifeboat schedule describe --schedule-id orders-nightly --output json",
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
			if *out == outputJSON {
				return a.render(out, describeJSON(st), nil)
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
	out = outputFlag(cmd)
	return cmd
}

func describeJSON(st *client.ScheduleStatus) scheduleStatusJSON {
	doc := scheduleStatusJSON{
		ScheduleID: st.ID, WorkflowType: st.WorkflowType, Spec: st.Spec, Overlap: st.Overlap,
		CatchupWindowSeconds: int64(st.CatchupWindow / time.Second), PauseOnFailure: st.PauseOnFailure, Paused: st.Paused,
		Reason: st.Note, NextRuns: []time.Time{}, Running: []string{}, Recent: []scheduledRunJSON{},
		RunsStarted: st.Actions, RunsSkippedOverlap: st.SkippedOverlap, RunsMissedCatchupWindow: st.MissedCatchup,
	}
	if json.Valid([]byte(st.Input)) {
		doc.Input = json.RawMessage(st.Input)
	}
	for _, t := range st.NextRuns {
		doc.NextRuns = append(doc.NextRuns, t.UTC())
	}
	doc.Running = append(doc.Running, st.Running...)
	for _, r := range st.Recent {
		doc.Recent = append(doc.Recent, scheduledRunJSON{WorkflowID: r.WorkflowID, ScheduledAt: r.ScheduledAt.UTC(), StartedAt: r.StartedAt.UTC(),
			Status: r.Status, Error: r.Error})
	}
	return doc
}

func (a *app) scheduleActionCommand(verb, short string) *cobra.Command {
	var id, note string
	use := verb + " --schedule-id S"
	if verb == "pause" || verb == "unpause" {
		use += " [--reason TEXT]"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: "  lifeboat schedule " + verb + " --schedule-id orders-nightly" + map[bool]string{true: ` --reason "storage migration"`}[verb == "pause"],
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
		cmd.Flags().StringVar(&note, "reason", "", "why (free text, shown with the schedule)")
		alias(cmd, "reason", "note")
	}
	return cmd
}

// checkBucket reads a backup bucket as the worker will; a missing bucket is
// bad input (exit 2).
func checkBucket(ctx context.Context, api backupstore.BucketAPI, loc backupstore.Location) (*backupstore.Bucket, error) {
	b, err := backupstore.CheckBucket(ctx, api, loc)
	var nb *backupstore.NoBucketError
	if errors.As(err, &nb) {
		return nil, usageError{err}
	}
	if aerr := accessError(loc, err); aerr != nil {
		return nil, aerr
	}
	if err != nil {
		return nil, fmt.Errorf("backup location %s: %w", loc, err)
	}
	return b, nil
}
