package dataset_test

import (
	"context"
	"errors"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// The workflows run against a fake control table (controlTable) whose state
// the mocked activities change the way the real ones change the real table,
// so the tests assert on what a run leaves behind: which datasets are paused,
// which store is active, which tables exist.

var start = time.Date(2021, 9, 1, 12, 0, 0, 0, time.UTC)

const (
	envID          = "e1"
	backupLocation = "s3://backups/lifeboat"
	otherWorkflow  = "other-workflow"
	// sourceBackupID is the backup every restore in these tests picks.
	sourceBackupID = "20210831T000000.000Z"
)

func ref(dataset string) datasetact.DatasetRef {
	return datasetact.DatasetRef{EnvID: envID, DatasetID: dataset}
}

func tableName(store, dataset string) string { return ids.TableName("lb", envID, store, dataset) }

func appError(msg, errType string) error {
	return temporal.NewNonRetryableApplicationError(msg, errType, nil)
}

type datasetState struct {
	status, holder string
}

// controlTable stands in for the control table, DynamoDB and S3. Every
// method is an activity's mock implementation; activities run concurrently,
// hence the lock. Tests read the recorded inputs directly once the workflow
// has finished.
type controlTable struct {
	mu       sync.Mutex
	datasets map[datasetact.DatasetRef]*datasetState
	active   map[string]string            // env -> active store
	stores   map[string]map[string]string // env -> store -> status
	tables   map[string]bool              // tables created by imports and CreateEmptyTable
	// backupItems is each dataset's item count in the backup a restore reads.
	backupItems map[string]int64
	// backups is what VerifyBackup finds, by manifest key; ValidateRestore fills it.
	backups map[string]datasetact.VerifyBackupResult
	// failing makes every call of an activity, by name, fail with the error.
	failing map[string]error

	calls      []string // "<activity> <subject>", in the order the calls completed
	exports    []datasetact.StartExportInput
	manifests  map[datasetact.DatasetRef]string // manifest URL WriteManifest returned
	imports    []datasetact.StartImportInput
	importWait []datasetact.WaitImportInput
	resumedAt  time.Time // workflow time of the first Resume
}

// newControlTable holds environment e1 on its initial store, with datasets
// ds-a, ds-b and ds-c, all RUNNING.
func newControlTable() *controlTable {
	c := &controlTable{
		datasets:    map[datasetact.DatasetRef]*datasetState{},
		active:      map[string]string{envID: registry.InitialStoreID},
		stores:      map[string]map[string]string{envID: {registry.InitialStoreID: registry.StoreActive}},
		tables:      map[string]bool{},
		backupItems: map[string]int64{"ds-a": 120, "ds-b": 7, "ds-c": 0},
		backups:     map[string]datasetact.VerifyBackupResult{},
		failing:     map[string]error{},
		manifests:   map[datasetact.DatasetRef]string{},
	}
	for _, d := range []string{"ds-a", "ds-b", "ds-c"} {
		c.datasets[ref(d)] = &datasetState{status: registry.StatusRunning}
	}
	return c
}

// handlers maps each activity name to its mock implementation.
func (c *controlTable) handlers() map[string]any {
	return map[string]any{
		"ValidateBackup":   c.validateBackup,
		"Pause":            c.pause,
		"WaitForDrain":     c.waitForDrain,
		"Resume":           c.resume,
		"StartExport":      c.startExport,
		"WaitExport":       c.waitExport,
		"WriteManifest":    c.writeManifest,
		"ValidateRestore":  c.validateRestore,
		"VerifyBackup":     c.verifyBackup,
		"CheckBackup":      c.verifyBackup,
		"CreateStore":      c.createStore,
		"StartImport":      c.startImport,
		"WaitImport":       c.waitImport,
		"CreateEmptyTable": c.createEmptyTable,
		"SwitchStore":      c.switchStore,
		"FailStore":        c.failStore,
	}
}

// record logs a call; the caller holds the lock. It returns the error the
// test injected for the activity, if any.
func (c *controlTable) record(activity, subject string) error {
	c.calls = append(c.calls, activity+" "+subject)
	return c.failing[activity]
}

func (c *controlTable) validateBackup(_ context.Context, in datasetact.ValidateBackupInput) (*datasetact.ValidateBackupResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("ValidateBackup", ""); err != nil {
		return nil, err
	}
	out := &datasetact.ValidateBackupResult{}
	for _, t := range in.Targets {
		r := datasetact.DatasetRef{EnvID: t.EnvID, DatasetID: t.DatasetID}
		if c.datasets[r] == nil {
			return nil, appError("dataset "+r.String()+" not found", activities.ErrInvalidInput)
		}
		loc, err := backupstore.ParseLocation(t.BackupLocation)
		if err != nil {
			return nil, appError(err.Error(), activities.ErrInvalidInput)
		}
		store := c.active[t.EnvID]
		out.Targets = append(out.Targets, datasetact.BackupTarget{
			DatasetRef: r, StoreID: store, TableName: tableName(store, t.DatasetID), Location: loc, PointInTime: t.PointInTime,
		})
	}
	return out, nil
}

func (c *controlTable) pause(_ context.Context, in datasetact.HoldInput) (*datasetact.HoldResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("Pause", in.DatasetRef.String()); err != nil {
		return nil, err
	}
	d := c.datasets[in.DatasetRef]
	if d.holder != "" && d.holder != in.Holder {
		return nil, appError(in.DatasetRef.String()+" is held by "+d.holder, activities.ErrDatasetHeld)
	}
	d.status, d.holder = registry.StatusPausing, in.Holder
	return &datasetact.HoldResult{Changed: true}, nil
}

func (c *controlTable) waitForDrain(_ context.Context, in datasetact.DrainInput) (*datasetact.HoldResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("WaitForDrain", in.DatasetRef.String()); err != nil {
		return nil, err
	}
	d := c.datasets[in.DatasetRef]
	if d.holder != in.Holder {
		return nil, appError(in.DatasetRef.String()+" is not held by "+in.Holder, activities.ErrDatasetHeld)
	}
	d.status = registry.StatusPaused
	return &datasetact.HoldResult{Changed: true}, nil
}

func (c *controlTable) resume(ctx context.Context, in datasetact.HoldInput) (*datasetact.HoldResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("Resume", in.DatasetRef.String()); err != nil {
		return nil, err
	}
	if c.resumedAt.IsZero() {
		c.resumedAt = activity.GetInfo(ctx).ScheduledTime
	}
	d := c.datasets[in.DatasetRef]
	if d.holder != in.Holder {
		return &datasetact.HoldResult{}, nil
	}
	d.status, d.holder = registry.StatusRunning, ""
	return &datasetact.HoldResult{Changed: true}, nil
}

func (c *controlTable) startExport(_ context.Context, in datasetact.StartExportInput) (*datasetact.StartExportResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("StartExport", in.TableName); err != nil {
		return nil, err
	}
	c.exports = append(c.exports, in)
	return &datasetact.StartExportResult{ExportArn: "arn:export/" + in.TableName}, nil
}

func (c *controlTable) waitExport(_ context.Context, in datasetact.WaitExportInput) (*datasetact.WaitExportResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("WaitExport", in.TableName); err != nil {
		return nil, err
	}
	return &datasetact.WaitExportResult{ItemCount: 10, Bytes: 1000}, nil
}

func (c *controlTable) writeManifest(_ context.Context, in datasetact.WriteManifestInput) (*datasetact.WriteManifestResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("WriteManifest", in.Target.DatasetRef.String()); err != nil {
		return nil, err
	}
	url := "s3://" + in.Target.Location.Bucket + "/" + path.Join(path.Dir(in.ExportPrefix), backupstore.ManifestName)
	c.manifests[in.Target.DatasetRef] = url
	return &datasetact.WriteManifestResult{ManifestURL: url, ItemCount: in.ExportedItems, Bytes: 1000, Objects: 1}, nil
}

func (c *controlTable) validateRestore(_ context.Context, in datasetact.ValidateRestoreInput) (*datasetact.ValidateRestoreResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("ValidateRestore", in.NewStoreID); err != nil {
		return nil, err
	}
	out := &datasetact.ValidateRestoreResult{}
	restored := map[datasetact.DatasetRef]bool{}
	for _, t := range in.Targets {
		r := datasetact.DatasetRef{EnvID: t.EnvID, DatasetID: t.DatasetID}
		if c.datasets[r] == nil {
			return nil, appError("dataset "+r.String()+" not found", activities.ErrInvalidInput)
		}
		restored[r] = true
		loc, err := backupstore.ParseLocation(t.BackupLocation)
		if err != nil {
			return nil, appError(err.Error(), activities.ErrInvalidInput)
		}
		folder := loc.BackupFolder(t.EnvID, registry.InitialStoreID, t.DatasetID, sourceBackupID)
		key := path.Join(folder, backupstore.ManifestName)
		c.backups[key] = datasetact.VerifyBackupResult{
			DataPrefix: backupstore.ExportFolder(folder) + "/AWSDynamoDB/0001/data/", ItemCount: c.backupItems[t.DatasetID], Objects: 1,
		}
		out.Targets = append(out.Targets, datasetact.RestoreTarget{
			DatasetRef: r, SourceDatasetID: t.DatasetID, Location: loc, ManifestKey: key, BackupID: sourceBackupID,
			ItemCount: c.backupItems[t.DatasetID], TableName: tableName(in.NewStoreID, t.DatasetID),
		})
	}
	re := datasetact.RestoreEnvironment{EnvID: envID, FromStore: c.active[envID]}
	for r := range c.datasets {
		re.Datasets = append(re.Datasets, r.DatasetID)
	}
	sort.Strings(re.Datasets)
	for _, d := range re.Datasets {
		if !restored[ref(d)] {
			re.EmptyTables = append(re.EmptyTables, tableName(in.NewStoreID, d))
		}
	}
	out.Environments = []datasetact.RestoreEnvironment{re}
	return out, nil
}

func (c *controlTable) verifyBackup(_ context.Context, in datasetact.VerifyBackupInput) (*datasetact.VerifyBackupResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("VerifyBackup", in.ManifestKey); err != nil {
		return nil, err
	}
	v := c.backups[in.ManifestKey]
	return &v, nil
}

func (c *controlTable) createStore(_ context.Context, in datasetact.StoreInput) (*datasetact.HoldResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("CreateStore", in.EnvID+"/"+in.StoreID); err != nil {
		return nil, err
	}
	if _, taken := c.stores[in.EnvID][in.StoreID]; taken {
		return nil, appError("store "+in.StoreID+" exists", activities.ErrInvalidInput)
	}
	c.stores[in.EnvID][in.StoreID] = registry.StoreCreating
	return &datasetact.HoldResult{Changed: true}, nil
}

func (c *controlTable) startImport(_ context.Context, in datasetact.StartImportInput) (*datasetact.StartImportResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("StartImport", in.TableName); err != nil {
		return nil, err
	}
	c.imports = append(c.imports, in)
	c.tables[in.TableName] = true
	return &datasetact.StartImportResult{ImportArn: "arn:import/" + in.TableName}, nil
}

func (c *controlTable) waitImport(_ context.Context, in datasetact.WaitImportInput) (*datasetact.WaitImportResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("WaitImport", in.TableName); err != nil {
		return nil, err
	}
	c.importWait = append(c.importWait, in)
	return &datasetact.WaitImportResult{ImportedItems: in.ExpectedItems, CountedItems: in.ExpectedItems}, nil
}

func (c *controlTable) createEmptyTable(_ context.Context, in datasetact.TableInput) (*datasetact.HoldResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("CreateEmptyTable", in.TableName); err != nil {
		return nil, err
	}
	c.tables[in.TableName] = true
	return &datasetact.HoldResult{Changed: true}, nil
}

func (c *controlTable) switchStore(_ context.Context, in datasetact.SwitchStoreInput) (*datasetact.HoldResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("SwitchStore", in.EnvID+"/"+in.ToStore); err != nil {
		return nil, err
	}
	stores := c.stores[in.EnvID]
	if c.active[in.EnvID] != in.FromStore || stores[in.ToStore] != registry.StoreCreating {
		return nil, appError("store of "+in.EnvID+" changed", activities.ErrStoreConflict)
	}
	c.active[in.EnvID] = in.ToStore
	stores[in.FromStore], stores[in.ToStore] = registry.StoreInactive, registry.StoreActive
	return &datasetact.HoldResult{Changed: true}, nil
}

func (c *controlTable) failStore(_ context.Context, in datasetact.StoreInput) (*datasetact.HoldResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record("FailStore", in.EnvID+"/"+in.StoreID); err != nil {
		return nil, err
	}
	if c.stores[in.EnvID][in.StoreID] == registry.StoreCreating {
		c.stores[in.EnvID][in.StoreID] = registry.StoreFailed
	}
	return &datasetact.HoldResult{Changed: true}, nil
}

// hold marks a dataset as paused by another workflow.
func (c *controlTable) hold(dataset string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.datasets[ref(dataset)] = datasetState{status: registry.StatusPaused, holder: otherWorkflow}
}

func (c *controlTable) fail(activity string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failing[activity] = err
}

func (c *controlTable) status(dataset string) datasetState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *c.datasets[ref(dataset)]
}

func (c *controlTable) activeStore() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active[envID]
}

func (c *controlTable) storeStatus(store string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stores[envID][store]
}

// positions lists where calls of an activity, and optionally of one subject,
// appear in the call log.
func (c *controlTable) positions(activity string, subject ...string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, call := range c.calls {
		name, subj, _ := strings.Cut(call, " ")
		if name == activity && (len(subject) == 0 || subj == subject[0]) {
			out = append(out, i)
		}
	}
	return out
}

// fixture is a test workflow environment wired to a fresh control table.
type fixture struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	ctl *controlTable
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, &testsuite.WorkflowTestSuite{})
}

// newFixtureOn is newFixture on a suite set up by the test (its metrics
// handler).
func newFixtureOn(t *testing.T, suite *testsuite.WorkflowTestSuite) *fixture {
	t.Helper()
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(dataset.Backup, workflow.RegisterOptions{Name: dataset.BackupName})
	env.RegisterWorkflowWithOptions(dataset.Restore, workflow.RegisterOptions{Name: dataset.RestoreName})
	env.RegisterActivity(&datasetact.Datasets{})
	env.RegisterActivity(&datasetact.DynamoDB{})
	env.RegisterActivity(&datasetact.BackupFiles{})
	env.RegisterActivity(&datasetact.Copies{})
	return &fixture{t: t, env: env, ctl: newControlTable()}
}

// slow makes the calls of an activity whose input matches take d of
// workflow time. It must be called before run.
func (fx *fixture) slow(activity string, d time.Duration, input any) {
	fx.env.OnActivity(activity, mock.Anything, input).After(d).Return(fx.ctl.handlers()[activity])
}

// run mocks every activity with the control table and runs a workflow to
// completion. Mocks set up earlier, by slow, take precedence.
func (fx *fixture) run(workflowName string, in any) {
	fx.t.Helper()
	for name, fn := range fx.ctl.handlers() {
		fx.env.OnActivity(name, mock.Anything, mock.Anything).Return(fn)
	}
	fx.env.ExecuteWorkflow(workflowName, in)
	require.True(fx.t, fx.env.IsWorkflowCompleted())
}

func (fx *fixture) backupResult() *dataset.BackupResult {
	fx.t.Helper()
	require.NoError(fx.t, fx.env.GetWorkflowError())
	var res dataset.BackupResult
	require.NoError(fx.t, fx.env.GetWorkflowResult(&res))
	return &res
}

func (fx *fixture) restoreResult() *dataset.RestoreResult {
	fx.t.Helper()
	require.NoError(fx.t, fx.env.GetWorkflowError())
	var res dataset.RestoreResult
	require.NoError(fx.t, fx.env.GetWorkflowResult(&res))
	return &res
}

func (fx *fixture) progress() dataset.Progress {
	fx.t.Helper()
	v, err := fx.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(fx.t, err)
	var p dataset.Progress
	require.NoError(fx.t, v.Get(&p))
	return p
}

// requireFailed checks the workflow failed with an application error of the given type.
func (fx *fixture) requireFailed(errType string) {
	fx.t.Helper()
	err := fx.env.GetWorkflowError()
	require.Error(fx.t, err)
	var appErr *temporal.ApplicationError
	require.True(fx.t, errors.As(err, &appErr), "want an application error, got %v", err)
	require.Equal(fx.t, errType, appErr.Type())
}

func (fx *fixture) requireCanceled() {
	fx.t.Helper()
	err := fx.env.GetWorkflowError()
	require.True(fx.t, temporal.IsCanceledError(err), "want a cancellation, got %v", err)
}

// requireRunning checks that each dataset accepts writes and is held by no one.
func (fx *fixture) requireRunning(datasets ...string) {
	fx.t.Helper()
	for _, d := range datasets {
		require.Equal(fx.t, datasetState{status: registry.StatusRunning}, fx.ctl.status(d), "dataset %s", d)
	}
}

// requireAllBefore checks that every call of first completed before any call of then.
func (fx *fixture) requireAllBefore(first, then string) {
	fx.t.Helper()
	a, b := fx.ctl.positions(first), fx.ctl.positions(then)
	require.NotEmpty(fx.t, a, "no %s call", first)
	require.NotEmpty(fx.t, b, "no %s call", then)
	require.Less(fx.t, slices.Max(a), slices.Min(b), "every %s must come before any %s: %v", first, then, fx.ctl.calls)
}

func (fx *fixture) requireNotCalled(activity string, subject ...string) {
	fx.t.Helper()
	require.Empty(fx.t, fx.ctl.positions(activity, subject...), "%s %v called", activity, subject)
}

func backupInput(datasets ...string) dataset.BackupInput {
	in := dataset.BackupInput{}
	for _, d := range datasets {
		in.Datasets = append(in.Datasets, dataset.BackupDataset{EnvID: envID, DatasetID: d, BackupLocation: backupLocation})
	}
	return in
}

func restoreInput(storeID string, datasets ...string) dataset.RestoreInput {
	in := dataset.RestoreInput{NewStoreID: storeID}
	for _, d := range datasets {
		in.Datasets = append(in.Datasets, dataset.RestoreDataset{EnvID: envID, DatasetID: d, BackupLocation: backupLocation})
	}
	return in
}

func TestBackupPausesExportsAtOneCutAndResumes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.slow("WaitForDrain", 2*time.Second, mock.Anything)
	fx.slow("WaitExport", 5*time.Minute, mock.Anything)
	fx.run(dataset.BackupName, backupInput("ds-a", "ds-b"))

	res := fx.backupResult()
	require.Len(t, res.Datasets, 2)
	cut := res.Datasets[0].CutTime
	require.False(t, cut.Before(start.Add(2*time.Second)), "cut %s taken before writes drained", cut)
	for i, d := range res.Datasets {
		require.Equal(t, []string{"ds-a", "ds-b"}[i], d.DatasetID)
		require.True(t, cut.Equal(d.CutTime), "cut times differ: %s, %s", cut, d.CutTime)
		require.Equal(t, res.Datasets[0].BackupID, d.BackupID)
		require.Equal(t, registry.InitialStoreID, d.StoreID)
		require.True(t, d.PausedWrites)
		require.Equal(t, fx.ctl.manifests[ref(d.DatasetID)], d.ManifestURL)
		require.NotEmpty(t, d.ManifestURL)
	}
	require.Len(t, fx.ctl.exports, 2)
	for _, e := range fx.ctl.exports {
		require.True(t, cut.Equal(e.ExportTime), "table %s exported at %s, not the cut %s", e.TableName, e.ExportTime, cut)
	}
	fx.requireRunning("ds-a", "ds-b")
	fx.requireAllBefore("Pause", "WaitForDrain")
	fx.requireAllBefore("WaitForDrain", "Resume")
	// The export runs with writes back, at a cut that has passed.
	fx.requireAllBefore("Resume", "StartExport")
	require.Equal(t, cut, cut.Truncate(time.Second), "DynamoDB counts ExportTime in whole seconds")
	require.False(t, cut.Before(start.Add(2*time.Second+dataset.CutMargin)), "cut %s too close to the drain", cut)
	require.True(t, fx.ctl.resumedAt.After(cut), "writes resumed at %s, before the cut %s", fx.ctl.resumedAt, cut)
	// Writes were paused for the drain and the wait for the cut, not for
	// the 5-minute export.
	require.GreaterOrEqual(t, res.PauseWindowMillis, (2 * time.Second).Milliseconds())
	require.LessOrEqual(t, res.PauseWindowMillis, (2*time.Second + time.Second + 2*dataset.CutMargin).Milliseconds())
	require.Equal(t, workflows.StepDone, fx.progress().Step)
}

func TestBackupPointInTimeDoesNotPause(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	pit := start.Add(-time.Hour)
	in := backupInput("ds-a", "ds-c")
	in.Datasets[1].PointInTime = &pit
	fx.run(dataset.BackupName, in)

	res := fx.backupResult()
	require.Len(t, res.Datasets, 2)
	pitResult := res.Datasets[1]
	require.Equal(t, "ds-c", pitResult.DatasetID)
	require.True(t, pit.Equal(pitResult.CutTime))
	require.Equal(t, ids.BackupID(pit), pitResult.BackupID)
	require.False(t, pitResult.PausedWrites)
	require.True(t, res.Datasets[0].PausedWrites)

	exportTimes := map[string]time.Time{}
	for _, e := range fx.ctl.exports {
		exportTimes[e.TableName] = e.ExportTime
	}
	require.True(t, pit.Equal(exportTimes[tableName(registry.InitialStoreID, "ds-c")]))
	for _, activity := range []string{"Pause", "WaitForDrain", "Resume"} {
		fx.requireNotCalled(activity, ref("ds-c").String())
		require.NotEmpty(t, fx.ctl.positions(activity, ref("ds-a").String()), "%s of ds-a", activity)
	}
	fx.requireRunning("ds-a", "ds-c")
}

func TestBackupExportFailureResumesWrites(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.ctl.fail("WaitExport", appError("export failed", activities.ErrExportFailed))
	fx.run(dataset.BackupName, backupInput("ds-a", "ds-b"))

	fx.requireFailed(activities.ErrExportFailed)
	fx.requireRunning("ds-a", "ds-b")
	fx.requireNotCalled("WriteManifest")
	p := fx.progress()
	require.Equal(t, workflows.StepFailed, p.Step)
	require.NotEmpty(t, p.Error)
}

func TestBackupDrainTimeoutResumesWrites(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.ctl.fail("WaitForDrain", appError("writes did not drain", activities.ErrDrainTimeout))
	fx.run(dataset.BackupName, backupInput("ds-a", "ds-b"))

	fx.requireFailed(activities.ErrDrainTimeout)
	fx.requireRunning("ds-a", "ds-b")
	fx.requireNotCalled("StartExport")
}

func TestBackupInvalidInputPausesNothing(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.run(dataset.BackupName, backupInput("ds-a", "no-such-dataset"))

	fx.requireFailed(activities.ErrInvalidInput)
	fx.requireNotCalled("Pause")
	fx.requireRunning("ds-a")
	require.False(t, fx.progress().Validated)
}

func TestBackupCancelledDuringExportLeavesWritesRunning(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.slow("WaitExport", time.Hour, mock.Anything)
	fx.env.RegisterDelayedCallback(func() {
		assert.Equal(t, registry.StatusRunning, fx.ctl.status("ds-a").status, "ds-a paused during the export")
		fx.env.CancelWorkflow()
	}, 10*time.Minute)
	fx.run(dataset.BackupName, backupInput("ds-a", "ds-b"))

	fx.requireCanceled()
	fx.requireRunning("ds-a", "ds-b")
	fx.requireNotCalled("WriteManifest")
}

// Cancelled while writes are paused and the cut has not passed yet: writes
// resume and nothing is exported.
func TestBackupCancelledWaitingForCutResumesWrites(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.env.RegisterDelayedCallback(func() {
		assert.Equal(t, registry.StatusPaused, fx.ctl.status("ds-a").status, "ds-a not paused while waiting for the cut")
		assert.Equal(t, dataset.StepCutting, fx.progress().Step)
		fx.env.CancelWorkflow()
	}, 500*time.Millisecond)
	fx.run(dataset.BackupName, backupInput("ds-a", "ds-b"))

	fx.requireCanceled()
	fx.requireRunning("ds-a", "ds-b")
	fx.requireNotCalled("StartExport")
}

func TestCutTime(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct{ drained, cut time.Duration }{
		{0, time.Second},
		{time.Second - dataset.CutMargin, time.Second},
		{time.Second - dataset.CutMargin + time.Millisecond, 2 * time.Second},
		{999 * time.Millisecond, 2 * time.Second},
	} {
		got := dataset.CutTime(base.Add(c.drained))
		require.Equal(t, base.Add(c.cut), got, "drained at +%s", c.drained)
	}
}

// A dataset taken by another workflow between validation and pause fails the
// backup. The held dataset is listed first, so its refusal arrives while the
// other dataset's pause is still in flight: that pause must finish before
// writes are resumed, or it would land after Resume and leave the dataset
// paused for good.
func TestBackupPauseRefusedResumesPausedDatasets(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.ctl.hold("ds-a")
	fx.slow("Pause", time.Minute, mock.MatchedBy(func(in datasetact.HoldInput) bool { return in.DatasetID == "ds-b" }))
	fx.run(dataset.BackupName, backupInput("ds-a", "ds-b"))

	fx.requireFailed(activities.ErrDatasetHeld)
	fx.requireRunning("ds-b")
	require.Equal(t, datasetState{status: registry.StatusPaused, holder: otherWorkflow}, fx.ctl.status("ds-a"),
		"the other workflow's hold is left alone")
	paused, resumed := fx.ctl.positions("Pause", ref("ds-b").String()), fx.ctl.positions("Resume", ref("ds-b").String())
	require.Len(t, paused, 1, "pause of ds-b never finished: %v", fx.ctl.calls)
	require.Len(t, resumed, 1)
	require.Less(t, paused[0], resumed[0])
	fx.requireNotCalled("StartExport")
}

func TestBackupProgressQuery(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.slow("WaitExport", time.Hour, mock.Anything)
	var during dataset.Progress
	fx.env.RegisterDelayedCallback(func() { during = fx.progress() }, 10*time.Minute)
	fx.run(dataset.BackupName, backupInput("ds-a", "ds-b"))

	fx.backupResult()
	require.Equal(t, "backup", during.Operation)
	require.Equal(t, dataset.StepExporting, during.Step)
	require.True(t, during.Validated)
	require.Len(t, during.Datasets, 2)
	for _, d := range during.Datasets {
		require.Equal(t, dataset.StepExporting, d.Step, "dataset %s", d.DatasetID)
	}
	after := fx.progress()
	require.Equal(t, workflows.StepDone, after.Step)
	require.Equal(t, "backup: done, 2 of 2 datasets done", after.Summary())
}

func TestRestoreSwitchesToNewStore(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.run(dataset.RestoreName, restoreInput("r1", "ds-a", "ds-b"))

	res := fx.restoreResult()
	require.Equal(t, "r1", res.StoreID)
	require.Equal(t, "r1", fx.ctl.activeStore())
	require.Equal(t, registry.StoreActive, fx.ctl.storeStatus("r1"))
	require.Equal(t, registry.StoreInactive, fx.ctl.storeStatus(registry.InitialStoreID))
	require.Equal(t, []string{"e1: initial -> r1"}, res.Switched)
	fx.requireRunning("ds-a", "ds-b", "ds-c")

	// Every dataset of the environment was paused, restored ones or not.
	for _, d := range []string{"ds-a", "ds-b", "ds-c"} {
		require.Len(t, fx.ctl.positions("Pause", ref(d).String()), 1, "pause of %s", d)
	}
	prefixes := map[string]string{}
	for _, imp := range fx.ctl.imports {
		require.Equal(t, "backups", imp.Bucket)
		prefixes[imp.TableName] = imp.DataPrefix
	}
	require.Equal(t, map[string]string{
		tableName("r1", "ds-a"): "lifeboat/e1/initial/ds-a/" + sourceBackupID + "/export/AWSDynamoDB/0001/data/",
		tableName("r1", "ds-b"): "lifeboat/e1/initial/ds-b/" + sourceBackupID + "/export/AWSDynamoDB/0001/data/",
	}, prefixes, "imports read the data folders VerifyBackup checked")
	expected := map[string]int64{}
	for _, w := range fx.ctl.importWait {
		expected[w.TableName] = w.ExpectedItems
	}
	require.Equal(t, map[string]int64{tableName("r1", "ds-a"): 120, tableName("r1", "ds-b"): 7}, expected)
	for _, d := range res.Datasets {
		require.Equal(t, fx.ctl.backupItems[d.DatasetID], d.ItemCount)
		require.Equal(t, sourceBackupID, d.BackupID)
	}
	fx.requireNotCalled("CreateEmptyTable", tableName("r1", "ds-a"))
	require.Len(t, fx.ctl.positions("CreateEmptyTable", tableName("r1", "ds-c")), 1)
	require.Equal(t, map[string]bool{
		tableName("r1", "ds-a"): true, tableName("r1", "ds-b"): true, tableName("r1", "ds-c"): true,
	}, fx.ctl.tables)
	fx.requireAllBefore("WaitForDrain", "StartImport")
	fx.requireAllBefore("WaitImport", "SwitchStore")
	fx.requireAllBefore("CreateEmptyTable", "SwitchStore")
	fx.requireAllBefore("SwitchStore", "Resume")
	fx.requireNotCalled("FailStore")
}

func TestRestoreImportFailureKeepsOldStore(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.ctl.fail("WaitImport", appError("import failed", activities.ErrImportFailed))
	fx.run(dataset.RestoreName, restoreInput("r1", "ds-a", "ds-b"))

	fx.requireFailed(activities.ErrImportFailed)
	fx.requireRunning("ds-a", "ds-b", "ds-c")
	require.Equal(t, registry.InitialStoreID, fx.ctl.activeStore())
	require.Equal(t, registry.StoreActive, fx.ctl.storeStatus(registry.InitialStoreID))
	require.Equal(t, registry.StoreFailed, fx.ctl.storeStatus("r1"))
	fx.requireNotCalled("SwitchStore")
}

func TestRestoreCorruptBackupChangesNothing(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.ctl.fail("VerifyBackup", appError("checksum mismatch", activities.ErrBackupCorrupt))
	fx.run(dataset.RestoreName, restoreInput("r1", "ds-a"))

	fx.requireFailed(activities.ErrBackupCorrupt)
	fx.requireNotCalled("Pause")
	fx.requireNotCalled("CreateStore")
	fx.requireRunning("ds-a", "ds-b", "ds-c")
	require.Equal(t, registry.InitialStoreID, fx.ctl.activeStore())
	require.Empty(t, fx.ctl.storeStatus("r1"))
}

func TestRestoreCancelledDuringImportKeepsOldStore(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.slow("WaitImport", time.Hour, mock.Anything)
	fx.env.RegisterDelayedCallback(func() {
		assert.Equal(t, registry.StatusPaused, fx.ctl.status("ds-a").status, "ds-a paused during the import")
		fx.env.CancelWorkflow()
	}, 10*time.Minute)
	fx.run(dataset.RestoreName, restoreInput("r1", "ds-a", "ds-b"))

	fx.requireCanceled()
	fx.requireRunning("ds-a", "ds-b", "ds-c")
	require.Equal(t, registry.InitialStoreID, fx.ctl.activeStore())
	require.Equal(t, registry.StoreFailed, fx.ctl.storeStatus("r1"))
	fx.requireNotCalled("SwitchStore")
}

func TestRestoreDefaultStoreID(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.run(dataset.RestoreName, restoreInput("", "ds-a"))

	res := fx.restoreResult()
	require.Regexp(t, regexp.MustCompile(`^\d{8}T\d{6}Z$`), res.StoreID)
	require.Equal(t, "20210901T120000Z", res.StoreID, "named after the start time")
	require.Equal(t, res.StoreID, fx.ctl.activeStore())
	require.Len(t, fx.ctl.positions("ValidateRestore", res.StoreID), 1, "validated with the default id")
}

// Beyond the import quota datasets queue: with one slot, the second import
// starts only after the first finished.
func TestRestoreHoldsImportsWithinQuota(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.slow("WaitImport", time.Hour, mock.Anything)
	in := restoreInput("r1", "ds-a", "ds-b")
	in.MaxConcurrentImports = 1
	fx.run(dataset.RestoreName, in)

	fx.restoreResult()
	starts, waits := fx.ctl.positions("StartImport"), fx.ctl.positions("WaitImport")
	require.Len(t, starts, 2)
	require.Len(t, waits, 2)
	require.Less(t, waits[0], starts[1], "second import started while the first ran: %v", fx.ctl.calls)
	fx.requireRunning("ds-a", "ds-b", "ds-c")
}

// Without a quota set, DynamoDB's default (50) lets both run at once.
func TestRestoreImportsRunTogetherUnderQuota(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.slow("WaitImport", time.Hour, mock.Anything)
	fx.run(dataset.RestoreName, restoreInput("r1", "ds-a", "ds-b"))

	fx.restoreResult()
	starts, waits := fx.ctl.positions("StartImport"), fx.ctl.positions("WaitImport")
	require.Less(t, starts[1], waits[0], "imports did not overlap: %v", fx.ctl.calls)
}
