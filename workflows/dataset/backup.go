package dataset

import (
	"fmt"
	"path"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Backup backs up one or many datasets: validate everything, pause
// writes to every dataset, wait for in-flight writes to drain, fix one cut
// time for all of them (the next whole second after the drain, plus a
// margin), wait until the cut has passed and resume writes; then export each
// table from PITR at the cut, record DynamoDB's own counts and checksums in
// a manifest beside the export, and optionally verify every file. Writes are
// paused for the drain plus at most about 1.4 s, whatever the data size:
// the export runs after writes are back. Datasets given a point in time are
// exported at that moment without pausing writes. Writes are resumed on
// every exit path, including failure and cancellation.
func Backup(ctx workflow.Context, in BackupInput) (*BackupResult, error) {
	if err := checkLimits(ctx, in.Validate()); err != nil {
		return nil, err
	}
	refs := make([]datasetact.DatasetRef, len(in.Datasets))
	for i, d := range in.Datasets {
		refs[i] = datasetact.DatasetRef{EnvID: d.EnvID, DatasetID: d.DatasetID}
	}
	p, err := trackProgress(ctx, "backup", refs)
	if err != nil {
		return nil, err
	}
	if in.Retention != nil {
		if err := in.Retention.rules().Validate(); err != nil {
			return nil, fail(ctx, p, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrInvalidInput, err))
		}
	}

	items := make([]datasetact.BackupRequestItem, len(in.Datasets))
	for i, d := range in.Datasets {
		items[i] = datasetact.BackupRequestItem{
			EnvID: d.EnvID, DatasetID: d.DatasetID, BackupLocation: d.BackupLocation, PointInTime: d.PointInTime,
			AllowUnversioned: d.AllowUnversioned, KMSKeyID: d.KMSKeyID, Access: d.Access,
		}
		for _, c := range d.CopyTo {
			items[i].CopyTo = append(items[i].CopyTo, datasetact.CopyTarget{Location: c.Location, Access: c.Access})
		}
	}
	var plan datasetact.ValidateBackupResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, planCall), datasets.ValidateBackup,
		datasetact.ValidateBackupInput{Targets: items}).Get(ctx, &plan)
	if err != nil {
		return nil, fail(ctx, p, err)
	}
	p.Validated = true

	h := &holds{holder: workflow.GetInfo(ctx).WorkflowExecution.ID, op: p.Operation}
	defer h.resume(ctx)

	var toPause []datasetact.DatasetRef
	for _, t := range plan.Targets {
		if t.PointInTime == nil {
			toPause = append(toPause, t.DatasetRef)
		}
	}
	// Version 1 resumes writes once the cut has passed, before exporting;
	// histories from before export with writes paused.
	exportAfterResume := workflow.GetVersion(ctx, "export-after-resume", workflow.DefaultVersion, 1) >= 1
	cut := workflow.Now(ctx)
	var window time.Duration
	if len(toPause) > 0 {
		workflows.SetStep(ctx, p, StepPausing)
		if err := h.pauseAndDrain(ctx, toPause, drainTimeout(in.DrainTimeoutSeconds), p); err != nil {
			return nil, fail(ctx, p, err)
		}
		// Every paused dataset is quiet from here on: one cut time for all.
		cut = workflow.Now(ctx)
		if exportAfterResume {
			cut = CutTime(cut)
			for _, r := range toPause {
				p.dataset(r.EnvID, r.DatasetID).Step = StepCutting
			}
			workflows.SetStep(ctx, p, StepCutting)
			// DynamoDB counts ExportTime in whole seconds: every write
			// acknowledged before the pause is older than the cut, and every
			// write after the resume newer, once the cut has passed.
			if err := workflow.Sleep(ctx, cut.Add(CutMargin).Sub(workflow.Now(ctx))); err != nil {
				return nil, fail(ctx, p, err)
			}
			workflows.SetStep(ctx, p, StepResuming)
			window = h.resume(ctx)
		}
	}

	workflows.SetStep(ctx, p, StepExporting)
	results := make([]BackupRow, len(plan.Targets))
	errs := make([]error, len(plan.Targets))
	wg := workflow.NewWaitGroup(ctx)
	for i, t := range plan.Targets {
		wg.Add(1)
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer wg.Done()
			results[i], errs[i] = backupOne(gctx, t, cut, p)
		})
	}
	wg.Wait(ctx)
	if err := firstError(errs); err != nil {
		return nil, fail(ctx, p, err)
	}

	if !exportAfterResume {
		workflows.SetStep(ctx, p, StepResuming)
		window = h.resume(ctx)
	}
	if in.Verify {
		workflows.SetStep(ctx, p, StepVerifying)
		if err := verifyAll(ctx, plan.Targets, results, p); err != nil {
			return nil, fail(ctx, p, err)
		}
	}
	rpo := time.Duration(in.RPOSeconds) * time.Second
	for _, r := range results {
		// A backup of an earlier point in time is no newer recovery point.
		if r.PausedWrites {
			workflows.RecordBackupSuccess(ctx, workflows.ProtectedDataset, r.EnvID+"/"+r.DatasetID, rpo)
		}
	}
	// Copies run after writes resumed and the backup is complete; runs
	// from before copies existed had none to make.
	if hasCopies(in) && workflow.GetVersion(ctx, copyToVersion, workflow.DefaultVersion, 1) >= 1 {
		workflows.SetStep(ctx, p, StepCopying)
		copyAll(ctx, in, plan.Targets, results, p)
	}
	if in.Retention != nil {
		// Only after writes resumed: pruning never lengthens the pause.
		workflows.SetStep(ctx, p, StepPruning)
		pruneOlder(ctx, *in.Retention, plan.Targets, results, p)
		pruneCopies(ctx, *in.Retention, plan.Targets, results, p)
	}
	workflows.SetStep(ctx, p, workflows.StepDone)
	return &BackupResult{Datasets: results, PauseWindowMillis: window.Milliseconds()}, nil
}

// backupOne exports one table and records it with a manifest.
func backupOne(ctx workflow.Context, t datasetact.BackupTarget, cut time.Time, p *Progress) (BackupRow, error) {
	dp := p.dataset(t.EnvID, t.DatasetID)
	exportTime := cut
	if t.PointInTime != nil {
		exportTime = *t.PointInTime
	}
	backupID := ids.BackupID(exportTime)
	folder := t.Location.BackupFolder(t.EnvID, t.StoreID, t.DatasetID, backupID)
	exportPrefix := backupstore.ExportFolder(folder)

	dp.Step = StepExporting
	var started datasetact.StartExportResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflows.ShortAWSCall), dynamo.StartExport, datasetact.StartExportInput{
		TableName: t.TableName, ExportTime: exportTime, Bucket: t.Location.Bucket, Prefix: exportPrefix,
		BucketOwner: t.Bucket.OwnerOrEmpty(), KMSKeyID: t.KMSKeyID,
	}).Get(ctx, &started)
	if err != nil {
		dp.Step = workflows.StepFailed
		return BackupRow{}, err
	}
	dp.Detail = fmt.Sprintf("export %s at %s", started.ExportArn, exportTime.UTC().Format(time.RFC3339))
	var exported datasetact.WaitExportResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longJob), dynamo.WaitExport, datasetact.WaitExportInput{
		ExportArn: started.ExportArn, TableName: t.TableName,
	}).Get(ctx, &exported)
	if err != nil {
		dp.Step = workflows.StepFailed
		return BackupRow{}, err
	}
	dp.Step, dp.Items = workflows.StepManifest, exported.ItemCount
	var written datasetact.WriteManifestResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, manifestWrite), files.WriteManifest, datasetact.WriteManifestInput{
		Target: t, BackupID: backupID, CutTime: exportTime, PausedWrites: t.PointInTime == nil,
		ExportArn: started.ExportArn, ExportPrefix: exportPrefix, ExportManifest: exported.ManifestKey, ExportedItems: exported.ItemCount,
	}).Get(ctx, &written)
	if err != nil {
		dp.Step = workflows.StepFailed
		return BackupRow{}, err
	}
	dp.Step, dp.Items, dp.Bytes, dp.Detail = workflows.StepDone, written.ItemCount, written.Bytes, written.ManifestURL
	tags := map[string]string{"operation": p.Operation, "dataset": t.String()}
	workflows.Count(ctx, workflows.MetricItemsExported, written.ItemCount, tags)
	workflows.Count(ctx, workflows.MetricBytesExported, written.Bytes, tags)
	return BackupRow{
		EnvID: t.EnvID, DatasetID: t.DatasetID, StoreID: t.StoreID, BackupID: backupID, CutTime: exportTime,
		PausedWrites: t.PointInTime == nil, ManifestURL: written.ManifestURL, ItemCount: written.ItemCount, Bytes: written.Bytes,
		manifestKey: path.Join(path.Dir(exportPrefix), backupstore.ManifestName),
	}, nil
}

// verifyAll runs the deep check (download, count and checksum every file)
// of each new backup, all at once.
func verifyAll(ctx workflow.Context, targets []datasetact.BackupTarget, results []BackupRow, p *Progress) error {
	vctx := workflow.WithActivityOptions(ctx, objectScan)
	futures := make([]workflow.Future, len(targets))
	for i, t := range targets {
		p.dataset(t.EnvID, t.DatasetID).Step = StepVerifying
		futures[i] = workflow.ExecuteActivity(vctx, files.VerifyBackup, datasetact.VerifyBackupInput{
			Location: t.Location, ManifestKey: results[i].manifestKey, Record: true,
		})
	}
	var firstErr error
	for i, f := range futures {
		dp := p.dataset(targets[i].EnvID, targets[i].DatasetID)
		var v datasetact.VerifyBackupResult
		if err := f.Get(ctx, &v); err != nil {
			dp.Step = workflows.StepFailed
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		results[i].Verified = true
		dp.Step, dp.Detail = workflows.StepDone, fmt.Sprintf("%s; verified %d objects, %d items", dp.Detail, v.Objects, v.ItemCount)
	}
	return firstErr
}

// CutMargin separates the cut from the pause on one side and the resume on
// the other: the cut is the first whole second at least CutMargin after the
// drain, and writes resume CutMargin after the cut. It covers clock skew
// between Temporal and DynamoDB and the propagation of the last transaction
// acknowledged before the pause.
const CutMargin = 200 * time.Millisecond

// CutTime is the cut for a backup whose writes drained at drained: the next
// whole second at least CutMargin later (DynamoDB counts ExportTime in whole
// seconds, so a cut with a fraction would be rounded down, before writes
// acknowledged before the pause).
func CutTime(drained time.Time) time.Time {
	t := drained.Add(CutMargin)
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// pruneOlder runs retention for each backed-up dataset, all at once. A
// dataset whose retention fails keeps a warning in its result and in the
// progress: the backup has succeeded and stays so.
func pruneOlder(ctx workflow.Context, policy RetentionPolicy, targets []datasetact.BackupTarget, results []BackupRow, p *Progress) {
	actx := workflow.WithActivityOptions(ctx, pruning)
	now := workflow.Now(ctx)
	futures := make([]workflow.Future, len(targets))
	for i, t := range targets {
		p.dataset(t.EnvID, t.DatasetID).Step = StepPruning
		futures[i] = workflow.ExecuteActivity(actx, files.ApplyRetention, datasetact.ApplyRetentionInput{
			Location: t.Location, EnvID: t.EnvID, DatasetID: t.DatasetID, Policy: policy.rules(), Now: now,
			Protect: []string{results[i].BackupID},
		})
	}
	for i, f := range futures {
		dp := p.dataset(targets[i].EnvID, targets[i].DatasetID)
		var pruned datasetact.ApplyRetentionResult
		if err := f.Get(ctx, &pruned); err != nil {
			msg := "retention failed, older backups not pruned: " + message(err)
			results[i].RetentionWarning = msg
			p.Warnings = append(p.Warnings, targets[i].String()+": "+msg)
			workflows.CountFailure(ctx, p.Operation, StepPruning) // the run succeeds: alert on the metric
			workflow.GetLogger(ctx).Warn("Retention failed; the backup stands", "dataset", targets[i].String(), "error", err)
		} else {
			results[i].Pruned, results[i].RetentionNotes = pruned.Deleted, pruned.Left
			dp.Detail = fmt.Sprintf("%s; pruned %d older backups", dp.Detail, len(pruned.Deleted))
		}
		dp.Step = workflows.StepDone
	}
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
