package cli

import "testing"

// Bad schedule requests are refused before Temporal or AWS is contacted.
func TestScheduleCommandsRefuseBadInput(t *testing.T) {
	t.Parallel()
	backup := []string{"schedule", "create", "backup", "--schedule-id", "n", "--env-id", "e", "--dataset-id", "d", "--backup-location", "s3://b/p"}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	requireRefused(t, [][]string{
		with(backup), // neither --cron nor --every
		with(backup, "--cron", "@daily", "--every", "1h"),   // both
		with(backup, "--every", "1h", "--overlap", "never"), // unknown overlap policy
		with(backup, "--cron", "@daily", "--time-zone", "Mars/Olympus"),
		with(backup, "--every", "1h", "--retain", "-1"), // negative retention
		with(backup, "--every", "1h", "--catchup-window", "-1m"),
		{"schedule", "create", "backup", "--env-id", "e", "--dataset-id", "d", "--backup-location", "s3://b/p", "--every", "1h"}, // no id
		{"schedule", "create", "backup", "--schedule-id", "has space", "--env-id", "e", "--dataset-id", "d", "--backup-location", "s3://b/p", "--every", "1h"},
		{"schedule", "create", "backup", "--schedule-id", "n", "--env-id", "e", "--dataset-id", "d", "--every", "1h"}, // no location
		{"schedule", "create", "snapshots", "--schedule-id", "n", "--every", "1h"},                                    // no regions
		{"schedule", "create", "snapshots", "--schedule-id", "n", "--regions", "mars-1", "--every", "1h"},
		{"schedule", "describe"},
		{"schedule", "trigger"},
		{"schedule", "delete"},
	})
}
