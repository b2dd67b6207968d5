package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	tclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// Schedule is when and how a Temporal Schedule starts Lifeboat runs.
type Schedule struct {
	// ID names the schedule (letters, digits, '-', '_', '.').
	ID string
	// Cron is a cron expression ("0 2 * * *", "@daily"); or set Every.
	Cron string
	// Every is a fixed interval ("every 6h"); or set Cron.
	Every time.Duration
	// TimeZone interprets Cron (IANA name); UTC when empty.
	TimeZone string
	// Overlap is what happens when a run is due while the last still
	// runs: Skip (the default), BufferOne, BufferAll, CancelOther,
	// TerminateOther or AllowAll.
	Overlap enumspb.ScheduleOverlapPolicy
	// CatchupWindow is how late a missed run (server down) may still
	// start; one minute when zero.
	CatchupWindow time.Duration
	// PauseOnFailure pauses the schedule when a run fails.
	PauseOnFailure bool
	// Paused creates the schedule paused.
	Paused bool
	// Note is shown with the schedule.
	Note string
	// RPO is the recovery point objective of what the runs back up: a
	// backup older than it is overdue (lifeboat_rpo_target_seconds, the
	// overdue-backup alert). The schedule's Interval when zero.
	RPO time.Duration
}

// DefaultCatchupWindow is the catch-up window of schedules that set none.
const DefaultCatchupWindow = 10 * time.Minute

// ScheduledWorkflowID is the workflow id prefix of a schedule's runs; the
// server appends each run's scheduled time.
func ScheduledWorkflowID(scheduleID string) string { return "scheduled-" + scheduleID }

// ParseOverlap reads an overlap policy name (skip, buffer-one, buffer-all,
// cancel-other, terminate-other, allow-all; any case, '-' or '_').
func ParseOverlap(s string) (enumspb.ScheduleOverlapPolicy, error) {
	key := strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(strings.TrimSpace(s)))
	v, ok := enumspb.ScheduleOverlapPolicy_value["SCHEDULE_OVERLAP_POLICY_"+key]
	if !ok || v == 0 {
		return 0, &InvalidInputError{Msg: fmt.Sprintf("--overlap %q: want one of skip, buffer-one, buffer-all, cancel-other, terminate-other, allow-all", s)}
	}
	return enumspb.ScheduleOverlapPolicy(v), nil
}

// OverlapName is the short name of an overlap policy ("skip").
func OverlapName(p enumspb.ScheduleOverlapPolicy) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(enumspb.ScheduleOverlapPolicy_name[int32(p)], "SCHEDULE_OVERLAP_POLICY_")), "_", "-")
}

// Check refuses a schedule without a valid id or timetable.
func (s Schedule) Check() error {
	if err := ids.Validate("schedule", s.ID); err != nil {
		return &InvalidInputError{Msg: err.Error()}
	}
	switch {
	case s.Cron == "" && s.Every == 0:
		return &InvalidInputError{Msg: "give a cron expression or an interval (--cron or --every)"}
	case s.Cron != "" && s.Every != 0:
		return &InvalidInputError{Msg: "give either a cron expression or an interval, not both"}
	case s.Every < 0 || (s.Every > 0 && s.Every < time.Second):
		return &InvalidInputError{Msg: fmt.Sprintf("interval %s: want at least 1s", s.Every)}
	case s.CatchupWindow < 0:
		return &InvalidInputError{Msg: "the catch-up window cannot be negative"}
	case s.RPO < 0 || (s.RPO > 0 && s.RPO < time.Second):
		return &InvalidInputError{Msg: fmt.Sprintf("RPO %s: want at least 1s", s.RPO)}
	}
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			return &InvalidInputError{Msg: fmt.Sprintf("time zone %q: %v", s.TimeZone, err)}
		}
	}
	return nil
}

// CreateBackupSchedule creates a Temporal Schedule that starts a
// DatasetBackup of in (with its retention policy) on s's timetable.
func (c *Client) CreateBackupSchedule(ctx context.Context, s Schedule, in dataset.BackupInput) error {
	if len(in.Datasets) == 0 {
		return &InvalidInputError{Msg: "no datasets to back up"}
	}
	if r := in.Retention; r != nil && (r.Count < 0 || r.Days < 0) {
		return &InvalidInputError{Msg: "retention: --retain and --retain-days cannot be negative"}
	}
	if in.RPOSeconds == 0 {
		in.RPOSeconds = s.rpoSeconds(time.Now())
	}
	d := in.Datasets[0]
	summary := "scheduled " + summarize("backup", d.EnvID, d.DatasetID, len(in.Datasets), d.BackupLocation)
	return c.createSchedule(ctx, s, dataset.BackupName, "backup", summary, in)
}

// CreateSnapshotsSchedule creates a Temporal Schedule that starts a
// SnapshotRun (a chain per region) on s's timetable.
func (c *Client) CreateSnapshotsSchedule(ctx context.Context, s Schedule, in ebs.RunInput) error {
	if len(in.Regions) == 0 {
		return &InvalidInputError{Msg: "no regions given"}
	}
	for _, r := range in.Regions {
		if !ebstags.ValidRegion(r) {
			return &InvalidInputError{Msg: fmt.Sprintf("%q is not an AWS region name (like us-east-1)", r)}
		}
	}
	if in.RPOSeconds == 0 {
		in.RPOSeconds = s.rpoSeconds(time.Now())
	}
	summary := "scheduled EBS snapshots in " + strings.Join(in.Regions, ", ")
	return c.createSchedule(ctx, s, ebs.RunName, "snapshots-run", summary, in)
}

func (c *Client) createSchedule(ctx context.Context, s Schedule, wfType, op, summary string, in any) error {
	if err := s.Check(); err != nil {
		return err
	}
	if s.Overlap == enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED {
		s.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
	}
	if s.CatchupWindow == 0 {
		s.CatchupWindow = DefaultCatchupWindow
	}
	spec := tclient.ScheduleSpec{TimeZoneName: s.TimeZone}
	if s.Cron != "" {
		spec.CronExpressions = []string{s.Cron}
	} else {
		spec.Intervals = []tclient.ScheduleIntervalSpec{{Every: s.Every}}
	}
	sa := temporal.NewSearchAttributes(workflows.SAScheduleID.ValueSet(s.ID), workflows.SAOperation.ValueSet(op))
	// The server returns cron expressions as calendars; keep the user's words.
	shown := s.Cron
	if s.Every > 0 {
		shown = "every " + s.Every.String()
	}
	if s.TimeZone != "" {
		shown += " (" + s.TimeZone + ")"
	}
	_, err := c.Temporal.ScheduleClient().Create(ctx, tclient.ScheduleOptions{
		ID:   s.ID,
		Spec: spec,
		Action: &tclient.ScheduleWorkflowAction{
			ID:                    ScheduledWorkflowID(s.ID),
			Workflow:              wfType,
			Args:                  []any{in},
			TaskQueue:             c.TaskQueue,
			TypedSearchAttributes: sa,
			StaticSummary:         summary,
		},
		Overlap:               s.Overlap,
		CatchupWindow:         s.CatchupWindow,
		PauseOnFailure:        s.PauseOnFailure,
		Paused:                s.Paused,
		Note:                  s.Note,
		Memo:                  map[string]any{specMemo: shown},
		TypedSearchAttributes: sa,
	})
	if err != nil {
		return scheduleError(s.ID, "create", err)
	}
	return nil
}

// scheduleError types the server's answers users can act on.
func scheduleError(id, op string, err error) error {
	var (
		exists   *serviceerror.AlreadyExists
		notFound *serviceerror.NotFound
		invalid  *serviceerror.InvalidArgument
	)
	switch {
	case errors.Is(err, temporal.ErrScheduleAlreadyRunning), errors.As(err, &exists):
		return &InvalidInputError{Msg: fmt.Sprintf("schedule %q already exists", id)}
	case errors.As(err, &notFound):
		return &InvalidInputError{Msg: fmt.Sprintf("no schedule %q", id)}
	case errors.As(err, &invalid):
		return &InvalidInputError{Msg: fmt.Sprintf("schedule %q: %s", id, invalid.Message)}
	}
	return fmt.Errorf("%s schedule %q: %w", op, id, err)
}

// ScheduleSummary is one schedule in a listing.
type ScheduleSummary struct {
	ID           string
	WorkflowType string
	Spec         string
	Paused       bool
	Note         string
	NextRun      time.Time
	LastRun      time.Time
}

// ListSchedules lists the namespace's schedules that start Lifeboat
// workflows, by id.
func (c *Client) ListSchedules(ctx context.Context) ([]ScheduleSummary, error) {
	it, err := c.Temporal.ScheduleClient().List(ctx, tclient.ScheduleListOptions{PageSize: 100})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var out []ScheduleSummary
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if !lifeboatWorkflowType(e.WorkflowType.Name) {
			continue
		}
		s := ScheduleSummary{ID: e.ID, WorkflowType: e.WorkflowType.Name, Spec: shownSpec(e.Memo, e.Spec), Paused: e.Paused, Note: e.Note}
		if len(e.NextActionTimes) > 0 {
			s.NextRun = e.NextActionTimes[0]
		}
		if n := len(e.RecentActions); n > 0 {
			s.LastRun = e.RecentActions[n-1].ActualTime
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b ScheduleSummary) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// specMemo is the schedule memo field holding the timetable as given.
const specMemo = "lifeboatSpec"

// shownSpec is the timetable as the user gave it, else as the server has it.
func shownSpec(m *commonpb.Memo, s *tclient.ScheduleSpec) string {
	if p, ok := m.GetFields()[specMemo]; ok {
		var shown string
		if converter.GetDefaultDataConverter().FromPayload(p, &shown) == nil && shown != "" {
			return shown
		}
	}
	return describeSpec(s)
}

func lifeboatWorkflowType(name string) bool {
	switch name {
	case dataset.BackupName, dataset.RestoreName, redis.BackupName,
		redis.RestoreName, ebs.RunName, ebs.ChainName,
		ebs.CreateName, ebs.CopyName, ebs.ExpireName,
		dataset.RestoreTestName, ebs.RestoreTestName:
		return true
	}
	return false
}

func describeSpec(s *tclient.ScheduleSpec) string {
	if s == nil {
		return "-"
	}
	var parts []string
	parts = append(parts, s.CronExpressions...)
	for _, c := range s.Calendars {
		parts = append(parts, calendarString(c))
	}
	for _, i := range s.Intervals {
		parts = append(parts, "every "+i.Every.String())
	}
	if len(parts) == 0 {
		return "-"
	}
	out := strings.Join(parts, "; ")
	if s.TimeZoneName != "" {
		out += " (" + s.TimeZoneName + ")"
	}
	return out
}

// calendarString renders a calendar spec (how the server returns cron
// expressions) in cron's field order: minute hour day-of-month month day-of-week.
func calendarString(c tclient.ScheduleCalendarSpec) string {
	field := func(rs []tclient.ScheduleRange, def string, lo, hi int) string {
		if len(rs) == 0 {
			return def
		}
		if len(rs) == 1 && rs[0].Start == lo && rs[0].End == hi && rs[0].Step <= 1 {
			return "*"
		}
		var ps []string
		for _, r := range rs {
			s := fmt.Sprint(r.Start)
			if r.End > r.Start {
				s += fmt.Sprintf("-%d", r.End)
			}
			if r.Step > 1 {
				s += fmt.Sprintf("/%d", r.Step)
			}
			ps = append(ps, s)
		}
		return strings.Join(ps, ",")
	}
	return strings.Join([]string{
		field(c.Minute, "0", 0, 59), field(c.Hour, "0", 0, 23), field(c.DayOfMonth, "*", 1, 31),
		field(c.Month, "*", 1, 12), field(c.DayOfWeek, "*", 0, 6),
	}, " ")
}

// ScheduleStatus is a schedule's settings and recent history.
type ScheduleStatus struct {
	ID             string
	WorkflowType   string
	Spec           string
	Overlap        string
	CatchupWindow  time.Duration
	PauseOnFailure bool
	Paused         bool
	Note           string
	Input          string
	NextRuns       []time.Time
	// Recent are the latest runs it started, oldest first, with their outcome.
	Recent []ScheduledRun
	// Running are the workflow ids of its runs still going.
	Running        []string
	Actions        int
	SkippedOverlap int
	MissedCatchup  int
}

// ScheduledRun is one run a schedule started.
type ScheduledRun struct {
	WorkflowID  string
	ScheduledAt time.Time
	StartedAt   time.Time
	// Status is RUNNING, COMPLETED, FAILED, ...
	Status string
	// Error is a failed run's one-line reason.
	Error string
}

// DescribeSchedule returns a schedule's settings, next runs and the
// outcome of its recent runs.
func (c *Client) DescribeSchedule(ctx context.Context, id string) (*ScheduleStatus, error) {
	d, err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		return nil, scheduleError(id, "describe", err)
	}
	st := &ScheduleStatus{
		ID: id, Spec: shownSpec(d.Memo, d.Schedule.Spec), NextRuns: d.Info.NextActionTimes,
		Actions: d.Info.NumActions, SkippedOverlap: d.Info.NumActionsSkippedOverlap, MissedCatchup: d.Info.NumActionsMissedCatchupWindow,
	}
	if a, ok := d.Schedule.Action.(*tclient.ScheduleWorkflowAction); ok {
		st.WorkflowType = fmt.Sprint(a.Workflow)
		if len(a.Args) > 0 {
			st.Input = payloadString(a.Args[0])
		}
	}
	if p := d.Schedule.Policy; p != nil {
		st.Overlap, st.CatchupWindow, st.PauseOnFailure = OverlapName(p.Overlap), p.CatchupWindow, p.PauseOnFailure
	}
	if s := d.Schedule.State; s != nil {
		st.Paused, st.Note = s.Paused, s.Note
	}
	for _, r := range d.Info.RunningWorkflows {
		st.Running = append(st.Running, r.WorkflowID)
	}
	for _, a := range d.Info.RecentActions {
		if a.StartWorkflowResult == nil {
			continue
		}
		run := ScheduledRun{WorkflowID: a.StartWorkflowResult.WorkflowID, ScheduledAt: a.ScheduleTime, StartedAt: a.ActualTime}
		run.Status, run.Error = c.runOutcome(ctx, a.StartWorkflowResult.WorkflowID, a.StartWorkflowResult.FirstExecutionRunID)
		st.Recent = append(st.Recent, run)
	}
	return st, nil
}

// runOutcome is a workflow run's status and, when it failed, why.
func (c *Client) runOutcome(ctx context.Context, workflowID, runID string) (string, string) {
	d, err := c.Temporal.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return "UNKNOWN", err.Error()
	}
	status := d.WorkflowExecutionInfo.Status
	name := strings.TrimPrefix(status.String(), "WORKFLOW_EXECUTION_STATUS_")
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_FAILED || status == enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT {
		err := c.Temporal.GetWorkflow(ctx, workflowID, runID).Get(ctx, nil)
		if err != nil {
			return name, Explain(workflowID, err).Error()
		}
	}
	return name, ""
}

// payloadString shows a schedule action's argument as the JSON it holds.
func payloadString(arg any) string {
	if p, ok := arg.(interface{ GetData() []byte }); ok {
		return string(p.GetData())
	}
	return fmt.Sprint(arg)
}

// PauseSchedule pauses a schedule: no runs start until it is unpaused.
func (c *Client) PauseSchedule(ctx context.Context, id, note string) error {
	err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Pause(ctx, tclient.SchedulePauseOptions{Note: note})
	if err != nil {
		return scheduleError(id, "pause", err)
	}
	return nil
}

// UnpauseSchedule resumes a paused schedule.
func (c *Client) UnpauseSchedule(ctx context.Context, id, note string) error {
	err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Unpause(ctx, tclient.ScheduleUnpauseOptions{Note: note})
	if err != nil {
		return scheduleError(id, "unpause", err)
	}
	return nil
}

// TriggerSchedule starts a run now, under the schedule's overlap policy
// (a run due while another runs is skipped with Skip).
func (c *Client) TriggerSchedule(ctx context.Context, id string) error {
	err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Trigger(ctx, tclient.ScheduleTriggerOptions{})
	if err != nil {
		return scheduleError(id, "trigger", err)
	}
	return nil
}

// DeleteSchedule deletes a schedule. Runs it started go on.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	if err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Delete(ctx); err != nil {
		return scheduleError(id, "delete", err)
	}
	return nil
}
