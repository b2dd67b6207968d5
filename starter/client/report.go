package client

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	tclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/lifeboat-dev/lifeboat/internal/report"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// ReportSource answers `lifeboat report`'s questions from Temporal:
// schedules (what they back up, where to, how often) from the schedules
// themselves, and last failures and backup locations from visibility
// (Lifeboat's search attributes).
func (c *Client) ReportSource() report.Temporal { return reportSource{c} }

type reportSource struct{ c *Client }

// Schedules describes every Lifeboat backup and snapshot schedule.
func (s reportSource) Schedules(ctx context.Context) ([]report.Schedule, error) {
	list, err := s.c.ListSchedules(ctx)
	if err != nil {
		return nil, err
	}
	var out []report.Schedule
	for _, e := range list {
		switch e.WorkflowType {
		case dataset.BackupName, redis.BackupName, ebs.RunName, ebs.ChainName, ebs.CreateName:
		default:
			continue
		}
		d, err := s.c.Temporal.ScheduleClient().GetHandle(ctx, e.ID).Describe(ctx)
		if err != nil {
			if _, gone := scheduleError(e.ID, "describe", err).(*InvalidInputError); gone {
				continue // deleted since it was listed
			}
			return nil, scheduleError(e.ID, "describe", err)
		}
		rs, err := reportSchedule(e.ID, d)
		if err != nil {
			return nil, err
		}
		out = append(out, rs)
	}
	return out, nil
}

// reportSchedule reads what a described schedule backs up and how often.
func reportSchedule(id string, d *tclient.ScheduleDescription) (report.Schedule, error) {
	rs := report.Schedule{ID: id, Interval: scheduleInterval(d.Schedule.Spec, d.Info.NextActionTimes)}
	if st := d.Schedule.State; st != nil {
		rs.Paused = st.Paused
	}
	a, ok := d.Schedule.Action.(*tclient.ScheduleWorkflowAction)
	if !ok || len(a.Args) == 0 {
		return rs, nil
	}
	p, ok := a.Args[0].(*commonpb.Payload)
	if !ok {
		return rs, nil
	}
	decode := func(v any) error {
		if err := converter.GetDefaultDataConverter().FromPayload(p, v); err != nil {
			return fmt.Errorf("schedule %s: decode its input: %w", id, err)
		}
		return nil
	}
	switch fmt.Sprint(a.Workflow) {
	case dataset.BackupName:
		var in dataset.BackupInput
		if err := decode(&in); err != nil {
			return rs, err
		}
		for _, ds := range in.Datasets {
			rs.Datasets = append(rs.Datasets, report.DatasetTarget{EnvID: ds.EnvID, DatasetID: ds.DatasetID, Location: ds.BackupLocation})
		}
	case redis.BackupName:
		var in redis.BackupInput
		if err := decode(&in); err != nil {
			return rs, err
		}
		rs.Redis = []report.RedisTarget{{Cluster: in.Cluster, Location: in.BackupLocation}}
	case ebs.RunName:
		var in ebs.RunInput
		if err := decode(&in); err != nil {
			return rs, err
		}
		rs.Regions = in.Regions
	case ebs.ChainName, ebs.CreateName:
		var in struct {
			Region string `json:"region"`
		}
		if err := decode(&in); err != nil {
			return rs, err
		}
		rs.Regions = []string{in.Region}
	}
	return rs, nil
}

// scheduleInterval is the time between a schedule's runs: the shortest
// --every interval, else (a cron timetable) the longest gap between its
// next runs, which the server lists; 0 when neither says.
func scheduleInterval(spec *tclient.ScheduleSpec, next []time.Time) time.Duration {
	var every time.Duration
	if spec != nil {
		for _, i := range spec.Intervals {
			if every == 0 || i.Every < every {
				every = i.Every
			}
		}
	}
	if every > 0 {
		return every
	}
	var gap time.Duration
	for i := 1; i < len(next); i++ {
		gap = max(gap, next[i].Sub(next[i-1]))
	}
	return gap
}

// failedStatuses are the ends of a backup run that left no backup.
const failedStatuses = "ExecutionStatus IN ('Failed', 'TimedOut', 'Terminated')"

// LastFailure is the resource's newest failed backup run in visibility.
func (s reportSource) LastFailure(ctx context.Context, r report.Resource) (*report.Failure, error) {
	e, err := s.newest(ctx, r, failedStatuses)
	if err != nil || e == nil {
		return nil, err
	}
	f := &report.Failure{
		WorkflowID: e.GetExecution().GetWorkflowId(),
		Status:     strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"),
	}
	if e.CloseTime != nil {
		f.At = e.CloseTime.AsTime().UTC()
	}
	err = s.c.Temporal.GetWorkflow(ctx, f.WorkflowID, e.GetExecution().GetRunId()).Get(ctx, nil)
	f.Reason = strings.ToLower(f.Status)
	if err != nil {
		explained := Explain(f.WorkflowID, err)
		f.Reason = explained.Error()
		if wf, ok := explained.(*WorkflowFailedError); ok {
			f.Reason = wf.Msg
		}
	}
	f.Reason = oneLineMsg(f.Reason)
	return f, nil
}

// LastBackupLocation is the backup location of the resource's newest
// completed backup run in visibility, read from the run's input.
func (s reportSource) LastBackupLocation(ctx context.Context, r report.Resource) (string, error) {
	if r.Kind == report.KindInstance {
		return "", nil
	}
	e, err := s.newest(ctx, r, "ExecutionStatus = 'Completed'")
	if err != nil || e == nil {
		return "", err
	}
	wid, rid := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
	it := s.c.Temporal.GetWorkflowHistory(ctx, wid, rid, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return "", nil
	}
	ev, err := it.Next()
	if err != nil {
		return "", fmt.Errorf("read the input of %s: %w", wid, err)
	}
	ps := ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
	if len(ps) == 0 {
		return "", nil
	}
	dc := converter.GetDefaultDataConverter()
	switch r.Kind {
	case report.KindDataset:
		var in dataset.BackupInput
		if err := dc.FromPayload(ps[0], &in); err != nil {
			return "", fmt.Errorf("decode the input of %s: %w", wid, err)
		}
		for _, d := range in.Datasets {
			if d.EnvID == r.EnvID && d.DatasetID == r.DatasetID {
				return d.BackupLocation, nil
			}
		}
	case report.KindRedis:
		var in redis.BackupInput
		if err := dc.FromPayload(ps[0], &in); err != nil {
			return "", fmt.Errorf("decode the input of %s: %w", wid, err)
		}
		return in.BackupLocation, nil
	}
	return "", nil
}

// reportPage is how many runs one look-up reads: enough to pass over the
// runs of another cluster whose id starts the same (shop, shop-eu).
const reportPage = 20

// newest is the resource's newest backup run matching status, or nil.
func (s reportSource) newest(ctx context.Context, r report.Resource, status string) (*workflowpb.WorkflowExecutionInfo, error) {
	query, match := runQuery(r)
	if query == "" {
		return nil, nil
	}
	query = fmt.Sprintf("%s AND %s AND TaskQueue = '%s'", query, status, quote(s.c.TaskQueue))
	resp, err := s.c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: reportPage})
	if err != nil {
		return nil, fmt.Errorf("list workflows (%s): %w", query, err)
	}
	for _, e := range resp.GetExecutions() {
		if match(e.GetExecution().GetWorkflowId()) {
			return e, nil
		}
	}
	return nil, nil
}

// runQuery is the visibility query of a resource's backup runs, and a
// check of a listed run's workflow id.
func runQuery(r report.Resource) (string, func(string) bool) {
	all := func(string) bool { return true }
	op := workflows.SAOperation.GetName()
	bySchedule := ""
	if len(r.Schedules) > 0 {
		quoted := make([]string, len(r.Schedules))
		for i, id := range r.Schedules {
			quoted[i] = "'" + quote(id) + "'"
		}
		bySchedule = fmt.Sprintf("%s IN (%s)", workflows.SAScheduleID.GetName(), strings.Join(quoted, ", "))
	}
	switch r.Kind {
	case report.KindDataset:
		return fmt.Sprintf("%s = 'backup' AND %s = '%s'", op, workflows.SADatasets.GetName(), quote(r.EnvID+"/"+r.DatasetID)), all
	case report.KindRedis:
		// Redis runs carry no cluster attribute: a run is the cluster's by
		// its id (redis-backup-<cluster>-<time>) or its schedule.
		prefix := "redis-backup-" + r.Cluster + "-"
		who := fmt.Sprintf("WorkflowId STARTS_WITH '%s'", quote(prefix))
		if bySchedule != "" {
			who = "(" + who + " OR " + bySchedule + ")"
		}
		return fmt.Sprintf("%s = 'redis-backup' AND %s", op, who), func(id string) bool {
			rest, ok := strings.CutPrefix(id, prefix)
			return !ok || backupTime.MatchString(rest) // not by prefix: by schedule
		}
	case report.KindInstance:
		ops := []string{"snapshots-run", "snapshots-chain", "snapshots-create"}
		return fmt.Sprintf("%s IN ('%s') AND %s = '%s'", op, strings.Join(ops, "', '"), workflows.SARegions.GetName(), quote(r.Region)), all
	}
	return "", all
}

var backupTime = regexp.MustCompile(`^\d{8}T\d{6}\.\d{3}Z$`)

func quote(s string) string { return strings.ReplaceAll(s, "'", "") }

func oneLineMsg(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:299]) + "…"
	}
	return s
}
