package redis

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// VerifyName is the RedisVerify workflow's type name, as given to
// `temporal workflow start --type`.
const VerifyName = "RedisVerify"

// StepVerifying is RedisVerify's step (and its nodes') while files are
// downloaded and checked.
const StepVerifying = "verifying"

// verifyParallelism bounds the nodes checked at once: each downloads its
// whole file into the worker's temporary folder.
const verifyParallelism = 4

// VerifyInput is the RedisVerify workflow's input: a backup of a cluster
// under a location, chosen as a restore chooses it (BackupID, else the
// latest at or before Date, else the latest).
type VerifyInput struct {
	Cluster        string `json:"cluster"`
	BackupLocation string `json:"backupLocation"`
	BackupID       string `json:"backupId,omitempty"`
	// Date is YYYY-MM-DD (that whole day, UTC) or an RFC 3339 time.
	Date string `json:"date,omitempty"`
	// Access names a role to assume for the location's S3 calls (roleArn,
	// externalId) and the bucket's owner, for a backup in another account.
	backupstore.Access
}

// VerifyResult is a backup found sound: every node's files matched the
// cluster manifest and were accepted by redis-check-rdb / redis-check-aof.
type VerifyResult struct {
	Cluster     string       `json:"cluster"`
	BackupID    string       `json:"backupId"`
	Format      string       `json:"format"`
	ManifestURL string       `json:"manifestUrl"`
	Keys        int64        `json:"keys"`
	Bytes       int64        `json:"bytes"`
	Nodes       []NodeResult `json:"nodes"`
	// VerifiedURL is the verified.json written beside the backup; empty
	// when it could not be written (RecordWarning says why).
	VerifiedURL   string `json:"verifiedUrl,omitempty"`
	RecordWarning string `json:"recordWarning,omitempty"`
}

// VerifyWorkflowID names a verify run after its cluster and start time.
func VerifyWorkflowID(in VerifyInput, now time.Time) string {
	return strings.Join([]string{"redis-verify", in.Cluster, now.UTC().Format("20060102T150405.000Z")}, "-")
}

// verifyScan downloads and checks one node's files, on any main worker
// (not a sidecar: it needs only S3 and a temporary folder). It heartbeats
// per part downloaded and while the checker runs.
var verifyScan = workflow.ActivityOptions{
	StartToCloseTimeout: 6 * time.Hour,
	HeartbeatTimeout:    time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        2 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        30 * time.Second,
		MaximumAttempts:        5,
		NonRetryableErrorTypes: append([]string{redisact.ErrCheckerMissing}, activities.NonRetryable...),
	},
}

// Verify checks one backup of a Redis cluster without touching the
// cluster: find it as a restore would, then for every node (a few at a
// time) download its files, compare their size and SHA-256 with the cluster
// manifest and run redis-check-rdb or redis-check-aof on them. The outcome,
// sound or not, is written beside the backup as verified.json. A backup
// that is not sound fails the run with one message naming the first node
// (in manifest order) and file that is wrong and why; its type is the
// node's (ChecksumMismatch, BackupCorrupt, RedisCheckerMissing).
func Verify(ctx workflow.Context, in VerifyInput) (*VerifyResult, error) {
	p, err := startProgress(ctx, "redis-verify", in.Cluster)
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
	p.Validated, p.BackupID = true, found.BackupID
	for _, n := range found.Nodes {
		np := p.node(n.Node)
		np.Step, np.Bytes, np.Detail = StepWaiting, n.Bytes, fmt.Sprintf("%d file(s)", len(n.Files))
	}
	what := fmt.Sprintf("backup %s of Redis cluster %s", found.BackupID, found.Cluster)

	workflows.SetStep(ctx, p, StepVerifying)
	results := make([]NodeResult, len(found.Nodes))
	failures := make([]error, len(found.Nodes))
	checkers := make([]string, len(found.Nodes))
	sem := workflow.NewSemaphore(ctx, verifyParallelism)
	wg := workflow.NewWaitGroup(ctx)
	for i, n := range found.Nodes {
		wg.Add(1)
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer wg.Done()
			if err := sem.Acquire(gctx, 1); err != nil {
				failures[i] = err
				return
			}
			defer sem.Release(1)
			np := p.node(n.Node)
			np.Step = StepVerifying
			var r redisact.VerifyRedisNodeResult
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(gctx, verifyScan), redisClusters.VerifyRedisNode, redisact.VerifyRedisNodeInput{
				Bucket: found.Location.Bucket, Cluster: found.Cluster, BackupID: found.BackupID, Persistence: found.Persistence, Node: n,
				Location: found.Location,
			}).Get(gctx, &r)
			if err != nil {
				failures[i] = err
				np.Step, np.Detail = workflows.StepFailed, errMessage(err)
				return
			}
			results[i] = NodeResult{Node: n.Node, Keys: n.Keys, Bytes: r.Bytes, Files: r.Files}
			checkers[i] = r.Checker
			np.Step, np.Detail = workflows.StepDone, fmt.Sprintf("%d file(s) match the manifest, %s: OK", r.Files, r.Checker)
		})
	}
	wg.Wait(ctx)
	if ctx.Err() != nil {
		return nil, p.fail(ctx, ctx.Err()) // cancelled: nothing to record
	}

	var firstErr error
	var bad []string
	for i, f := range failures {
		if f != nil {
			bad = append(bad, found.Nodes[i].Node)
			if firstErr == nil {
				firstErr = f
			}
		}
	}
	var objects int
	for _, r := range results {
		objects += r.Files
	}
	rec := backupstore.Verification{
		At: workflow.Now(ctx).UTC(), Outcome: backupstore.VerifiedOK, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		BackupID: found.BackupID, Objects: objects, Bytes: found.Bytes,
		Checked: fmt.Sprintf("%s: every node's files (%d nodes) downloaded, their size and SHA-256 compared with the cluster manifest, and checked by %s",
			what, len(found.Nodes), checkerName(found.Persistence)),
	}
	var verdict error
	if firstErr != nil {
		msg := what + " is not sound: " + errMessage(firstErr)
		if len(bad) > 1 {
			msg += fmt.Sprintf(" (and %d more node(s): %s)", len(bad)-1, strings.Join(bad[1:], ", "))
		}
		typ := activities.ErrBackupCorrupt
		var app *temporal.ApplicationError
		if errors.As(firstErr, &app) && app.Type() != "" {
			typ = app.Type()
		}
		verdict = temporal.NewNonRetryableApplicationError(msg, typ, nil)
		rec.Outcome, rec.Problem = backupstore.VerifiedFailed, msg
	}

	workflows.SetStep(ctx, p, workflows.StepManifest)
	var recorded redisact.RecordRedisVerificationResult
	recErr := workflow.ExecuteActivity(short, redisClusters.RecordRedisVerification, redisact.RecordRedisVerificationInput{
		Location: found.Location, Cluster: found.Cluster, BackupID: found.BackupID, Verification: rec,
	}).Get(ctx, &recorded)
	if recErr != nil {
		// The verdict stands; only its record is missing.
		p.Warnings = append(p.Warnings, "could not write "+backupstore.VerifiedName+": "+errMessage(recErr))
	}
	if verdict != nil {
		return nil, p.fail(ctx, verdict)
	}
	res := &VerifyResult{
		Cluster: found.Cluster, BackupID: found.BackupID, Format: found.Persistence, ManifestURL: found.ManifestURL,
		Keys: found.Keys, Bytes: found.Bytes, Nodes: results, VerifiedURL: recorded.URL,
	}
	if recErr != nil {
		res.RecordWarning = p.Warnings[len(p.Warnings)-1]
	}
	workflows.SetStep(ctx, p, workflows.StepDone)
	return res, nil
}

func checkerName(persistence string) string {
	if persistence == "aof" {
		return redisact.CheckAOF
	}
	return redisact.CheckRDB
}

// errMessage is the innermost message of an error: what a person reads.
func errMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timed out (" + timeout.TimeoutType().String() + ")"
	}
	return err.Error()
}
