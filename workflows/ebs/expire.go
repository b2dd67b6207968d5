package ebs

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Expire is the seed's manager for one source region: it deletes
// the region's expired automated snapshots, and, in every region the source
// copies to, the expired copies it made. Before deleting in a destination
// it carries KeepForever from each primary to its copies; if that fails,
// the destination is not expired this run. Regions are expired in
// parallel; one failing does not stop the others. A dry run only lists.
func Expire(ctx workflow.Context, in ExpireInput) (*ExpireResult, error) {
	p, err := startProgress(ctx, "expire", in.Region, []string{in.Region}, in.DryRun)
	if err != nil {
		return nil, err
	}
	if err := checkRegion(in.Region); err != nil {
		return nil, p.fail(ctx, err)
	}
	day, err := runDay(ctx, in.AsOf)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	res := &ExpireResult{Region: in.Region, Date: ebstags.FormatDate(day), DryRun: in.DryRun, Destinations: []string{}}
	p.Date, p.Validated = res.Date, true
	workflows.SetStep(ctx, p, StepExpiring)
	actx := workflow.WithActivityOptions(ctx, ec2Call)
	sctx := workflow.WithActivityOptions(ctx, ec2Sweep)

	var found ebsact.FindCopyDestinationsResult
	if err := workflow.ExecuteActivity(actx, ebs.FindCopyDestinations, ebsact.FindCopyDestinationsInput{Region: in.Region}).Get(ctx, &found); err != nil {
		// The source region is still expired; its copies wait for a run
		// that can tell where they are.
		res.Error = "find copy destinations: " + errMessage(err)
	} else {
		res.Destinations = found.Destinations
	}

	regions := append([]string{in.Region}, res.Destinations...)
	res.Regions = make([]ExpiryOutcome, len(regions))
	wg := workflow.NewWaitGroup(ctx)
	for i, region := range regions {
		wg.Add(1)
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer wg.Done()
			out := &res.Regions[i]
			out.Region = region
			if region != in.Region {
				var carried ebsact.CarryKeepForeverResult
				err := workflow.ExecuteActivity(actx, ebs.CarryKeepForever, ebsact.CarryKeepForeverInput{
					SourceRegion: in.Region, Destination: region, DryRun: in.DryRun,
				}).Get(gctx, &carried)
				if err != nil {
					out.Error = "carry KeepForever: " + errMessage(err) + ": not expired this run"
					return
				}
				res.Carried = capAppend(res.Carried, carried.Carried...)
			}
			var r ebsact.ExpireSnapshotsResult
			err := workflow.ExecuteActivity(sctx, ebs.ExpireSnapshots, ebsact.ExpireSnapshotsInput{
				Region: region, Owner: in.Region, Today: day, DryRun: in.DryRun,
			}).Get(gctx, &r)
			if err != nil {
				out.Error = errMessage(err)
				return
			}
			out.ExpireSnapshotsResult = r
			if !in.DryRun {
				workflows.Count(gctx, workflows.MetricSnapshotsDeleted, int64(r.DeletedCount), map[string]string{"region": region})
			}
			res.DeletedCount += r.DeletedCount
			p.Deleted = res.DeletedCount
			p.Failed += len(r.Failed)
			workflows.SetStep(ctx, p, StepExpiring)
		})
	}
	wg.Wait(ctx)

	var failed []string
	if res.Error != "" {
		failed = append(failed, res.Error)
	}
	for _, r := range res.Regions {
		switch {
		case r.Error != "":
			failed = append(failed, r.Region+": "+r.Error)
		case len(r.Failed) > 0:
			failed = append(failed, fmt.Sprintf("%s: %d snapshots not expired, e.g. %s: %s", r.Region, len(r.Failed), r.Failed[0].SnapshotID, r.Failed[0].Message))
		}
	}
	return finish(ctx, p, res, len(failed), "expiry of "+in.Region+": "+strings.Join(failed, "; "))
}
