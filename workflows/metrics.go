package workflows

import (
	"errors"
	"reflect"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
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
	// MetricRefused counts requests a workflow refused before changing
	// anything, because of bad input (tags operation, reason: RefusalReason),
	// apart from MetricFailures so that a typo never pages anyone.
	MetricRefused = "lifeboat_refused"

	// Gauges per protected resource, for alerts (deploy/prometheus) and
	// dashboards. A worker serves the values of the runs it finished; with
	// several workers take max by (operation, resource).
	//
	// MetricLastSuccess is when a backup of the resource last succeeded
	// (Unix seconds; tags operation: a Protected* name, resource).
	MetricLastSuccess = "lifeboat_last_success_timestamp_seconds"
	// MetricRPOTarget is the resource's recovery point objective in
	// seconds (its schedule's interval, or --rpo), set with each success of
	// a run that knows it.
	MetricRPOTarget = "lifeboat_rpo_target_seconds"
	// Restore tests (tags kind: dataset, redis or snapshots; resource): the
	// last test's measured restore time (RTO; tests that passed only), its
	// outcome (1 passed, 0 failed) and when it ended.
	MetricRestoreTestSeconds   = "lifeboat_last_restore_test_seconds"
	MetricRestoreTestSuccess   = "lifeboat_last_restore_test_success"
	MetricRestoreTestTimestamp = "lifeboat_last_restore_test_timestamp_seconds"
)

// The operation tag of MetricLastSuccess and MetricRPOTarget: what kind of
// resource a backup protects (resource is env/dataset, the Redis cluster
// id, the EBS region).
const (
	ProtectedDataset   = "backup"
	ProtectedRedis     = "redis-backup"
	ProtectedSnapshots = "snapshots"
)

// Metrics lists every metric above: each has a HELP text in
// internal/metrics.Help (a test checks).
var Metrics = []string{
	MetricPauseWindow, MetricItemsExported, MetricBytesExported, MetricItemsImported, MetricBytesImported,
	MetricSnapshotsCreated, MetricSnapshotsCopied, MetricSnapshotsDeleted, MetricFailures, MetricRefused,
	MetricLastSuccess, MetricRPOTarget, MetricRestoreTestSeconds, MetricRestoreTestSuccess, MetricRestoreTestTimestamp,
}

// Refusal reasons (the reason tag of MetricRefused), from the type of the
// error behind an InvalidInput refusal.
const (
	RefusedNotFound     = "not-found"      // an unknown environment, dataset or Redis cluster
	RefusedExists       = "already-exists" // an id already taken
	RefusedNoBackup     = "no-backup"      // no backup matches a restore's request
	RefusedInvalidInput = "invalid-input"  // anything else: a malformed id, location, policy...
)

// RefusalReason says whether err refuses the request as bad input (an
// InvalidInput application error: nothing was changed) and why, in a few
// fixed words fit for a metric tag.
func RefusalReason(err error) (string, bool) {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrInvalidInput {
		return "", false
	}
	// The cause is the typed error an activity refused with: the error
	// itself within one process, an ApplicationError typed by its Go type
	// name once it crossed the server.
	cause := errors.Unwrap(app)
	name := ""
	var inner *temporal.ApplicationError
	if errors.As(cause, &inner) {
		name = inner.Type()
	} else if cause != nil {
		name = reflect.TypeOf(cause).String()
		name = name[strings.LastIndex(name, ".")+1:]
	}
	switch name {
	case "NotFoundError", "RedisClusterNotFoundError":
		return RefusedNotFound, true
	case "AlreadyExistsError", "RedisClusterExistsError":
		return RefusedExists, true
	case "NoBackupError":
		return RefusedNoBackup, true
	}
	return RefusedInvalidInput, true
}

// CountRefused counts a refused request (MetricRefused).
func CountRefused(ctx workflow.Context, op, reason string) {
	Count(ctx, MetricRefused, 1, map[string]string{"operation": op, "reason": reason})
}

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

// RecordBackupSuccess says a backup of resource (operation op: a Protected*
// name) succeeded now, and its target when known (rpo > 0).
func RecordBackupSuccess(ctx workflow.Context, op, resource string, rpo time.Duration) {
	h := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"operation": op, "resource": resource})
	h.Gauge(MetricLastSuccess).Update(unixSeconds(workflow.Now(ctx)))
	if rpo > 0 {
		h.Gauge(MetricRPOTarget).Update(rpo.Seconds())
	}
}

// RecordRestoreTest records a finished restore test of resource (kind
// dataset, redis or snapshots): its outcome, when it ended and, when it
// passed, how long the restore took (the RTO it proved). A failed test
// leaves the RTO of the last one that passed.
func RecordRestoreTest(ctx workflow.Context, kind, resource string, rto time.Duration, ok bool) {
	h := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"kind": kind, "resource": resource})
	success := 0.0
	if ok {
		success = 1
		h.Gauge(MetricRestoreTestSeconds).Update(rto.Seconds())
	}
	h.Gauge(MetricRestoreTestSuccess).Update(success)
	h.Gauge(MetricRestoreTestTimestamp).Update(unixSeconds(workflow.Now(ctx)))
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
