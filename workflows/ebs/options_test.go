package ebs

import (
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
)

// Every EBS activity heartbeats (at least every activities.HeartbeatEvery)
// and has a heartbeat timeout a few of those long, so a dead worker is
// noticed in minutes; no start-to-close is shorter than the work it
// bounds, however long a snapshot or a copy takes.
func TestSnapshotActivityTimeoutsOutlastTheirWork(t *testing.T) {
	t.Parallel()
	opts := map[string]workflow.ActivityOptions{
		"ec2Call": ec2Call, "ec2Sweep": ec2Sweep, "ec2Cleanup": ec2Cleanup,
		"ec2Poll(0)": ec2Poll(0), "ec2Poll(wait)": ec2Poll(DefaultWaitTimeoutSeconds * time.Second),
		"ec2Poll(window)": ec2Poll(DefaultCopyWindowSeconds * time.Second), "ec2Poll(day)": ec2Poll(24 * time.Hour),
	}
	for name, o := range opts {
		if o.HeartbeatTimeout < 3*activities.HeartbeatEvery {
			t.Errorf("%s: heartbeat timeout %s, want at least 3 heartbeats of %s", name, o.HeartbeatTimeout, activities.HeartbeatEvery)
		}
		if o.StartToCloseTimeout <= o.HeartbeatTimeout {
			t.Errorf("%s: start-to-close %s not above the heartbeat timeout", name, o.StartToCloseTimeout)
		}
		if o.RetryPolicy == nil || len(o.RetryPolicy.NonRetryableErrorTypes) == 0 {
			t.Errorf("%s: no retry policy with EBS's non-retryable errors", name)
		}
	}
	for _, wait := range []time.Duration{0, 4 * time.Hour, 24 * time.Hour, 72 * time.Hour} {
		if got := ec2Poll(wait).StartToCloseTimeout; got < wait+5*time.Minute {
			t.Errorf("ec2Poll(%s): start-to-close %s leaves no room after the wait", wait, got)
		}
	}
	// The in-activity retries (3 minutes per call by default) fit a few
	// times into one short activity.
	if ec2Call.StartToCloseTimeout < 3*3*time.Minute {
		t.Errorf("ec2Call start-to-close %s: too short for in-activity retries", ec2Call.StartToCloseTimeout)
	}
}
