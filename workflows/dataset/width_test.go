package dataset_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// wideIDs are n dataset ids of 36 characters, like UUIDs.
func wideIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%08d-0000-4000-8000-%012d", i, i)
	}
	return out
}

// wideFixture is a fixture whose environment holds the given datasets, and
// which records the keyword lists the workflow upserts.
func wideFixture(t *testing.T, ids []string) (*fixture, func() [][]string) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	// A workflow task of a 1,000-dataset run schedules 1,000 activities,
	// each matched against the test's mocks, under -race, on a loaded CI
	// machine: over the 1 s deadlock detection of a real worker (which
	// does the same work without mocks or the race detector) more than
	// once. The test is about results, not timing.
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(dataset.Backup, workflow.RegisterOptions{Name: dataset.BackupName})
	env.RegisterWorkflowWithOptions(dataset.Restore, workflow.RegisterOptions{Name: dataset.RestoreName})
	env.RegisterActivity(&datasetact.Datasets{})
	env.RegisterActivity(&datasetact.DynamoDB{})
	env.RegisterActivity(&datasetact.BackupFiles{})
	fx := &fixture{t: t, env: env, ctl: newControlTable()}
	clear(fx.ctl.datasets) // the environment holds exactly these datasets
	for _, d := range ids {
		fx.ctl.datasets[ref(d)] = &datasetState{status: registry.StatusRunning}
		fx.ctl.backupItems[d] = 3
	}
	var mu sync.Mutex
	var lists [][]string
	fx.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if v, ok := sa.GetKeywordList(workflows.SADatasets); ok {
			mu.Lock()
			lists = append(lists, v)
			mu.Unlock()
		}
	}).Return(nil)
	return fx, func() [][]string { mu.Lock(); defer mu.Unlock(); return lists }
}

// requireFits checks the upserted dataset lists: under the server's 2 KB per
// value, the first datasets in order, and a count of the rest.
func requireFits(t *testing.T, lists [][]string, all []string) {
	t.Helper()
	require.NotEmpty(t, lists, "no LifeboatDatasets upserted")
	for _, l := range lists {
		p, err := converter.GetDefaultDataConverter().ToPayload(l)
		require.NoError(t, err)
		require.Less(t, len(p.Data), 2048, "LifeboatDatasets value of %d bytes", len(p.Data))
		n := len(l) - 1
		require.Greater(t, n, 0, "no dataset kept: %v", l)
		require.Equal(t, workflows.MoreKeyword(len(all)-n), l[n])
		for i, v := range l[:n] {
			require.Equal(t, envID+"/"+all[i], v)
		}
	}
}

// shortWideDatasets is the width under -short (make mutation runs this
// package's tests once per mutant): 100 datasets of 36 characters still
// overflow the 2 KB search attribute budget twice over, and the run takes a
// second instead of 30.
const shortWideDatasets = 100

// TestBackupAndRestoreOf1000Datasets runs a backup and a restore of an
// environment at the limit, with 36-character ids (see wideDatasets).
func TestBackupAndRestoreOf1000Datasets(t *testing.T) {
	t.Parallel()
	n := wideDatasets
	if testing.Short() {
		n = min(n, shortWideDatasets)
	}
	ids := wideIDs(n)
	t.Run("backup", func(t *testing.T) {
		t.Parallel()
		fx, upserted := wideFixture(t, ids)
		fx.run(dataset.BackupName, backupInput(ids...))
		res := fx.backupResult()
		require.Len(t, res.Datasets, len(ids))
		p := fx.progress()
		require.Len(t, p.Datasets, len(ids))
		for i, d := range p.Datasets {
			require.Equal(t, ids[i], d.DatasetID)
			require.Equal(t, workflows.StepDone, d.Step, "dataset %s", d.DatasetID)
		}
		requireFits(t, upserted(), ids)
		fx.requireRunning(ids...)
	})
	t.Run("restore", func(t *testing.T) {
		t.Parallel()
		fx, upserted := wideFixture(t, ids)
		fx.run(dataset.RestoreName, restoreInput("s2", ids...))
		res := fx.restoreResult()
		require.Len(t, res.Datasets, len(ids))
		require.Equal(t, "s2", fx.ctl.activeStore())
		p := fx.progress()
		require.Len(t, p.Datasets, len(ids))
		for i, d := range p.Datasets {
			require.Equal(t, ids[i], d.DatasetID)
			require.Equal(t, workflows.StepDone, d.Step, "dataset %s", d.DatasetID)
		}
		requireFits(t, upserted(), ids)
		fx.requireRunning(ids...)
	})
}

// TestOverLimitRefusedAtOnce starts runs over the limits the way
// `temporal workflow start` would (the client refuses them before): each
// fails with InvalidInput naming the limit in its first task, with nothing
// called.
func TestOverLimitRefusedAtOnce(t *testing.T) {
	t.Parallel()
	huge := wideIDs(hugeDatasets)
	long := strings.Repeat("x", 64)
	for _, tc := range []struct {
		name, workflow string
		in             any
		want           string
	}{
		{"backup of a huge request", dataset.BackupName, backupInput(huge...), "the limit is 1000 datasets per request"},
		{"restore of a huge request", dataset.RestoreName, restoreInput("s2", huge...), "the limit is 1000 datasets per request"},
		{"backup of 1,001", dataset.BackupName, backupInput(wideIDs(1001)...), "1001 datasets in one backup"},
		{"long dataset id", dataset.BackupName, backupInput(long), "1-63 letters"},
		{"long source id", dataset.RestoreName, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{
			EnvID: envID, DatasetID: "ds-a", SourceDatasetID: long, BackupLocation: backupLocation}}}, "invalid source dataset id"},
		{"no datasets", dataset.RestoreName, dataset.RestoreInput{}, "no datasets to restore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			fx.run(tc.workflow, tc.in)
			fx.requireFailed(activities.ErrInvalidInput)
			require.ErrorContains(t, fx.env.GetWorkflowError(), tc.want)
			require.Empty(t, fx.ctl.calls, "activities called")
		})
	}
}

// TestInputValidate checks the limits the client and CLI apply before
// starting anything.
func TestInputValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, backupInput(wideIDs(dataset.MaxDatasets)...).Validate())
	require.NoError(t, restoreInput("s2", wideIDs(dataset.MaxDatasets)...).Validate())
	err := backupInput(wideIDs(dataset.MaxDatasets + 1)...).Validate()
	require.EqualError(t, err, "1001 datasets in one backup: the limit is 1000 datasets per request")
	var limit *dataset.LimitError
	require.ErrorAs(t, err, &limit)
	require.ErrorContains(t, restoreInput("bad.store", "ds-a").Validate(), "invalid store id")
	require.ErrorContains(t, dataset.BackupInput{}.Validate(), "no datasets to back up")
}
