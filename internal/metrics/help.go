package metrics

import (
	"strings"

	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
)

// Help is the Prometheus HELP text of every metric a worker serves, by name
// without the _total / _seconds suffix the naming scope adds: Lifeboat's own
// (workflows/metrics.go names them; a test there checks each has one) and
// the Temporal Go SDK's (go.temporal.io/sdk/internal/common/metrics, as
// documented at https://docs.temporal.io/references/sdk-metrics). A metric
// missing here gets tally's placeholder ("<name> counter"); TestIntegrationEveryMetricExplained
// in internal/integration/redis fails on any such metric a worker serves.
var Help = map[string]string{
	// Lifeboat's.
	"lifeboat_pause_window":      "How long a dataset backup or restore kept writes refused (the pause window), per run.",
	"lifeboat_items_exported":    "Items a dataset backup exported, as DynamoDB counted them, by dataset (env/dataset).",
	"lifeboat_bytes_exported":    "Bytes a dataset backup exported to S3, by dataset (env/dataset).",
	"lifeboat_items_imported":    "Items a dataset restore imported into its new table, as DynamoDB counted them, by dataset.",
	"lifeboat_bytes_imported":    "Bytes of backup data a dataset restore imported, by dataset (env/dataset).",
	"lifeboat_snapshots_created": "EBS snapshots created, by region.",
	"lifeboat_snapshots_copied":  "EBS snapshot copies completed, by destination region.",
	"lifeboat_snapshots_deleted": "EBS snapshots deleted by expiry, by region.",
	"lifeboat_failures":          "Lifeboat runs that failed, by operation and the step they failed in; step pruning-backups counts a failed retention step of a backup that succeeded. Refused requests are not counted here (lifeboat_refused_total).",
	"lifeboat_refused":           "Lifeboat requests refused before anything was changed (bad input: an unknown dataset or cluster, a malformed location, a missing bucket...), by operation and reason. Not failures: nothing broke.",
	// Per protected resource (gauges: the names are served as they are).
	"lifeboat_last_success_timestamp_seconds":      "When the last successful backup of a resource ended, in Unix seconds, by operation (backup, redis-backup, snapshots) and resource (env/dataset, Redis cluster, EBS region); each worker serves the runs it finished: take the max.",
	"lifeboat_rpo_target_seconds":                  "A resource's recovery point objective in seconds (its schedule's interval, or --rpo), by operation and resource: a backup older than this is overdue.",
	"lifeboat_last_restore_test_seconds":           "How long the last passing restore test of a resource took to restore it (the RTO it proved), in seconds, by kind (dataset, redis, snapshots) and resource.",
	"lifeboat_last_restore_test_success":           "Whether the last restore test of a resource passed (1) or failed (0), by kind and resource; read it with lifeboat_last_restore_test_timestamp_seconds when several workers serve it.",
	"lifeboat_last_restore_test_timestamp_seconds": "When the last restore test of a resource ended, in Unix seconds, by kind and resource.",
	DatasetPaused: "How long a dataset has had writes paused (status PAUSING or PAUSED in the control table), in seconds, by resource (env/dataset) and held_by (the workflow holding the pause); read from the control table every 30 s by each worker, so it shows a pause whose workflow or worker died.",

	// The Temporal Go SDK's.
	"temporal_workflow_completed":                      "Workflow executions that completed successfully on this worker.",
	"temporal_workflow_canceled":                       "Workflow executions that ended canceled on this worker.",
	"temporal_workflow_failed":                         "Workflow executions that ended failed on this worker.",
	"temporal_workflow_continue_as_new":                "Workflow executions that continued as new on this worker.",
	"temporal_workflow_endtoend_latency":               "Time from a workflow execution's start to its close (completed, failed, canceled...), seen by this worker.",
	"temporal_workflow_task_replay_latency":            "Time this worker took to replay a workflow's history when rebuilding its state.",
	"temporal_workflow_task_queue_poll_empty":          "Workflow task polls that returned no task (the queue was idle).",
	"temporal_workflow_task_queue_poll_succeed":        "Workflow task polls that returned a task.",
	"temporal_workflow_task_schedule_to_start_latency": "Time workflow tasks waited on the task queue before a worker picked them up (high: too few workers).",
	"temporal_workflow_task_execution_latency":         "Time this worker took to process a workflow task.",
	"temporal_workflow_task_execution_failed":          "Workflow tasks that failed on this worker (a panic, non-determinism): the workflow is stuck until fixed.",
	"temporal_workflow_task_no_completion":             "Workflow tasks that ended without a completion being sent (e.g. the worker was evicting the workflow).",
	"temporal_activity_poll_no_task":                   "Activity task polls that returned no task (the queue was idle).",
	"temporal_activity_schedule_to_start_latency":      "Time activity tasks waited on the task queue before a worker picked them up (high: too few workers or slots).",
	"temporal_activity_execution_failed":               "Activity attempts that failed on this worker (each retry counts).",
	"temporal_unregistered_activity_invocation":        "Activity tasks for an activity type this worker does not register.",
	"temporal_activity_execution_latency":              "Time one activity attempt ran on this worker.",
	"temporal_activity_succeed_endtoend_latency":       "Time from an activity's scheduling to its successful completion, retries included.",
	"temporal_activity_task_error":                     "Activity tasks this worker could not handle (an internal error, not the activity's own failure).",
	"temporal_local_activity_total":                    "Local activity executions started on this worker.",
	"temporal_local_activity_canceled":                 "Local activity executions canceled (deprecated name of temporal_local_activity_execution_cancelled).",
	"temporal_local_activity_execution_cancelled":      "Local activity executions canceled.",
	"temporal_local_activity_failed":                   "Local activity executions that failed (deprecated name of temporal_local_activity_execution_failed).",
	"temporal_local_activity_execution_failed":         "Local activity executions that failed.",
	"temporal_local_activity_error":                    "Local activity tasks this worker could not handle (an internal error).",
	"temporal_local_activity_execution_latency":        "Time one local activity attempt ran.",
	"temporal_local_activity_succeed_endtoend_latency": "Time from a local activity's scheduling to its successful completion, retries included.",
	"temporal_corrupted_signals":                       "Signals this worker dropped because their payload could not be decoded.",
	"temporal_worker_start":                            "Worker starts (one per worker type: workflow, activity, local activity, nexus).",
	"temporal_worker_task_slots_available":             "Task slots this worker has free, by worker type.",
	"temporal_worker_task_slots_used":                  "Task slots in use on this worker, by worker type.",
	"temporal_poller_start":                            "Pollers this worker started.",
	"temporal_num_pollers":                             "Pollers this worker runs, by poller type.",
	"temporal_request":                                 "Requests this process sent to the Temporal server, by operation.",
	"temporal_request_failure":                         "Requests to the Temporal server that failed, by operation and status code.",
	"temporal_request_latency":                         "Latency of requests to the Temporal server, by operation.",
	"temporal_long_request":                            "Long-poll requests this process sent to the Temporal server, by operation.",
	"temporal_long_request_failure":                    "Long-poll requests to the Temporal server that failed, by operation and status code.",
	"temporal_long_request_latency":                    "Latency of long-poll requests to the Temporal server, by operation.",
	"temporal_request_attempt":                         "Attempts of requests to the Temporal server, retries included, by operation.",
	"temporal_request_failure_attempt":                 "Attempts of requests to the Temporal server that failed, retries included, by operation and status code.",
	"temporal_request_latency_attempt":                 "Latency of each attempt of a request to the Temporal server, retries included.",
	"temporal_long_request_attempt":                    "Attempts of long-poll requests to the Temporal server, retries included, by operation.",
	"temporal_long_request_failure_attempt":            "Attempts of long-poll requests to the Temporal server that failed, retries included.",
	"temporal_long_request_latency_attempt":            "Latency of each attempt of a long-poll request to the Temporal server, retries included.",
	"temporal_request_resource_exhausted":              "Requests to the Temporal server refused as resource exhausted (rate limited), by cause.",
	"temporal_long_request_resource_exhausted":         "Long-poll requests to the Temporal server refused as resource exhausted, by cause.",
	"temporal_sticky_cache_hit":                        "Workflow tasks served from this worker's cache of workflow state (no replay needed).",
	"temporal_sticky_cache_miss":                       "Workflow tasks whose workflow state was not in this worker's cache (its history was replayed).",
	"temporal_sticky_cache_total_forced_eviction":      "Workflows evicted from this worker's cache to make room.",
	"temporal_sticky_cache_size":                       "Workflows held in this worker's cache.",
	"temporal_workflow_active_thread_count":            "Workflow coroutines alive on this worker.",
	"temporal_nexus_poll_no_task":                      "Nexus task polls that returned no task.",
	"temporal_nexus_task_schedule_to_start_latency":    "Time Nexus tasks waited on the task queue before a worker picked them up.",
	"temporal_nexus_task_execution_failed":             "Nexus tasks that failed on this worker.",
	"temporal_nexus_task_execution_latency":            "Time this worker took to handle a Nexus task.",
	"temporal_nexus_task_endtoend_latency":             "Time from a Nexus task's scheduling to its completion.",
}

// helpFor is the HELP text of a metric as the reporter names it: a gauge
// by its own name, a counter or timer without the suffix the naming scope
// added.
func helpFor(name string) (string, bool) {
	if h, ok := Help[name]; ok {
		return h, true
	}
	base := strings.TrimSuffix(strings.TrimSuffix(name, "_total"), "_seconds")
	h, ok := Help[base]
	return h, ok
}

// describedReporter gives each metric its HELP text. tally's Prometheus
// reporter registers a metric on first use with a placeholder HELP; a
// metric registered beforehand (same name and label keys) keeps its own,
// so each allocation registers first.
type describedReporter struct {
	tallyprom.Reporter
}

func (r describedReporter) AllocateCounter(name string, tags map[string]string) tally.CachedCount {
	if h, ok := helpFor(name); ok {
		_, _ = r.RegisterCounter(name, keys(tags), h) // an error recurs below and is reported there
	}
	return r.Reporter.AllocateCounter(name, tags)
}

func (r describedReporter) AllocateGauge(name string, tags map[string]string) tally.CachedGauge {
	if h, ok := helpFor(name); ok {
		_, _ = r.RegisterGauge(name, keys(tags), h)
	}
	return r.Reporter.AllocateGauge(name, tags)
}

func (r describedReporter) AllocateTimer(name string, tags map[string]string) tally.CachedTimer {
	if h, ok := helpFor(name); ok {
		_, _ = r.RegisterTimer(name, keys(tags), h, nil)
	}
	return r.Reporter.AllocateTimer(name, tags)
}

func keys(tags map[string]string) []string {
	out := make([]string, 0, len(tags))
	for k := range tags {
		out = append(out, k)
	}
	return out
}
