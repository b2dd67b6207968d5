package ebs_test

import (
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/metrics/metricstest"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// TestSnapshotChainRecordsSuccess: a region's run serves a success (and
// the target the schedule gave it) once the day's snapshots are taken and
// completed, whether or not the copies and expiry that follow succeed; not
// when the create or the wait failed, nor in a dry run.
func TestSnapshotChainRecordsSuccess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		dryRun  bool
		setup   func(*ec2World)
		success bool
	}{
		{"happy path", false, func(*ec2World) {}, true},
		{"a copy failed", false, func(w *ec2World) {
			ids := w.addSources(east, west, 3)
			w.fail("CopySnapshotsToRegion", ids[1], temporal.NewNonRetryableApplicationError("denied", activities.ErrEC2Rejected, nil))
		}, true},
		{"a snapshot in error state", false, func(w *ec2World) { w.errored[east] = []string{"snap-vol-b-i-us-east-1-02"} }, false},
		{"create failed", false, func(w *ec2World) {
			w.fail("FindBackupInstances", east, temporal.NewNonRetryableApplicationError("not authorized", activities.ErrEC2Rejected, nil))
		}, false},
		{"dry run", true, func(*ec2World) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New()
			defer m.Close()
			suite := &testsuite.WorkflowTestSuite{}
			suite.SetMetricsHandler(m.Handler())
			fx := newSnapFixtureOn(t, suite)
			fx.world.addInstances(east, 2)
			tc.setup(fx.world)
			fx.run(ebs.RunName, ebs.RunInput{Regions: []string{east}, Options: ebs.Options{DryRun: tc.dryRun, RPOSeconds: 24 * 3600}})

			series := func(name string) string { return name + `{operation="snapshots",resource="` + east + `"}` }
			success, target := series(workflows.MetricLastSuccess), series(workflows.MetricRPOTarget)
			// Every run counts its snapshots or failures; once they are
			// served, so is anything else it recorded.
			got := metricstest.Served(t, m, func(got map[string]float64) bool { return got[target] > 0 }, success, target)
			if !tc.success {
				if len(got) > 0 {
					t.Errorf("served %v, want no success", got)
				}
				return
			}
			if got[target] != 24*3600 || got[success] < float64(snapDay.Unix()) || got[success] > float64(snapDay.Add(24*time.Hour).Unix()) {
				t.Errorf("served %v; want target 86400 and a success on %s", got, snapDay)
			}
		})
	}
}
