package redis

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	redisact "github.com/lifeboat-dev/lifeboat/activities/redis"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Restore restores one node or a whole Redis cluster from a backup:
// the latest one, the latest at or before a date, or the one named; of the
// cluster itself or of another cluster (a refresh). It runs in two phases,
// each on every node's sidecar in parallel:
//
//  1. download the node's files next to its data directory and check their
//     SHA-256 against the cluster manifest. Any failure ends the restore
//     here, with Redis untouched on every node.
//  2. stop Redis, move its data aside, put the files in place, start Redis
//     and wait until it has loaded them and holds the manifest's key count.
//     A node that does not come back is put back on its old data, and the
//     restore fails naming it.
func Restore(ctx workflow.Context, in RestoreInput) (*RestoreResult, error) {
	p, err := startProgress(ctx, "redis-restore", in.Cluster)
	if err != nil {
		return nil, err
	}
	short := workflow.WithActivityOptions(ctx, workflows.ShortAWSCall)
	var plan redisact.RestorePlan
	err = workflow.ExecuteActivity(short, redisClusters.PlanRedisRestore, redisact.RestorePlanInput{
		Cluster: in.Cluster, Node: in.Node, SourceCluster: in.SourceCluster, SourceNode: in.SourceNode,
		BackupID: in.BackupID, Date: in.Date, BackupLocation: in.BackupLocation, Access: in.Access,
	}).Get(ctx, &plan)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	defer releaseCluster(ctx, plan.Cluster)
	if err := holdCluster(ctx, plan.Cluster); err != nil {
		return nil, p.fail(ctx, err)
	}
	p.Validated = true
	p.BackupID = plan.BackupID
	for _, t := range plan.Targets {
		np := p.node(t.Node.ID)
		np.Step, np.Detail = StepWaiting, fmt.Sprintf("from %s/%s", plan.SourceCluster, t.Source.Node)
	}
	timeout := sidecarTimeout(in.SidecarTimeoutSeconds)
	// Staging folders go once the restore is over, whatever happened.
	defer func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		futures := make([]workflow.Future, len(plan.Targets))
		for i, t := range plan.Targets {
			futures[i] = workflow.ExecuteActivity(onNode(dctx, t.Node, nodeCleanup, timeout), redisNode.DiscardNodeRestore,
				redisact.NodeDiscardInput{Node: t.Node.ID})
		}
		for i, f := range futures {
			if err := f.Get(dctx, nil); err != nil {
				workflow.GetLogger(ctx).Warn("Could not remove a staging folder", "node", plan.Targets[i].Node.ID, "error", err)
			}
		}
	}()
	what := fmt.Sprintf("restore of Redis cluster %s from %s backup %s", plan.Cluster, plan.SourceCluster, plan.BackupID)

	workflows.SetStep(ctx, p, StepDownloading)
	staged := make([]redisact.NodeStageResult, len(plan.Targets))
	failures := make([]*nodeFailure, len(plan.Targets))
	wg := workflow.NewWaitGroup(ctx)
	for i, t := range plan.Targets {
		wg.Add(1)
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer wg.Done()
			np := p.node(t.Node.ID)
			np.Step = StepDownloading
			err := workflow.ExecuteActivity(onNode(gctx, t.Node, nodeJob, timeout), redisNode.StageNodeRestore, redisact.NodeStageInput{
				Node: t.Node.ID, SourceCluster: plan.SourceCluster, SourceNode: t.Source.Node, BackupID: plan.BackupID,
				Persistence: plan.Persistence, Bucket: plan.Location.Bucket, Files: t.Source.Files, Role: plan.Location.Role(),
			}).Get(gctx, &staged[i])
			if err != nil {
				failures[i] = describeNodeError(t.Node, err, timeout)
				np.Step, np.Detail = workflows.StepFailed, failures[i].msg
				return
			}
			np.Step, np.Bytes = StepStaged, staged[i].Bytes
			if staged[i].Converted {
				np.Detail += ", RDB staged as the AOF base (the node runs with appendonly yes)"
			}
		})
	}
	wg.Wait(ctx)
	if ctx.Err() != nil {
		return nil, p.fail(ctx, ctx.Err())
	}
	if err := nodeFailuresError(what, "; Redis was not stopped on any node", failures); err != nil {
		return nil, p.fail(ctx, err)
	}

	workflows.SetStep(ctx, p, StepRestoring)
	results := make([]NodeResult, len(plan.Targets))
	wg = workflow.NewWaitGroup(ctx)
	for i, t := range plan.Targets {
		wg.Add(1)
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer wg.Done()
			np := p.node(t.Node.ID)
			np.Step = StepRestoring
			var r redisact.NodeRestoreResult
			err := workflow.ExecuteActivity(onNode(gctx, t.Node, nodeRestart, timeout), redisNode.RestoreNode, redisact.NodeRestoreInput{
				Node: t.Node.ID, BackupID: plan.BackupID, SourceNode: t.Source.Node, Stage: staged[i],
				MinKeys: t.Source.MinKeys, MaxKeys: t.Source.MaxKeys,
			}).Get(gctx, &r)
			if err != nil {
				failures[i] = describeNodeError(t.Node, err, timeout)
				np.Step, np.Detail = workflows.StepFailed, failures[i].msg
				return
			}
			results[i] = NodeResult{Node: t.Node.ID, SourceNode: t.Source.Node, Keys: r.Keys, Bytes: staged[i].Bytes, DownMillis: r.DownMillis}
			np.Step, np.Keys = workflows.StepDone, r.Keys
		})
	}
	wg.Wait(ctx)
	var restored []string
	for i, f := range failures {
		if f == nil {
			restored = append(restored, plan.Targets[i].Node.ID)
		}
	}
	suffix := ""
	if len(restored) > 0 {
		suffix = "; restored: " + strings.Join(restored, ", ")
	}
	if err := nodeFailuresError(what, suffix, failures); err != nil {
		return nil, p.fail(ctx, err)
	}
	if ctx.Err() != nil {
		return nil, p.fail(ctx, ctx.Err())
	}
	workflows.SetStep(ctx, p, workflows.StepDone)
	return &RestoreResult{
		Cluster: plan.Cluster, SourceCluster: plan.SourceCluster, BackupID: plan.BackupID, Format: plan.Persistence, Nodes: results,
	}, nil
}
