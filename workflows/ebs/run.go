package ebs

import (
	"fmt"
	"sort"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Run runs one SnapshotChain per region, all at once. A region that
// fails does not stop the others: every region reports, and only then does
// the run end, failed with the per-region report as its error's details if
// any region failed. Every chain evaluates the same day.
func Run(ctx workflow.Context, in RunInput) (*RunResult, error) {
	p, err := startProgress(ctx, "run", "", in.Regions, in.DryRun)
	if err != nil {
		return nil, err
	}
	regions, err := checkRegions(in.Regions)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	day, err := runDay(ctx, in.AsOf)
	if err != nil {
		return nil, p.fail(ctx, err)
	}
	opts := in.Options
	opts.AsOf = ebstags.FormatDate(day)
	p.Date, p.Validated = opts.AsOf, true
	res := &RunResult{Date: opts.AsOf, Regions: make([]RegionOutcome, len(regions))}
	p.Regions = make([]RegionProgress, len(regions))
	sel := workflow.NewSelector(ctx)
	for i, r := range regions {
		id := WorkflowID("chain", r)
		res.Regions[i] = RegionOutcome{Region: r, WorkflowID: id}
		p.Regions[i] = RegionProgress{Region: r, Status: "running"}
		f := workflow.ExecuteChildWorkflow(withChild(ctx, id), ChainName, ChainInput{Region: r, Options: opts})
		sel.AddFuture(f, func(f workflow.Future) {
			out := &res.Regions[i]
			var chain ChainResult
			err := f.Get(ctx, &chain)
			if err == nil || failureDetails(err, &chain) {
				out.Chain = &chain
			}
			out.Status = OutcomeOK
			if err != nil {
				out.Status, out.Error = OutcomeFailed, errMessage(err)
			}
			p.Regions[i].Status, p.Regions[i].Error = out.Status, out.Error
			workflows.SetStep(ctx, p, StepRunning)
		})
	}
	workflows.SetStep(ctx, p, StepRunning)
	for range regions {
		sel.Select(ctx)
	}
	var failed []string
	for _, r := range res.Regions {
		if r.Status == OutcomeFailed {
			failed = append(failed, r.Region+": "+r.Error)
		}
	}
	return finish(ctx, p, res, len(failed), fmt.Sprintf("%d of %d regions failed: %s", len(failed), len(regions), strings.Join(failed, "; ")))
}

func checkRegions(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, invalid("no regions given")
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range in {
		r = strings.TrimSpace(r)
		if err := checkRegion(r); err != nil {
			return nil, err
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out, nil
}
