package redis

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Backup backs up every node of a Redis cluster to S3: on each node's
// sidecar in parallel, BGSAVE (or BGREWRITEAOF), wait for it and check it
// succeeded, upload the file(s) with their SHA-256; then, only if every
// node succeeded, write the cluster manifest that makes the backup
// complete. A failed run names the nodes that failed, writes no manifest
// and deletes what it uploaded.
func Backup(ctx workflow.Context, in BackupInput) (*BackupResult, error) {
	p, err := startProgress(ctx, "redis-backup", in.Cluster)
	if err != nil {
		return nil, err
	}
	// Only runs given a retention policy (none before it existed) take
	// this branch or the pruning step, so older histories replay unchanged.
	if in.Retention != nil {
		if err := in.Retention.Rules().Validate(); err != nil {
			return nil, p.fail(ctx, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrInvalidInput, err))
		}
	}
	dests, err := in.CopyDests()
	if err != nil { // runs without CopyTo (all before it existed) pass
		return nil, p.fail(ctx, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrInvalidInput, err))
	}
	short := workflow.WithActivityOptions(ctx, workflows.ShortAWSCall)
	var plan redisact.BackupPlan
	err = workflow.ExecuteActivity(short, redisClusters.PlanRedisBackup, redisact.BackupPlanInput{
		Cluster: in.Cluster, BackupLocation: in.BackupLocation, Format: in.Format, AllowUnversioned: in.AllowUnversioned,
		Access: in.Access, CopyTo: copyTargets(in.CopyTo),
	}).Get(ctx, &plan)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	defer releaseCluster(ctx, plan.Cluster)
	if err := holdCluster(ctx, plan.Cluster); err != nil {
		return nil, p.fail(ctx, err)
	}
	p.Validated = true

	backupID := redisbackup.NewBackupID(p.StartedAt)
	p.BackupID = backupID
	for _, n := range plan.Nodes {
		p.node(n.ID).Step = StepWaiting
	}
	complete := false
	defer func() {
		if !complete {
			discardBackup(ctx, redisact.DiscardRedisBackupInput{Location: plan.Location, Cluster: plan.Cluster, BackupID: backupID})
		}
	}()

	workflows.SetStep(ctx, p, StepBackingUp)
	timeout := sidecarTimeout(in.SidecarTimeoutSeconds)
	nodes := make([]redisbackup.Node, len(plan.Nodes))
	failures := make([]*nodeFailure, len(plan.Nodes))
	wg := workflow.NewWaitGroup(ctx)
	for i, n := range plan.Nodes {
		wg.Add(1)
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer wg.Done()
			np := p.node(n.ID)
			np.Step = StepBackingUp
			var r redisact.NodeBackupResult
			err := workflow.ExecuteActivity(onNode(gctx, n, nodeJob, timeout), redisNode.BackupNode, redisact.NodeBackupInput{
				Cluster: plan.Cluster, Node: n.ID, Format: plan.Format, Bucket: plan.Location.Bucket,
				Folder: redisbackup.NodeFolder(plan.Location, plan.Cluster, backupID, n.ID), Role: plan.Location.Role(),
				KMSKeyID: in.KMSKeyID,
			}).Get(gctx, &r)
			if err != nil {
				failures[i] = describeNodeError(n, err, timeout)
				np.Step, np.Detail = workflows.StepFailed, failures[i].msg
				return
			}
			nodes[i] = r.Node
			np.Step, np.Keys, np.Bytes, np.Detail = StepUploaded, r.Keys, r.Bytes, fmt.Sprintf("%d file(s)", len(r.Files))
		})
	}
	wg.Wait(ctx)
	if ctx.Err() != nil {
		return nil, p.fail(ctx, ctx.Err())
	}
	if err := nodeFailuresError(fmt.Sprintf("backup %s of Redis cluster %s", backupID, plan.Cluster), "; no manifest was written", failures); err != nil {
		return nil, p.fail(ctx, err)
	}

	workflows.SetStep(ctx, p, workflows.StepManifest)
	var written redisact.WriteRedisManifestResult
	err = workflow.ExecuteActivity(short, redisClusters.WriteRedisManifest, redisact.WriteRedisManifestInput{
		Location: plan.Location, Cluster: plan.Cluster, BackupID: backupID, Format: plan.Format, StartedAt: p.StartedAt, Nodes: nodes,
		KMSKeyID: in.KMSKeyID,
	}).Get(ctx, &written)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	complete = true
	workflows.RecordBackupSuccess(ctx, workflows.ProtectedRedis, plan.Cluster, time.Duration(in.RPOSeconds)*time.Second)
	res := &BackupResult{
		Cluster: plan.Cluster, BackupID: backupID, Format: plan.Format, ManifestURL: written.ManifestURL,
		Keys: written.Keys, Bytes: written.Bytes,
	}
	for _, n := range nodes {
		p.node(n.Node).Step = workflows.StepDone
		res.Nodes = append(res.Nodes, NodeResult{Node: n.Node, Keys: n.Keys, Bytes: n.Bytes, Files: len(n.Files)})
	}
	// Runs from before copies existed had none to make.
	if len(dests) > 0 && workflow.GetVersion(ctx, copyToVersion, workflow.DefaultVersion, 1) >= 1 {
		workflows.SetStep(ctx, p, StepCopying)
		copyAll(ctx, in, plan.Location, dests, res, p)
	}
	if in.Retention != nil {
		// Still holding the cluster: no restore of it reads a backup
		// while older ones are deleted.
		workflows.SetStep(ctx, p, StepPruning)
		pruneOlder(ctx, plan, *in.Retention, res, p)
		pruneCopies(ctx, plan.Cluster, *in.Retention, res, p)
	}
	workflows.SetStep(ctx, p, workflows.StepDone)
	return res, nil
}

// pruneOlder runs retention for the cluster after a successful backup. A
// failed retention step leaves a warning in the result and the progress and
// counts in lifeboat_failures_total{step="pruning-backups"}: the backup has
// succeeded and stays so.
func pruneOlder(ctx workflow.Context, plan redisact.BackupPlan, policy RetentionPolicy, res *BackupResult, p *Progress) {
	var pruned redisact.ApplyRedisRetentionResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, pruning), redisClusters.ApplyRedisRetention, redisact.ApplyRedisRetentionInput{
		Location: plan.Location, Cluster: plan.Cluster, Policy: policy.Rules(), Now: workflow.Now(ctx), Protect: []string{res.BackupID},
	}).Get(ctx, &pruned)
	if err != nil {
		res.RetentionWarning = "retention failed, older backups not pruned: " + err.Error()
		p.Warnings = append(p.Warnings, res.RetentionWarning)
		workflows.CountFailure(ctx, p.Operation, StepPruning)
		workflow.GetLogger(ctx).Warn("Retention failed; the backup stands", "cluster", plan.Cluster, "error", err)
		return
	}
	res.Pruned, res.RetentionNotes = pruned.Deleted, pruned.Left
}

// holdCluster marks the cluster as worked on by this workflow. On
// cancellation the workflow waits for a hold in flight, so that the
// release that follows cannot run before it.
func holdCluster(ctx workflow.Context, cluster string) error {
	o := workflows.ShortAWSCall
	o.WaitForCancellation = true
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), redisClusters.HoldRedisCluster, redisact.HoldInput{
		Cluster: cluster, Holder: workflow.GetInfo(ctx).WorkflowExecution.ID,
	}).Get(ctx, nil)
}

// releaseCluster ends the workflow's hold on every exit path, cancellation
// included. It does nothing if the workflow never got the hold.
func releaseCluster(ctx workflow.Context, cluster string) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, workflows.Compensation)
	err := workflow.ExecuteActivity(dctx, redisClusters.ReleaseRedisCluster, redisact.HoldInput{
		Cluster: cluster, Holder: workflow.GetInfo(ctx).WorkflowExecution.ID,
	}).Get(dctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("Release failed: Redis cluster left held", "cluster", cluster, "error", err)
	}
}

// discardBackup deletes a failed backup's files (best effort: without a
// manifest they are not a backup anyway).
func discardBackup(ctx workflow.Context, in redisact.DiscardRedisBackupInput) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	o := workflows.ShortAWSCall
	o.RetryPolicy = &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3}
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, o), redisClusters.DiscardRedisBackup, in).Get(dctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("Could not delete a failed backup's files", "backup", in.BackupID, "error", err)
	}
}

// nodeFailure is a node's failed step, with a message that names the node.
type nodeFailure struct {
	node, errType, msg string
}

// describeNodeError turns a node step's error into what a user reads.
func describeNodeError(n registry.RedisNode, err error, sidecarTimeout time.Duration) *nodeFailure {
	errType, msg := activities.ErrRedisNodeFailed, err.Error()
	var (
		timeout  *temporal.TimeoutError
		app      *temporal.ApplicationError
		canceled *temporal.CanceledError
	)
	switch {
	case errors.As(err, &timeout):
		switch timeout.TimeoutType() {
		case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
			errType = activities.ErrSidecarNotRunning
			msg = fmt.Sprintf("no sidecar picked up its work from task queue %s within %s: is `worker --redis-node %s` running beside it?",
				n.TaskQueue, sidecarTimeout, n.ID)
		case enumspb.TIMEOUT_TYPE_HEARTBEAT:
			msg = "its sidecar stopped reporting progress (heartbeat timeout): did the worker beside it stop?"
		default:
			msg = "timed out: " + timeout.Error()
		}
	case errors.As(err, &app):
		errType, msg = app.Type(), app.Message()
	case errors.As(err, &canceled):
		errType, msg = "Canceled", "canceled"
	}
	if !strings.HasPrefix(msg, "node "+n.ID+" ") && !strings.HasPrefix(msg, "node "+n.ID+":") {
		msg = "node " + n.ID + ": " + msg
	}
	return &nodeFailure{node: n.ID, errType: errType, msg: msg}
}

// nodeFailuresError is one error naming every failed node, in cluster order;
// nil if none failed. When all failed for the same reason it keeps that
// error type (e.g. InvalidInput, ChecksumMismatch), else it is
// RedisNodeFailed. Its details are the failed node ids.
func nodeFailuresError(what, suffix string, all []*nodeFailure) error {
	var nodes, msgs []string
	errType := ""
	for _, f := range all {
		if f == nil {
			continue
		}
		nodes, msgs = append(nodes, f.node), append(msgs, f.msg)
		if errType == "" {
			errType = f.errType
		} else if errType != f.errType {
			errType = activities.ErrRedisNodeFailed
		}
	}
	if len(nodes) == 0 {
		return nil
	}
	label := "node " + nodes[0]
	if len(nodes) > 1 {
		label = "nodes " + strings.Join(nodes, ", ")
	}
	msg := fmt.Sprintf("%s failed on %s: %s%s", what, label, strings.Join(msgs, "; "), suffix)
	return temporal.NewNonRetryableApplicationError(msg, errType, nil, nodes)
}
