package dataset

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Restore restores one or many datasets from their backups into a new
// store: validate the request and check each backup's files against its
// manifest (sizes and ETags, from one listing), create
// the new store, pause writes to every dataset of the environment, populate
// the store's tables from the backups (ImportTable, item counts checked
// against the manifests by DynamoDB's own counts, at most
// MaxConcurrentImports at once), switch the environment to the new store in one
// conditional update, and resume writes. On any failure the environment
// keeps its old store, the new store is marked FAILED and writes resume.
func Restore(ctx workflow.Context, in RestoreInput) (*RestoreResult, error) {
	if err := checkLimits(ctx, in.Validate()); err != nil {
		return nil, err
	}
	refs := make([]datasetact.DatasetRef, len(in.Datasets))
	for i, d := range in.Datasets {
		refs[i] = datasetact.DatasetRef{EnvID: d.EnvID, DatasetID: d.DatasetID}
	}
	p, err := trackProgress(ctx, "restore", refs)
	if err != nil {
		return nil, err
	}

	storeID := in.NewStoreID
	if storeID == "" {
		storeID = DefaultStoreID(workflow.Now(ctx))
	}
	p.StoreID = storeID
	items := make([]datasetact.RestoreRequestItem, len(in.Datasets))
	for i, d := range in.Datasets {
		items[i] = datasetact.RestoreRequestItem(d)
	}
	short := workflow.WithActivityOptions(ctx, workflows.ShortAWSCall)
	var plan datasetact.ValidateRestoreResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, planCall), datasets.ValidateRestore, datasetact.ValidateRestoreInput{
		Targets: items, NewStoreID: storeID,
	}).Get(ctx, &plan); err != nil {
		return nil, fail(ctx, p, err)
	}

	// Check every backup's objects against its manifest before changing
	// anything. Version 1 checks the listing; histories from before
	// downloaded every object here (now `lifeboat backup verify`).
	workflows.SetStep(ctx, p, StepVerifying)
	verified := make([]datasetact.VerifyBackupResult, len(plan.Targets))
	check, checkOpts := files.CheckBackup, backupCheck
	if workflow.GetVersion(ctx, "check-not-download", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		check, checkOpts = files.VerifyBackup, objectScan
	}
	scan := workflow.WithActivityOptions(ctx, checkOpts)
	futures := make([]workflow.Future, len(plan.Targets))
	for i, t := range plan.Targets {
		futures[i] = workflow.ExecuteActivity(scan, check, datasetact.VerifyBackupInput{Location: t.Location, ManifestKey: t.ManifestKey})
	}
	for i, f := range futures {
		if err := f.Get(ctx, &verified[i]); err != nil {
			return nil, fail(ctx, p, err)
		}
		p.dataset(plan.Targets[i].EnvID, plan.Targets[i].DatasetID).Detail = "backup " + plan.Targets[i].BackupID + " checked"
	}
	p.Validated = true

	workflowID := workflow.GetInfo(ctx).WorkflowExecution.ID
	workflows.SetStep(ctx, p, StepCreating)
	switched := false
	var created []string
	defer func() {
		if switched {
			return
		}
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		dctx = workflow.WithActivityOptions(dctx, resumeCall)
		for _, env := range created {
			if err := workflow.ExecuteActivity(dctx, datasets.FailStore, datasetact.StoreInput{EnvID: env, StoreID: storeID}).Get(dctx, nil); err != nil {
				workflow.GetLogger(ctx).Error("Could not mark store failed", "env", env, "store", storeID, "error", err)
			}
		}
	}()
	for _, e := range plan.Environments {
		created = append(created, e.EnvID)
		if err := workflow.ExecuteActivity(short, datasets.CreateStore, datasetact.StoreInput{
			EnvID: e.EnvID, StoreID: storeID, WorkflowID: workflowID,
		}).Get(ctx, nil); err != nil {
			return nil, fail(ctx, p, err)
		}
	}

	h := &holds{holder: workflowID, op: p.Operation}
	defer h.resume(ctx)
	var toPause []datasetact.DatasetRef
	for _, e := range plan.Environments {
		for _, d := range e.Datasets {
			toPause = append(toPause, datasetact.DatasetRef{EnvID: e.EnvID, DatasetID: d})
		}
	}
	workflows.SetStep(ctx, p, StepPausing)
	if err := h.pauseAndDrain(ctx, toPause, drainTimeout(in.DrainTimeoutSeconds), p); err != nil {
		return nil, fail(ctx, p, err)
	}

	workflows.SetStep(ctx, p, StepImporting)
	results := make([]RestoreRow, len(plan.Targets))
	errs := make([]error, len(plan.Targets))
	wg := workflow.NewWaitGroup(ctx)
	q := newImportQuota(ctx, in)
	for i, t := range plan.Targets {
		wg.Add(1)
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer wg.Done()
			release, err := q.acquire(gctx, verified[i].Bytes, p.dataset(t.EnvID, t.DatasetID))
			if err != nil {
				errs[i] = err
				return
			}
			defer release()
			results[i], errs[i] = restoreOne(gctx, t, verified[i], p)
		})
	}
	wg.Wait(ctx)
	if err := firstError(errs); err != nil {
		return nil, fail(ctx, p, err)
	}
	setup := workflow.WithActivityOptions(ctx, tableSetup)
	for _, e := range plan.Environments {
		for _, table := range e.EmptyTables {
			if err := workflow.ExecuteActivity(setup, datasets.CreateEmptyTable, datasetact.TableInput{TableName: table}).Get(ctx, nil); err != nil {
				return nil, fail(ctx, p, err)
			}
		}
	}

	workflows.SetStep(ctx, p, StepSwitching)
	result := &RestoreResult{StoreID: storeID, Datasets: results}
	for _, e := range plan.Environments {
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, holdCall), datasets.SwitchStore, datasetact.SwitchStoreInput{
			EnvID: e.EnvID, FromStore: e.FromStore, ToStore: storeID,
		}).Get(ctx, nil); err != nil {
			// Environments already switched stay switched; their stores are complete.
			return nil, fail(ctx, p, err)
		}
		result.Switched = append(result.Switched, fmt.Sprintf("%s: %s -> %s", e.EnvID, e.FromStore, storeID))
	}
	switched = true

	workflows.SetStep(ctx, p, StepResuming)
	result.PauseWindowMillis = h.resume(ctx).Milliseconds()
	workflows.SetStep(ctx, p, workflows.StepDone)
	return result, nil
}

// restoreOne populates one dataset's table in the new store from its backup.
func restoreOne(ctx workflow.Context, t datasetact.RestoreTarget, v datasetact.VerifyBackupResult, p *Progress) (RestoreRow, error) {
	dp := p.dataset(t.EnvID, t.DatasetID)
	dp.Step = StepImporting
	res := RestoreRow{
		EnvID: t.EnvID, DatasetID: t.DatasetID, SourceDatasetID: t.SourceDatasetID,
		BackupID: t.BackupID, TableName: t.TableName, ItemCount: t.ItemCount,
	}
	if v.ItemCount == 0 || v.Objects == 0 {
		// An empty backup has nothing to import: an empty table is the restore.
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, tableSetup), datasets.CreateEmptyTable,
			datasetact.TableInput{TableName: t.TableName}).Get(ctx, nil)
		if err != nil {
			dp.Step = workflows.StepFailed
			return res, err
		}
		dp.Step = workflows.StepDone
		return res, nil
	}
	var started datasetact.StartImportResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, importStart), dynamo.StartImport, datasetact.StartImportInput{
		TableName: t.TableName, Bucket: t.Location.Bucket, DataPrefix: v.DataPrefix, BucketOwner: t.Location.Owner(),
	}).Get(ctx, &started)
	if err != nil {
		dp.Step = workflows.StepFailed
		return res, err
	}
	dp.Detail = "import " + started.ImportArn
	var done datasetact.WaitImportResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longJob), dynamo.WaitImport, datasetact.WaitImportInput{
		ImportArn: started.ImportArn, TableName: t.TableName, ExpectedItems: v.ItemCount,
	}).Get(ctx, &done)
	if err != nil {
		dp.Step = workflows.StepFailed
		return res, err
	}
	dp.Step, dp.Items, dp.Detail = workflows.StepDone, done.CountedItems, fmt.Sprintf("%d items imported into %s (DynamoDB's count)", done.CountedItems, t.TableName)
	res.ItemCount = done.CountedItems
	tags := map[string]string{"operation": p.Operation, "dataset": t.DatasetRef.String()}
	workflows.Count(ctx, workflows.MetricItemsImported, done.CountedItems, tags)
	workflows.Count(ctx, workflows.MetricBytesImported, v.Bytes, tags)
	return res, nil
}

// Default import quotas, after DynamoDB's: at most 50 import tasks at once
// per account and region, with at most 1 TB of source data in flight in most
// regions (15 TB in us-east-1, us-west-2 and eu-west-1). See "Service,
// account, and table quotas in Amazon DynamoDB", Import from S3.
const (
	DefaultMaxConcurrentImports   = 50
	DefaultMaxImportBytesInFlight = int64(1) << 40
)

// importQuota holds a restore's imports within DynamoDB's import quotas: a
// dataset waits (StepQueued) until a slot and its bytes are free. An import
// larger than the byte quota alone runs once nothing else is in flight.
type importQuota struct {
	slots, bytes workflow.Semaphore
	maxBytes     int64
}

func newImportQuota(ctx workflow.Context, in RestoreInput) *importQuota {
	n, b := int64(in.MaxConcurrentImports), in.MaxImportBytesInFlight
	if n <= 0 {
		n = DefaultMaxConcurrentImports
	}
	if b <= 0 {
		b = DefaultMaxImportBytesInFlight
	}
	return &importQuota{slots: workflow.NewSemaphore(ctx, n), bytes: workflow.NewSemaphore(ctx, b), maxBytes: b}
}

func (q *importQuota) acquire(ctx workflow.Context, size int64, dp *DatasetProgress) (release func(), err error) {
	size = max(min(size, q.maxBytes), 1)
	if !q.slots.TryAcquire(ctx, 1) {
		dp.Step, dp.Detail = StepQueued, "waiting for an import slot (DynamoDB's import quota)"
		if err := q.slots.Acquire(ctx, 1); err != nil {
			return nil, err
		}
	}
	if !q.bytes.TryAcquire(ctx, size) {
		dp.Step, dp.Detail = StepQueued, "waiting for imports in flight to finish (DynamoDB's import size quota)"
		if err := q.bytes.Acquire(ctx, size); err != nil {
			q.slots.Release(1)
			return nil, err
		}
	}
	return func() { q.bytes.Release(size); q.slots.Release(1) }, nil
}
