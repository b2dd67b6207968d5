package dataset_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// A dead worker must hold writes paused for seconds, not minutes (issue 13):
// every activity that runs while writes are paused either ends within 10 s
// (one call: a task lost with its worker is retried on another 10 s later)
// or heartbeats against a timeout of at most 20 s. Their start-to-close
// stays sized for AWS.
func TestActivitiesInThePauseNoticeADeadWorkerInSeconds(t *testing.T) {
	t.Parallel()
	const maxCall, maxHeartbeat = 10 * time.Second, 20 * time.Second
	// The activities that run while writes are paused, and the shortest
	// start-to-close each keeps for AWS (0: a one-call step).
	inPause := map[string]time.Duration{
		"Pause": 0, "SwitchStore": 0, "Resume": 0, "FailStore": 0,
		"WaitForDrain": time.Minute, "StartImport": time.Minute, "WaitImport": 24 * time.Hour, "CreateEmptyTable": 10 * time.Minute,
	}
	for _, tc := range []struct {
		name     string
		workflow string
		in       any
		fail     string // an activity made to fail, so the compensations run
		want     []string
	}{
		{"backup", dataset.BackupName, backupInput("ds-a"), "", []string{"Pause", "WaitForDrain", "Resume"}},
		{"restore", dataset.RestoreName, restoreInput("r1", "ds-a", "ds-c"), "",
			[]string{"Pause", "WaitForDrain", "StartImport", "WaitImport", "CreateEmptyTable", "SwitchStore", "Resume"}},
		{"failed restore", dataset.RestoreName, restoreInput("r1", "ds-a"), "WaitImport",
			[]string{"Pause", "WaitForDrain", "StartImport", "WaitImport", "Resume", "FailStore"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			if tc.fail != "" {
				fx.ctl.fail(tc.fail, appError("planted", "ImportFailed"))
			}
			var mu sync.Mutex
			seen := map[string]bool{}
			fx.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				name := info.ActivityType.Name
				minClose, ok := inPause[name]
				if !ok {
					return
				}
				mu.Lock()
				seen[name] = true
				mu.Unlock()
				startToClose := info.Deadline.Sub(info.StartedTime).Round(time.Second)
				if minClose == 0 {
					if info.HeartbeatTimeout == 0 && startToClose > maxCall {
						t.Errorf("%s: start-to-close %s, want at most %s", name, startToClose, maxCall)
					}
					return
				}
				if info.HeartbeatTimeout <= 0 || info.HeartbeatTimeout > maxHeartbeat {
					t.Errorf("%s: heartbeat timeout %s, want (0, %s]", name, info.HeartbeatTimeout, maxHeartbeat)
				}
				if info.HeartbeatTimeout < 3*activities.HeartbeatInPause {
					t.Errorf("%s: heartbeat timeout %s is less than three beats of %s", name, info.HeartbeatTimeout, activities.HeartbeatInPause)
				}
				if startToClose < minClose {
					t.Errorf("%s: start-to-close %s, want at least %s for AWS", name, startToClose, minClose)
				}
			})
			fx.run(tc.workflow, tc.in)
			for _, name := range tc.want {
				require.True(t, seen[name], "%s did not run", name)
			}
		})
	}
}
