// Package client starts and watches Lifeboat workflows from Go programs: the
// same calls the lifeboat CLI makes.
//
//	c := client.New(temporalClient, "lifeboat")
//	run, err := c.StartBackup(ctx, dataset.BackupInput{Datasets: ...})
//	res, err := c.WaitBackup(ctx, run.ID, func(p dataset.Progress) { ... })
package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	tclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// Client starts, watches and lists Lifeboat workflows.
type Client struct {
	Temporal  tclient.Client
	TaskQueue string
	// PollInterval is how often Wait and WaitValidated query progress.
	PollInterval time.Duration
	// Now is the clock used for workflow ids; tests may replace it.
	Now func() time.Time
}

// New wraps a Temporal client for the given task queue.
func New(c tclient.Client, taskQueue string) *Client {
	return &Client{Temporal: c, TaskQueue: taskQueue, PollInterval: 500 * time.Millisecond, Now: time.Now}
}

// Run identifies a started workflow.
type Run struct {
	ID    string
	RunID string
}

// InvalidInputError says the request was refused before anything changed.
type InvalidInputError struct{ Msg string }

func (e *InvalidInputError) Error() string { return e.Msg }

// WorkflowFailedError says a workflow ended without success; Msg is the
// innermost cause, which is what a user needs to read.
type WorkflowFailedError struct {
	WorkflowID string
	Type       string // application error type, e.g. DrainTimeout
	Msg        string
}

func (e *WorkflowFailedError) Error() string {
	return fmt.Sprintf("workflow %s failed: %s", e.WorkflowID, e.Msg)
}

// StartBackup starts a DatasetBackup and waits until its input has been
// validated. Bad input (over dataset.MaxDatasets, a bad id) returns an
// InvalidInputError before anything is started; a dataset held by
// another run returns a WorkflowFailedError of type DatasetHeld. Either way
// nothing was paused.
func (c *Client) StartBackup(ctx context.Context, in dataset.BackupInput) (Run, error) {
	if err := in.Validate(); err != nil {
		return Run{}, &InvalidInputError{Msg: err.Error()}
	}
	id := dataset.BackupWorkflowID(in, c.Now())
	return c.start(ctx, id, dataset.BackupName, summarize("backup", in.Datasets[0].EnvID, in.Datasets[0].DatasetID, len(in.Datasets), in.Datasets[0].BackupLocation), in)
}

// StartRestore starts a DatasetRestore and waits until its input and backups
// have been validated.
func (c *Client) StartRestore(ctx context.Context, in dataset.RestoreInput) (Run, error) {
	if err := in.Validate(); err != nil {
		return Run{}, &InvalidInputError{Msg: err.Error()}
	}
	id := dataset.RestoreWorkflowID(in, c.Now())
	return c.start(ctx, id, dataset.RestoreName, summarize("restore", in.Datasets[0].EnvID, in.Datasets[0].DatasetID, len(in.Datasets), in.Datasets[0].BackupLocation), in)
}

func summarize(op, env, ds string, n int, loc string) string {
	s := fmt.Sprintf("%s %s/%s", op, env, ds)
	if n > 1 {
		s += fmt.Sprintf(" and %d more", n-1)
	}
	if op == "backup" {
		return s + " to " + loc
	}
	return s + " from " + loc
}

func (c *Client) start(ctx context.Context, id, wfType, summary string, in any) (Run, error) {
	r, err := c.Temporal.ExecuteWorkflow(ctx, tclient.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             c.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		StaticSummary:         summary,
	}, wfType, in)
	if err != nil {
		return Run{}, fmt.Errorf("start %s: %w", wfType, err)
	}
	run := Run{ID: r.GetID(), RunID: r.GetRunID()}
	return run, c.WaitValidated(ctx, run)
}

// failingTaskAttempts is the workflow task attempt from which a run is
// reported as failing rather than waited on: the server retries a failed
// workflow task with a growing backoff, and attempt 3 comes within seconds.
const failingTaskAttempts = 3

// TaskFailingError says a run's workflow task keeps failing on the workers
// (a bug, a panic, the deadlock detector): the run stays Running without
// progressing, and it is not waiting for a worker.
type TaskFailingError struct {
	WorkflowID string
	Attempt    int32
	// Msg is the task's first recorded failure (the server records only
	// the first of a series).
	Msg string
}

func (e *TaskFailingError) Error() string {
	return fmt.Sprintf("workflow %s: its workflow task keeps failing on the workers (attempt %d): %s", e.WorkflowID, e.Attempt, e.Msg)
}

// WaitValidated waits until a workflow has validated its input (or ended).
// A run whose workflow task keeps failing returns a TaskFailingError.
func (c *Client) WaitValidated(ctx context.Context, run Run) error {
	for {
		p, err := c.Progress(ctx, run.ID)
		if err == nil && p.Validated {
			return nil
		}
		closed, cerr := c.closed(ctx, run)
		if cerr != nil {
			return cerr
		}
		if closed {
			err := c.Temporal.GetWorkflow(ctx, run.ID, run.RunID).Get(ctx, nil)
			return Explain(run.ID, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.PollInterval):
		}
	}
}

// closed reports whether a run has ended. A run whose workflow task keeps
// failing returns a TaskFailingError: it would never end nor progress.
func (c *Client) closed(ctx context.Context, run Run) (bool, error) {
	d, err := c.Temporal.DescribeWorkflowExecution(ctx, run.ID, run.RunID)
	if err != nil {
		return false, fmt.Errorf("describe workflow %q: %w", run.ID, err)
	}
	if d.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return true, nil
	}
	if t := d.GetPendingWorkflowTask(); t != nil && t.Attempt >= failingTaskAttempts {
		return false, &TaskFailingError{WorkflowID: run.ID, Attempt: t.Attempt, Msg: c.taskFailure(ctx, run)}
	}
	return false, nil
}

// taskFailure is the message of a run's last recorded workflow task
// failure, from its history.
func (c *Client) taskFailure(ctx context.Context, run Run) string {
	it := c.Temporal.GetWorkflowHistory(ctx, run.ID, run.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	msg := "no failure recorded yet"
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return fmt.Sprintf("%s (history unreadable: %v)", msg, err)
		}
		if a := ev.GetWorkflowTaskFailedEventAttributes(); a != nil {
			msg = strings.TrimPrefix(a.GetCause().String(), "WORKFLOW_TASK_FAILED_CAUSE_") + ": " + a.GetFailure().GetMessage()
		}
	}
	return msg
}

// Progress queries a dataset workflow's progress.
func (c *Client) Progress(ctx context.Context, workflowID string) (*dataset.Progress, error) {
	return queryProgress[dataset.Progress](ctx, c, workflowID, "")
}

// queryProgress runs a workflow's progress query, whatever its progress type.
func queryProgress[P any](ctx context.Context, c *Client, workflowID, runID string) (*P, error) {
	v, err := c.Temporal.QueryWorkflow(ctx, workflowID, runID, workflows.ProgressQuery)
	if err != nil {
		return nil, fmt.Errorf("query progress of workflow %q: %w", workflowID, err)
	}
	var p P
	if err := v.Get(&p); err != nil {
		return nil, fmt.Errorf("decode progress of workflow %q: %w", workflowID, err)
	}
	return &p, nil
}

// WaitBackup waits for a backup to finish, calling onProgress whenever its
// progress changes.
func (c *Client) WaitBackup(ctx context.Context, workflowID string, onProgress func(dataset.Progress)) (*dataset.BackupResult, error) {
	var res dataset.BackupResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}

// WaitRestore waits for a restore to finish, calling onProgress whenever its
// progress changes.
func (c *Client) WaitRestore(ctx context.Context, workflowID string, onProgress func(dataset.Progress)) (*dataset.RestoreResult, error) {
	var res dataset.RestoreResult
	if err := waitFor(ctx, c, workflowID, onProgress, &res); err != nil {
		return nil, Explain(workflowID, err)
	}
	return &res, nil
}

// waitFor waits for a workflow's result into out, calling onProgress (if
// set) whenever its queried progress of type P changes. It returns the
// workflow's own error, for the caller to explain.
func waitFor[P any](ctx context.Context, c *Client, workflowID string, onProgress func(P), out any) error {
	run := c.Temporal.GetWorkflow(ctx, workflowID, "")
	done := make(chan error, 1)
	go func() { done <- run.Get(ctx, out) }()
	poll := c.PollInterval
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	last := ""
	report := func() {
		if onProgress == nil {
			return
		}
		if p, err := queryProgress[P](ctx, c, workflowID, run.GetRunID()); err == nil {
			if key := fmt.Sprintf("%+v", *p); key != last {
				last = key
				onProgress(*p)
			}
		}
	}
	for {
		select {
		case err := <-done:
			report()
			return err
		case <-tick.C:
			report()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Explain turns a workflow's failure into a typed error carrying its
// innermost message: an InvalidInputError for refused requests, a
// WorkflowFailedError otherwise.
func Explain(workflowID string, err error) error {
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if app.Type() == activities.ErrInvalidInput {
			return &InvalidInputError{Msg: app.Message()}
		}
		return &WorkflowFailedError{WorkflowID: workflowID, Type: app.Type(), Msg: app.Message()}
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return &WorkflowFailedError{WorkflowID: workflowID, Type: "Canceled", Msg: "canceled"}
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return &WorkflowFailedError{WorkflowID: workflowID, Type: "Timeout", Msg: timeout.Error()}
	}
	return &WorkflowFailedError{WorkflowID: workflowID, Msg: err.Error()}
}

// RunSummary is one workflow in a listing.
type RunSummary struct {
	WorkflowID string
	RunID      string
	Type       string
	Status     string
	Start      time.Time
	Close      time.Time
	// Datasets and ScheduleID come from the run's search attributes.
	Datasets   []string
	ScheduleID string
}

// RunFilter selects runs by Lifeboat's search attributes; empty fields
// match everything.
type RunFilter struct {
	// Operation is the LifeboatOperation: backup, restore, redis-backup, ...
	Operation string
	// Dataset is an "env/dataset" the run covers. Runs over many datasets
	// list only the first ones in LifeboatDatasets (see
	// workflows.FitKeywords): they are found by their first datasets.
	Dataset    string
	EnvID      string
	ScheduleID string
	Limit      int
}

// Query is the filter as a Temporal list query, also usable with
// `temporal workflow list --query` and in the Web UI.
func (f RunFilter) Query(taskQueue string) string {
	var parts []string
	add := func(key, v string) {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%s = '%s'", key, strings.ReplaceAll(v, "'", "")))
		}
	}
	add(workflows.SAOperation.GetName(), f.Operation)
	add(workflows.SADatasets.GetName(), f.Dataset)
	add(workflows.SAEnvironment.GetName(), f.EnvID)
	add(workflows.SAScheduleID.GetName(), f.ScheduleID)
	add("TaskQueue", taskQueue)
	return strings.Join(parts, " AND ")
}

// List lists recent runs of a workflow type, newest first.
func (c *Client) List(ctx context.Context, workflowType string, limit int) ([]RunSummary, error) {
	return c.list(ctx, fmt.Sprintf("WorkflowType = '%s' AND TaskQueue = '%s'", workflowType, c.TaskQueue), limit)
}

// ListRuns lists recent runs matching f by their search attributes, newest first.
func (c *Client) ListRuns(ctx context.Context, f RunFilter) ([]RunSummary, error) {
	if f.Limit <= 0 {
		f.Limit = 20
	}
	return c.list(ctx, f.Query(c.TaskQueue), f.Limit)
}

func (c *Client) list(ctx context.Context, query string, limit int) ([]RunSummary, error) {
	resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query:    query,
		PageSize: int32(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list workflows (%s): %w", query, err)
	}
	var out []RunSummary
	for _, e := range resp.Executions {
		s := RunSummary{
			WorkflowID: e.Execution.WorkflowId, RunID: e.Execution.RunId, Type: e.Type.Name,
			Status: strings.TrimPrefix(e.Status.String(), "WORKFLOW_EXECUTION_STATUS_"),
		}
		if e.StartTime != nil {
			s.Start = e.StartTime.AsTime()
		}
		if e.CloseTime != nil {
			s.Close = e.CloseTime.AsTime()
		}
		if sa := e.SearchAttributes; sa != nil {
			dc := converter.GetDefaultDataConverter()
			if p, ok := sa.IndexedFields[workflows.SADatasets.GetName()]; ok {
				_ = dc.FromPayload(p, &s.Datasets)
			}
			if p, ok := sa.IndexedFields[workflows.SAScheduleID.GetName()]; ok {
				_ = dc.FromPayload(p, &s.ScheduleID)
			}
		}
		out = append(out, s)
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}
