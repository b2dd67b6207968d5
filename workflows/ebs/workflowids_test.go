package ebs

import (
	"testing"
	"time"
)

// Workflow ids are what users look runs up by (temporal workflow describe,
// the Web UI): they name the regions or the group and the start time.
func TestWorkflowIDsNameWhatTheRunIsAbout(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 3, 0, 0, 5e6, time.FixedZone("CET", 3600))
	for _, c := range []struct{ got, want string }{
		{RunWorkflowID(nil, now), "snapshots-run-20261122T020000.005Z"},
		{RunWorkflowID([]string{"eu-west-1"}, now), "snapshots-run-eu-west-1-20261122T020000.005Z"},
		{RunWorkflowID([]string{"eu-west-1", "us-east-1"}, now), "snapshots-run-eu-west-1-and-1-more-20261122T020000.005Z"},
		{RunWorkflowID([]string{"eu-west-1", "us-east-1", "ap-south-1"}, now), "snapshots-run-eu-west-1-and-2-more-20261122T020000.005Z"},
		{RestoreWorkflowID(RestoreInput{GroupID: "g-1", SourceInstanceID: "i-1"}, now), "snapshots-restore-g-1-20261122T020000.005Z"},
		{RestoreWorkflowID(RestoreInput{SourceInstanceID: "i-1"}, now), "snapshots-restore-i-1-20261122T020000.005Z"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
