package dataset_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/metrics/metricstest"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

func meteredFixture(t *testing.T) (*fixture, *metrics.Metrics) {
	t.Helper()
	m := metrics.New()
	t.Cleanup(func() { _ = m.Close() })
	suite := &testsuite.WorkflowTestSuite{}
	suite.SetMetricsHandler(m.Handler())
	return newFixtureOn(t, suite), m
}

func datasetSeries(name, ds string) string {
	return name + `{operation="backup",resource="` + envID + "/" + ds + `"}`
}

// TestBackupRecordsSuccessAndTarget: a backup serves, per dataset it paused
// writes of, when it succeeded and the target it was given; a dataset
// exported at an earlier point in time is no newer recovery point.
func TestBackupRecordsSuccessAndTarget(t *testing.T) {
	t.Parallel()
	fx, m := meteredFixture(t)
	pit := start.Add(-time.Hour)
	in := backupInput("ds-a", "ds-c")
	in.Datasets[1].PointInTime = &pit
	in.RPOSeconds = 6 * 3600
	fx.run(dataset.BackupName, in)
	fx.backupResult()

	success, target := datasetSeries(workflows.MetricLastSuccess, "ds-a"), datasetSeries(workflows.MetricRPOTarget, "ds-a")
	got := metricstest.Served(t, m, func(got map[string]float64) bool { return got[target] > 0 }, success, target)
	require.Equal(t, float64(6*3600), got[target])
	// At the end of the run: after the cut, within the test's minutes.
	require.GreaterOrEqual(t, got[success], float64(start.Unix()))
	require.Less(t, got[success], float64(start.Add(time.Hour).Unix()))
	got = metricstest.Served(t, m, metricstest.Now, datasetSeries(workflows.MetricLastSuccess, "ds-c"))
	require.Empty(t, got, "a point-in-time backup counted as a new recovery point")
}

// TestFailedBackupRecordsNoSuccess: a failed backup leaves the last success
// where it was (here: none).
func TestFailedBackupRecordsNoSuccess(t *testing.T) {
	t.Parallel()
	fx, m := meteredFixture(t)
	fx.ctl.fail("WaitExport", appError("export failed", activities.ErrExportFailed))
	in := backupInput("ds-a")
	in.RPOSeconds = 3600
	fx.run(dataset.BackupName, in)
	fx.requireFailed(activities.ErrExportFailed)
	failures := `lifeboat_failures_total{operation="backup"}`
	got := metricstest.Served(t, m, func(got map[string]float64) bool { return got[failures] > 0 }, failures)
	require.Equal(t, float64(1), got[failures]) // the run's metrics were reported
	got = metricstest.Served(t, m, metricstest.Now,
		datasetSeries(workflows.MetricLastSuccess, "ds-a"), datasetSeries(workflows.MetricRPOTarget, "ds-a"))
	require.Empty(t, got)
}
