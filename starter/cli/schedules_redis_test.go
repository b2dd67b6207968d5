package cli

import "testing"

func TestRedisScheduleAndPruneFlagsRefused(t *testing.T) {
	t.Parallel()
	sched := func(extra ...string) []string {
		return append([]string{"schedule", "create", "redis", "--schedule-id", "nightly", "--cluster-id", "shop",
			"--backup-location", "s3://backups/redis", "--cron", "0 3 * * *"}, extra...)
	}
	requireRefused(t, [][]string{
		{"schedule", "create", "redis", "--schedule-id", "nightly", "--backup-location", "s3://backups/redis", "--cron", "@daily"},
		{"schedule", "create", "redis", "--schedule-id", "nightly", "--cluster-id", "shop", "--cron", "@daily"},
		{"schedule", "create", "redis", "--cluster-id", "shop", "--backup-location", "s3://backups/redis", "--cron", "@daily"},
		{"schedule", "create", "redis", "--schedule-id", "nightly", "--cluster-id", "shop", "--backup-location", "s3://backups/redis"},
		sched("--retain", "-1"),
		sched("--retain-days", "-2"),
		sched("--format", "csv"),
		{"schedule", "create", "redis", "--schedule-id", "nightly", "--cluster-id", "bad.id", "--backup-location", "s3://backups/redis", "--cron", "@daily"},
		{"schedule", "create", "redis", "--schedule-id", "nightly", "--cluster-id", "shop", "--backup-location", "http://b/redis", "--cron", "@daily"},
		{"redis", "prune", "--cluster-id", "shop", "--backup-location", "s3://backups/redis"},
		{"redis", "prune", "--cluster-id", "shop", "--backup-location", "s3://backups/redis", "--retain", "-1"},
		{"redis", "prune", "--backup-location", "s3://backups/redis", "--retain", "2"},
		{"redis", "prune", "--cluster-id", "shop", "--backup-location", "nope", "--retain", "2"},
	})
}
