package redis

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// RestoreTestName is the RedisRestoreTest workflow's type name, as given
// to `temporal workflow start --type`.
const RestoreTestName = "RedisRestoreTest"

// StepRestoreTesting is RedisRestoreTest's step (and its nodes') while
// scratch nodes download, load and are checked.
const StepRestoreTesting = "restore-testing"

// restoreTestParallelism bounds the scratch nodes running at once: each
// holds a node's whole dataset in the worker's memory.
const restoreTestParallelism = 4

// RestoreTestInput is the RedisRestoreTest workflow's input: a backup of a
// cluster under a location, chosen as a restore chooses it (BackupID, else
// the latest at or before Date, else the latest).
type RestoreTestInput struct {
	Cluster        string `json:"cluster"`
	BackupLocation string `json:"backupLocation"`
	BackupID       string `json:"backupId,omitempty"`
	// Date is YYYY-MM-DD (that whole day, UTC) or an RFC 3339 time.
	Date string `json:"date,omitempty"`
	// Nodes restricts the test to these backed-up nodes; empty is all.
	Nodes []string `json:"nodes,omitempty"`
	// CheckCommand, if set, runs on the worker (sh -c) against each
	// scratch node once loaded, with LIFEBOAT_SCRATCH_REDIS_ADDR (and
	// _HOST, _PORT, _URL) naming it; a non-zero exit fails the test.
	CheckCommand        string `json:"checkCommand,omitempty"`
	CheckTimeoutSeconds int    `json:"checkTimeoutSeconds,omitempty"`
	// SampleSize is how many keys per node are read back (default 20).
	SampleSize int `json:"sampleSize,omitempty"`
	// Access names a role to assume for the location's S3 calls (roleArn,
	// externalId) and the bucket's owner (bucketOwner): a backup in another
	// account. Finding the backup, downloading it and writing
	// restore-test.json all use it.
	backupstore.Access
}

// RestoreTestResult is a backup proven to restore: every node's file
// loaded into a scratch Redis with the manifest's key count, its sample
// read back and the check command passed.
type RestoreTestResult struct {
	Cluster     string `json:"cluster"`
	BackupID    string `json:"backupId"`
	Format      string `json:"format"`
	ManifestURL string `json:"manifestUrl"`
	// RTOSeconds is the slowest node's restore time: nodes restore in
	// parallel, each from its download's start until its scratch node
	// answered with the data loaded.
	RTOSeconds float64 `json:"rtoSeconds"`
	// Target names the scratch nodes (gone now).
	Target string                                `json:"target"`
	Nodes  []redisact.RestoreTestRedisNodeResult `json:"nodes"`
	// RecordURL is the restore-test.json written beside the backup; empty
	// when it could not be written (RecordWarning says why).
	RecordURL     string `json:"recordUrl,omitempty"`
	RecordWarning string `json:"recordWarning,omitempty"`
}

// RestoreTestWorkflowID names a restore test after its cluster and start time.
func RestoreTestWorkflowID(in RestoreTestInput, now time.Time) string {
	return strings.Join([]string{"redis-restore-test", in.Cluster, now.UTC().Format("20060102T150405.000Z")}, "-")
}

var (
	// scratchNode runs a node's whole restore test on a main worker: a
	// download, a scratch redis-server loading it, the checks. It beats
	// every 5 s, so a cancellation reaches it within the SDK's heartbeat
	// throttle (80 % of the timeout); the workflow waits for it to kill
	// its scratch node before going on.
	scratchNode = workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    15 * time.Second,
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			MaximumAttempts:    3,
			NonRetryableErrorTypes: append([]string{redisact.ErrServerMissing, redisact.ErrRestoreTestFailed},
				activities.NonRetryable...),
		},
	}
	// scratchCleanup removes what a scratch node left, once the test is over.
	scratchCleanup = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumAttempts: 5},
	}
)

// RestoreTest proves that a backup of a Redis cluster restores, without
// going near the cluster (it need not even be registered any more): find
// the backup as a restore would, then for each node's file (a few at a
// time) download it on a main worker, load it into a fresh scratch
// redis-server there, measure how long that took (the RTO), compare the
// scratch node's key count with the manifest's, read back a sample of keys
// and run the user's check command. The scratch nodes and their files are
// always removed, also when the test fails or is cancelled. The outcome,
// passed or not, is written beside the backup as restore-test.json. A
// failed test fails the run with one message naming the first node (in
// manifest order) and what went wrong.
func RestoreTest(ctx workflow.Context, in RestoreTestInput) (*RestoreTestResult, error) {
	p, err := startProgress(ctx, "redis-restore-test", in.Cluster)
	if err != nil {
		return nil, err
	}
	short := workflow.WithActivityOptions(ctx, workflows.ShortAWSCall)
	var found redisact.FindRedisBackupToVerifyResult
	err = workflow.ExecuteActivity(short, redisClusters.FindRedisBackupToVerify, redisact.FindRedisBackupToVerifyInput{
		Cluster: in.Cluster, BackupLocation: in.BackupLocation, BackupID: in.BackupID, Date: in.Date, Access: in.Access,
	}).Get(ctx, &found)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	what := fmt.Sprintf("restore test of backup %s of Redis cluster %s", found.BackupID, found.Cluster)
	nodes, err := pickNodes(found.Nodes, in.Nodes)
	if err != nil {
		return nil, p.fail(ctx, temporal.NewNonRetryableApplicationError(what+": "+err.Error(), activities.ErrInvalidInput, nil))
	}
	p.Validated, p.BackupID = true, found.BackupID
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.Node
		np := p.node(n.Node)
		np.Step, np.Bytes, np.Keys = StepWaiting, n.Bytes, n.Keys
	}
	// Scratch nodes go whatever happens; each activity removes its own,
	// this is the backstop for one whose worker died.
	defer func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, scratchCleanup), redisClusters.DiscardRedisScratch,
			redisact.DiscardRedisScratchInput{Nodes: ids}).Get(dctx, nil)
		if err != nil {
			workflow.GetLogger(ctx).Warn("Could not remove scratch directories", "error", err)
		}
	}()

	workflows.SetStep(ctx, p, StepRestoreTesting)
	results := make([]redisact.RestoreTestRedisNodeResult, len(nodes))
	failures := make([]error, len(nodes))
	sem := workflow.NewSemaphore(ctx, restoreTestParallelism)
	wg := workflow.NewWaitGroup(ctx)
	for i, n := range nodes {
		wg.Add(1)
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer wg.Done()
			if err := sem.Acquire(gctx, 1); err != nil {
				failures[i] = err
				return
			}
			defer sem.Release(1)
			np := p.node(n.Node)
			np.Step = StepRestoreTesting
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(gctx, scratchNode), redisClusters.RestoreTestRedisNode, redisact.RestoreTestRedisNodeInput{
				Bucket: found.Location.Bucket, Location: found.Location, Cluster: found.Cluster, BackupID: found.BackupID, Persistence: found.Persistence, Node: n,
				SampleSize: in.SampleSize, CheckCommand: in.CheckCommand, CheckTimeoutSeconds: in.CheckTimeoutSeconds,
			}).Get(gctx, &results[i])
			if err != nil {
				failures[i] = err
				np.Step, np.Detail = workflows.StepFailed, errMessage(err)
				return
			}
			r := results[i]
			np.Step, np.Keys = workflows.StepDone, r.Keys
			np.Detail = fmt.Sprintf("loaded in %.1fs into scratch %s, %d keys, %d sampled", float64(r.RTOMillis)/1000, r.Addr, r.Keys, r.Sampled)
		})
	}
	wg.Wait(ctx)
	if ctx.Err() != nil {
		return nil, p.fail(ctx, ctx.Err()) // cancelled: nothing to record
	}

	var firstErr error
	var bad []string
	var rto int64
	var targets []string
	for i, f := range failures {
		if f != nil {
			bad = append(bad, nodes[i].Node)
			if firstErr == nil {
				firstErr = f
			}
			continue
		}
		r := results[i]
		rto = max(rto, r.RTOMillis)
		targets = append(targets, fmt.Sprintf("%s=%s on %s", r.Node, r.Addr, r.Host))
	}
	rec := backupstore.RestoreTest{
		At: workflow.Now(ctx).UTC(), Outcome: backupstore.VerifiedOK, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		BackupID: found.BackupID, RTOSeconds: float64(rto) / 1000, Target: strings.Join(targets, ", "),
		Checked: checkedSentence(found, nodes, results, failures, in),
	}
	if rec.Target == "" {
		rec.Target = "scratch redis-server on a worker"
	}
	var verdict error
	if firstErr != nil {
		msg := what + " failed: " + errMessage(firstErr)
		if len(bad) > 1 {
			msg += fmt.Sprintf(" (and %d more node(s): %s)", len(bad)-1, strings.Join(bad[1:], ", "))
		}
		typ := redisact.ErrRestoreTestFailed
		var app *temporal.ApplicationError
		if errors.As(firstErr, &app) && app.Type() != "" {
			typ = app.Type()
		}
		verdict = temporal.NewNonRetryableApplicationError(msg, typ, nil)
		rec.Outcome, rec.Problem = backupstore.VerifiedFailed, msg
	}

	workflows.RecordRestoreTest(ctx, "redis", found.Cluster, time.Duration(rto)*time.Millisecond, verdict == nil)
	workflows.SetStep(ctx, p, workflows.StepManifest)
	var recorded redisact.RecordRedisRestoreTestResult
	recErr := workflow.ExecuteActivity(short, redisClusters.RecordRedisRestoreTest, redisact.RecordRedisRestoreTestInput{
		Location: found.Location, Cluster: found.Cluster, BackupID: found.BackupID, RestoreTest: rec,
	}).Get(ctx, &recorded)
	if recErr != nil {
		// The verdict stands; only its record is missing.
		p.Warnings = append(p.Warnings, "could not write "+backupstore.RestoreTestName+": "+errMessage(recErr))
	}
	if verdict != nil {
		return nil, p.fail(ctx, verdict)
	}
	res := &RestoreTestResult{
		Cluster: found.Cluster, BackupID: found.BackupID, Format: found.Persistence, ManifestURL: found.ManifestURL,
		RTOSeconds: rec.RTOSeconds, Target: rec.Target, Nodes: results, RecordURL: recorded.URL,
	}
	if recErr != nil {
		res.RecordWarning = p.Warnings[len(p.Warnings)-1]
	}
	workflows.SetStep(ctx, p, workflows.StepDone)
	return res, nil
}

// pickNodes keeps the backed-up nodes asked for, in manifest order; none
// asked for is all of them.
func pickNodes(all []redisbackup.Node, want []string) ([]redisbackup.Node, error) {
	if len(want) == 0 {
		return all, nil
	}
	var out []redisbackup.Node
	ids := make([]string, len(all))
	for i, n := range all {
		ids[i] = n.Node
		if slices.Contains(want, n.Node) {
			out = append(out, n)
		}
	}
	for _, w := range want {
		if !slices.Contains(ids, w) {
			return nil, fmt.Errorf("the backup has no node %q (it has %s)", w, strings.Join(ids, ", "))
		}
	}
	return out, nil
}

// checkedSentence says what the test compared, for restore-test.json.
func checkedSentence(found redisact.FindRedisBackupToVerifyResult, nodes []redisbackup.Node, results []redisact.RestoreTestRedisNodeResult, failures []error, in RestoreTestInput) string {
	var keys []string
	sampled := 0
	for i, n := range nodes {
		if failures[i] == nil {
			keys = append(keys, fmt.Sprintf("%s %d (manifest %s)", n.Node, results[i].Keys, n.ExpectedKeys()))
			sampled += results[i].Sampled
		}
	}
	s := fmt.Sprintf("backup %s of Redis cluster %s (%s): %d node file(s) downloaded, SHA-256 checked against the cluster manifest and loaded into scratch redis-servers; key counts over every database compared with the manifest",
		found.BackupID, found.Cluster, found.Persistence, len(nodes))
	if len(keys) > 0 {
		s += " (" + strings.Join(keys, ", ") + ")"
	}
	s += fmt.Sprintf("; %d sampled key(s) read back (RANDOMKEY, TYPE)", sampled)
	if strings.TrimSpace(in.CheckCommand) != "" {
		s += fmt.Sprintf("; check command %q run against each", in.CheckCommand)
	}
	return s
}
