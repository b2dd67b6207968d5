package dataset

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// RestoreTestName is the DatasetRestoreTest workflow's type name, as given
// to `temporal workflow start --type`.
const RestoreTestName = "DatasetRestoreTest"

// OpRestoreTest is DatasetRestoreTest's LifeboatOperation search attribute
// and Progress.Operation.
const OpRestoreTest = "restore-test"

// Steps of a restore test, besides the common ones.
const (
	StepScratch     = "creating-scratch-env"
	StepRestoring   = "restoring"
	StepSampling    = "sampling"
	StepCheckRun    = "running-check-command"
	StepRecording   = "recording"
	StepCleaningUp  = "cleaning-up"
	scratchStoreTag = "rt"
)

// RestoreTestInput is the DatasetRestoreTest workflow's input.
type RestoreTestInput struct {
	EnvID string `json:"envId"`
	// DatasetIDs are the datasets to restore; every dataset of the
	// environment when empty.
	DatasetIDs     []string `json:"datasetIds,omitempty"`
	BackupLocation string   `json:"backupLocation"`
	// BackupID picks one backup of each dataset; the newest complete one
	// when empty.
	BackupID string `json:"backupId,omitempty"`
	// SampleSize is how many items of each dataset are compared with the
	// backup (datasetact.DefaultSampleSize when 0).
	SampleSize int `json:"sampleSize,omitempty"`
	// CheckCommand, when set, is run by the worker (/bin/sh -c) once the
	// restore is checked, with LIFEBOAT_SCRATCH_* variables naming the
	// scratch environment and tables; a non-zero exit fails the test.
	CheckCommand        string `json:"checkCommand,omitempty"`
	CheckTimeoutSeconds int    `json:"checkTimeoutSeconds,omitempty"`
	// Access names a role to assume for the location's S3 calls (roleArn,
	// externalId) and the bucket's owner (bucketOwner): a backup in another
	// account. Every step that reads the backup or writes its record uses it.
	backupstore.Access
}

// Validate checks the input before anything starts.
func (in RestoreTestInput) Validate() error {
	if err := ids.Validate("environment", in.EnvID); err != nil {
		return err
	}
	for _, d := range in.DatasetIDs {
		if err := ids.Validate("dataset", d); err != nil {
			return err
		}
	}
	if len(in.DatasetIDs) > MaxDatasets {
		return &LimitError{Msg: fmt.Sprintf("%d datasets in one restore test: the limit is %d", len(in.DatasetIDs), MaxDatasets)}
	}
	if strings.TrimSpace(in.BackupLocation) == "" {
		return errors.New("a restore test needs a backup location")
	}
	if err := in.Access.Validate(); err != nil {
		return err
	}
	if in.SampleSize < 0 || in.CheckTimeoutSeconds < 0 {
		return errors.New("sample size and check timeout cannot be negative")
	}
	return nil
}

// RestoreTestRow is one dataset of a passed restore test.
type RestoreTestRow struct {
	DatasetID   string `json:"datasetId"`
	BackupID    string `json:"backupId"`
	ManifestURL string `json:"manifestUrl"`
	TableName   string `json:"tableName"` // the scratch table, deleted since
	ItemCount   int64  `json:"itemCount"`
	Sampled     int    `json:"sampled"`
}

// RestoreTestResult is a passed restore test.
type RestoreTestResult struct {
	EnvID        string `json:"envId"`
	ScratchEnvID string `json:"scratchEnvId"`
	StoreID      string `json:"storeId"`
	// RTOSeconds is how long the restore took, from its start until the
	// scratch environment was switched to the restored store.
	RTOSeconds  float64          `json:"rtoSeconds"`
	Datasets    []RestoreTestRow `json:"datasets"`
	CheckOutput string           `json:"checkOutput,omitempty"`
	// Cleaned are the scratch tables deleted afterwards.
	Cleaned []string `json:"cleaned,omitempty"`
}

// RestoreTestWorkflowID names a restore test after its environment and
// start time.
func RestoreTestWorkflowID(in RestoreTestInput, now time.Time) string {
	return "restore-test-" + in.EnvID + "-" + now.UTC().Format("20060102T150405.000Z")
}

// scratchCleanup deletes a scratch environment: it must get through, so
// it retries for a day, but a refusal (not this test's scratch
// environment) is final. Deleting waits for tables DynamoDB is still
// importing, heartbeating.
var scratchCleanup = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Minute,
	HeartbeatTimeout:       time.Minute,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrInvalidInput},
	},
}

// checkRun runs a user's check command: its own timeout bounds it, plus a
// margin; it heartbeats while it runs.
func checkRun(seconds int) workflow.ActivityOptions {
	d := activities.DefaultCheckTimeout
	if seconds > 0 {
		d = time.Duration(seconds) * time.Second
	}
	return workflow.ActivityOptions{
		StartToCloseTimeout: d + time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         objectScan.RetryPolicy,
	}
}

// RestoreTest proves that the newest backup (or a named one) of an
// environment's datasets restores: it restores them into a scratch
// environment of its own (<env>-rt-<id>, marked as scratch in the
// registry) with the DatasetRestore workflow as a child, measures the
// restore (the RTO: from its start until the scratch environment is
// switched to the restored store), checks that each table holds the
// manifest's item count, compares a sample of items read from the
// backup's data files with the restored tables, and runs the user's check
// command if given. The outcome, passed or failed, is written beside each
// backup as restore-test.json. The scratch environment, its tables and
// records, is deleted on every exit path, failure and cancellation
// included. The live environment is only read: its records, store and
// tables are never written.
func RestoreTest(ctx workflow.Context, in RestoreTestInput) (res *RestoreTestResult, err error) {
	refs := make([]datasetact.DatasetRef, len(in.DatasetIDs))
	for i, d := range in.DatasetIDs {
		refs[i] = datasetact.DatasetRef{EnvID: in.EnvID, DatasetID: d}
	}
	p, err := trackProgress(ctx, OpRestoreTest, refs)
	if err != nil {
		return nil, err
	}
	if verr := in.Validate(); verr != nil {
		return nil, fail(ctx, p, activities.Invalid(verr))
	}
	var plan datasetact.PlanRestoreTestResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, planCall), datasets.PlanRestoreTest, datasetact.PlanRestoreTestInput{
		EnvID: in.EnvID, DatasetIDs: in.DatasetIDs, BackupLocation: in.BackupLocation, BackupID: in.BackupID, Access: in.Access,
	}).Get(ctx, &plan)
	if err != nil {
		return nil, fail(ctx, p, err)
	}
	for _, t := range plan.Targets {
		p.dataset(in.EnvID, t.DatasetID).Detail = fmt.Sprintf("backup %s: %d items", t.BackupID, t.ItemCount)
	}
	p.Validated = true

	info := workflow.GetInfo(ctx)
	wfID := info.WorkflowExecution.ID
	scratch := registry.ScratchEnvID(in.EnvID, shortHash(wfID+"/"+info.WorkflowExecution.RunID))
	scratchIn := datasetact.ScratchEnvInput{ScratchEnvID: scratch, SourceEnvID: in.EnvID, WorkflowID: wfID}
	for _, t := range plan.Targets {
		scratchIn.DatasetIDs = append(scratchIn.DatasetIDs, t.DatasetID)
	}
	run := &restoreTestRun{in: in, plan: plan, scratch: scratch, p: p, res: &RestoreTestResult{EnvID: in.EnvID, ScratchEnvID: scratch}}

	// The scratch environment goes on every exit path; the cleanup runs on
	// a disconnected context, so cancellation cannot skip it.
	defer func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		workflows.SetStep(dctx, p, StepCleaningUp)
		var out datasetact.ScratchEnvResult
		cerr := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, scratchCleanup), restoreTests.DeleteScratchEnv, scratchIn).Get(dctx, &out)
		if cerr != nil {
			workflow.GetLogger(ctx).Error("Scratch environment left behind", "env", scratch, "error", cerr)
			if err == nil {
				res, err = nil, fail(ctx, p, temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("restore test passed, but its scratch environment %s could not be deleted: %s", scratch, message(cerr)),
					activities.ErrRestoreTestFailed, cerr))
			}
			return
		}
		if res != nil {
			res.Cleaned = out.Tables
			workflows.SetStep(dctx, p, workflows.StepDone)
		} else {
			workflows.SetStep(dctx, p, workflows.StepFailed)
		}
	}()

	workflows.SetStep(ctx, p, StepScratch)
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflows.ShortAWSCall), restoreTests.CreateScratchEnv, scratchIn).Get(ctx, nil); err != nil {
		return nil, fail(ctx, p, err)
	}
	testErr := run.test(ctx)
	if temporal.IsCanceledError(testErr) || ctx.Err() != nil {
		return nil, fail(ctx, p, testErr) // no verdict: nothing recorded
	}
	workflows.SetStep(ctx, p, StepRecording)
	if rerr := run.record(ctx, testErr); rerr != nil {
		if testErr == nil {
			testErr = rerr
		}
		workflow.GetLogger(ctx).Error("Restore test not recorded", "error", rerr)
	}
	if testErr != nil {
		return nil, fail(ctx, p, testErr)
	}
	return run.res, nil
}

// restoreTestRun is one restore test's state between its steps.
type restoreTestRun struct {
	in      RestoreTestInput
	plan    datasetact.PlanRestoreTestResult
	scratch string
	p       *Progress
	res     *RestoreTestResult
	rto     time.Duration
	// restored is set once the restore finished (RTO measured).
	restored bool
}

// test restores into the scratch environment and checks it. Its error is
// the test's verdict: a one-line reason, typed.
func (r *restoreTestRun) test(ctx workflow.Context) error {
	in, p := r.in, r.p
	wfID := workflow.GetInfo(ctx).WorkflowExecution.ID
	storeID := scratchStoreTag + ids.TimestampID(workflow.Now(ctx))
	rin := RestoreInput{NewStoreID: storeID}
	for _, t := range r.plan.Targets {
		rin.Datasets = append(rin.Datasets, RestoreDataset{
			EnvID: r.scratch, DatasetID: t.DatasetID, SourceEnvID: in.EnvID,
			BackupLocation: in.BackupLocation, BackupID: t.BackupID, Access: in.Access,
		})
		p.dataset(in.EnvID, t.DatasetID).Step = StepRestoring
	}
	workflows.SetStep(ctx, p, StepRestoring)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            wfID + "-restore",
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		// A cancelled test waits for the restore's own compensation before
		// deleting what it made.
		WaitForCancellation: true,
	})
	start := workflow.Now(ctx)
	var restored RestoreResult
	if err := workflow.ExecuteChildWorkflow(cctx, RestoreName, rin).Get(ctx, &restored); err != nil {
		return reason("restore into scratch environment "+r.scratch, err)
	}
	r.rto, r.restored = workflow.Now(ctx).Sub(start), true
	r.res.StoreID, r.res.RTOSeconds = restored.StoreID, r.rto.Seconds()

	// Counts: DynamoDB's import count of each table against the manifest.
	for _, t := range r.plan.Targets {
		row := RestoreTestRow{DatasetID: t.DatasetID, BackupID: t.BackupID, ManifestURL: t.ManifestURL}
		for _, d := range restored.Datasets {
			if d.DatasetID == t.DatasetID {
				row.TableName, row.ItemCount = d.TableName, d.ItemCount
			}
		}
		if row.TableName == "" || row.ItemCount != t.ItemCount {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("dataset %s: the restored table holds %d items, backup %s's manifest says %d",
				t.DatasetID, row.ItemCount, t.BackupID, t.ItemCount), activities.ErrRestoreTestFailed, nil)
		}
		r.res.Datasets = append(r.res.Datasets, row)
	}

	workflows.SetStep(ctx, p, StepSampling)
	sctx := workflow.WithActivityOptions(ctx, objectScan)
	futures := make([]workflow.Future, len(r.plan.Targets))
	for i, t := range r.plan.Targets {
		p.dataset(in.EnvID, t.DatasetID).Step = StepSampling
		futures[i] = workflow.ExecuteActivity(sctx, restoreTests.SampleRestored, datasetact.SampleRestoredInput{
			DatasetID: t.DatasetID, Location: t.Location, ManifestKey: t.ManifestKey, TableName: r.res.Datasets[i].TableName,
			SampleSize: in.SampleSize, Seed: wfID,
		})
	}
	for i, f := range futures {
		var s datasetact.SampleRestoredResult
		if err := f.Get(ctx, &s); err != nil {
			return err
		}
		r.res.Datasets[i].Sampled = s.Sampled
		dp := p.dataset(in.EnvID, r.plan.Targets[i].DatasetID)
		dp.Step, dp.Items = workflows.StepDone, r.res.Datasets[i].ItemCount
		dp.Detail = fmt.Sprintf("%d items restored into %s, %d sampled items match the backup", dp.Items, r.res.Datasets[i].TableName, s.Sampled)
	}

	if strings.TrimSpace(in.CheckCommand) != "" {
		workflows.SetStep(ctx, p, StepCheckRun)
		var out activities.CheckCommandResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, checkRun(in.CheckTimeoutSeconds)), checks.RunCheck, activities.CheckCommandInput{
			Command: in.CheckCommand, Env: r.checkEnv(), TimeoutSeconds: in.CheckTimeoutSeconds,
		}).Get(ctx, &out)
		if err != nil {
			return err
		}
		r.res.CheckOutput = out.Output
	}
	return nil
}

// checkEnv names the scratch environment and its tables for the check
// command.
func (r *restoreTestRun) checkEnv() map[string]string {
	env := map[string]string{
		"LIFEBOAT_SCRATCH_ENV": r.scratch, "LIFEBOAT_SOURCE_ENV": r.in.EnvID, "LIFEBOAT_SCRATCH_STORE": r.res.StoreID,
	}
	var tables []string
	for _, d := range r.res.Datasets {
		tables = append(tables, d.TableName)
		env["LIFEBOAT_SCRATCH_TABLE_"+envName(d.DatasetID)] = d.TableName
	}
	env["LIFEBOAT_SCRATCH_TABLES"] = strings.Join(tables, ",")
	return env
}

// envName turns a dataset id into a variable name part: ORDERS_2026.
func envName(id string) string {
	return strings.ToUpper(strings.ReplaceAll(id, "-", "_"))
}

// record writes restore-test.json beside each dataset's backup.
func (r *restoreTestRun) record(ctx workflow.Context, testErr error) error {
	outcome, problem := backupstore.VerifiedOK, ""
	if testErr != nil {
		outcome, problem = backupstore.VerifiedFailed, message(testErr)
	}
	checked := fmt.Sprintf("restored into scratch environment %s", r.scratch)
	if r.restored {
		checked += fmt.Sprintf(" (store %s); item counts against the manifest; up to %d items per dataset read from the backup's data files and compared with the restored tables", r.res.StoreID, sampleSize(r.in.SampleSize))
		if r.in.CheckCommand != "" {
			checked += "; check command: " + r.in.CheckCommand
		}
	}
	for _, t := range r.plan.Targets {
		workflows.RecordRestoreTest(ctx, "dataset", r.in.EnvID+"/"+t.DatasetID, r.rto, testErr == nil)
	}
	wctx := workflow.WithActivityOptions(ctx, workflows.ShortAWSCall)
	futures := make([]workflow.Future, len(r.plan.Targets))
	for i, t := range r.plan.Targets {
		futures[i] = workflow.ExecuteActivity(wctx, files.RecordRestoreTest, datasetact.RecordRestoreTestInput{
			Location: t.Location, ManifestKey: t.ManifestKey,
			Record: backupstore.RestoreTest{
				At: workflow.Now(ctx).UTC(), Outcome: outcome, RTOSeconds: r.rto.Seconds(), Target: r.scratch,
				Checked: checked, Problem: problem, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, BackupID: t.BackupID,
			},
		})
	}
	var first error
	for _, f := range futures {
		if err := f.Get(ctx, nil); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func sampleSize(n int) int {
	if n <= 0 {
		return datasetact.DefaultSampleSize
	}
	return n
}

// reason wraps a step's failure as the test's one-line reason, keeping
// its type (InvalidInput stays InvalidInput).
func reason(step string, err error) error {
	if temporal.IsCanceledError(err) {
		return err
	}
	typ := activities.ErrRestoreTestFailed
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() != "" {
		typ = app.Type()
	}
	return temporal.NewNonRetryableApplicationError(step+": "+message(err), typ, err)
}

// message is the innermost message of an error: what a person reads.
func message(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timed out (" + timeout.TimeoutType().String() + ")"
	}
	return err.Error()
}

// shortHash is a short, stable id derived from s.
func shortHash(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}
