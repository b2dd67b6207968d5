package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// Lifeboat's own metrics, emitted through the workflow's metrics handler
// (never during replay) and served by the worker beside the SDK's. On the
// Prometheus endpoint counters end in _total and timers in _seconds.
const (
	// MetricPauseWindow is how long a dataset workflow kept writes paused
	// (histogram; tag operation).
	MetricPauseWindow = "lifeboat_pause_window"
	// Items and bytes a backup exported / a restore imported (tags
	// operation, dataset = env/dataset).
	MetricItemsExported = "lifeboat_items_exported"
	MetricBytesExported = "lifeboat_bytes_exported"
	MetricItemsImported = "lifeboat_items_imported"
	MetricBytesImported = "lifeboat_bytes_imported"
	// EBS snapshots created, copied (into region) and deleted (tag region).
	MetricSnapshotsCreated = "lifeboat_snapshots_created"
	MetricSnapshotsCopied  = "lifeboat_snapshots_copied"
	MetricSnapshotsDeleted = "lifeboat_snapshots_deleted"
	// MetricFailures counts failed workflows by the step they failed in
	// (tags operation, step), and retention steps that failed in runs that
	// succeeded anyway (step pruning-backups).
	MetricFailures = "lifeboat_failures"
)

func Count(ctx workflow.Context, name string, n int64, tags map[string]string) {
	if n <= 0 {
		return
	}
	workflow.GetMetricsHandler(ctx).WithTags(tags).Counter(name).Inc(n)
}

func CountFailure(ctx workflow.Context, op, step string) {
	if step == "" || step == StepFailed {
		step = "unknown"
	}
	Count(ctx, MetricFailures, 1, map[string]string{"operation": op, "step": step})
}

func RecordPauseWindow(ctx workflow.Context, op string, d time.Duration) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"operation": op}).Timer(MetricPauseWindow).Record(d)
}
