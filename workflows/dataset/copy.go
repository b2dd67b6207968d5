package dataset

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// copyToVersion guards the copy step (--copy-to).
const copyToVersion = "copy-to"

func hasCopies(in BackupInput) bool {
	for _, d := range in.Datasets {
		if len(d.CopyTo) > 0 {
			return true
		}
	}
	return false
}

// copyAll copies every backup to its dataset's CopyTo locations, all at
// once. A failed copy is a warning in the result and the progress and
// counted as a failure of the copying step: the backup at its primary
// location is complete and stays the run's result, as a failed retention
// does (a copy is a second line of defence, not the backup).
func copyAll(ctx workflow.Context, in BackupInput, targets []datasetact.BackupTarget, results []BackupRow, p *Progress) {
	dests := map[datasetact.DatasetRef][]CopyDestination{}
	for _, d := range in.Datasets {
		r := datasetact.DatasetRef{EnvID: d.EnvID, DatasetID: d.DatasetID}
		dests[r] = append(dests[r], d.CopyTo...)
	}
	actx := workflow.WithActivityOptions(ctx, copying)
	type pending struct {
		target, row int
		f           workflow.Future
	}
	var all []pending
	for i, t := range targets {
		for _, c := range dests[t.DatasetRef] {
			row := CopyRow{Location: c.Location}
			dest, err := c.Parse()
			if err != nil { // Validate refuses these; a run started otherwise reports it
				row.Error = err.Error()
				results[i].Copies = append(results[i].Copies, row)
				continue
			}
			row.Location, row.dest = dest.String(), dest
			results[i].Copies = append(results[i].Copies, row)
			p.dataset(t.EnvID, t.DatasetID).Step = StepCopying
			all = append(all, pending{target: i, row: len(results[i].Copies) - 1, f: workflow.ExecuteActivity(actx, copies.CopyBackup, datasetact.CopyBackupInput{
				Source: t.Location, Dest: dest, EnvID: t.EnvID, StoreID: t.StoreID, DatasetID: t.DatasetID, BackupID: results[i].BackupID,
			})})
		}
	}
	for _, c := range all {
		row := &results[c.target].Copies[c.row]
		var out datasetact.CopyBackupResult
		if err := c.f.Get(ctx, &out); err != nil {
			row.Error = message(err) // the activity's own line, not Temporal's chain
		} else {
			row.OK, row.ManifestURL, row.Objects, row.Bytes = true, out.ManifestURL, out.Objects, out.Bytes
		}
	}
	for i, t := range targets {
		dp := p.dataset(t.EnvID, t.DatasetID)
		for _, row := range results[i].Copies {
			if !row.OK {
				msg := fmt.Sprintf("copy to %s failed, the backup stands at its location: %s", row.Location, row.Error)
				p.Warnings = append(p.Warnings, t.String()+": "+msg)
				workflows.CountFailure(ctx, p.Operation, StepCopying) // the run succeeds: alert on the metric
				workflow.GetLogger(ctx).Warn("Copy failed; the backup stands", "dataset", t.String(), "to", row.Location, "error", row.Error)
			} else {
				dp.Detail = fmt.Sprintf("%s; copied %d objects to %s", dp.Detail, row.Objects, row.Location)
			}
		}
		dp.Copies = results[i].Copies
		if len(results[i].Copies) > 0 {
			dp.Step = workflows.StepDone
		}
	}
}

// pruneCopies runs retention at every location a copy succeeded at, as at
// the primary: each location keeps its own history of backups.
func pruneCopies(ctx workflow.Context, policy RetentionPolicy, targets []datasetact.BackupTarget, results []BackupRow, p *Progress) {
	actx := workflow.WithActivityOptions(ctx, pruning)
	now := workflow.Now(ctx)
	type pending struct {
		target, row int
		f           workflow.Future
	}
	var all []pending
	for i, t := range targets {
		for j, row := range results[i].Copies {
			if !row.OK {
				continue
			}
			all = append(all, pending{target: i, row: j, f: workflow.ExecuteActivity(actx, files.ApplyRetention, datasetact.ApplyRetentionInput{
				Location: row.dest, EnvID: t.EnvID, DatasetID: t.DatasetID, Policy: policy.rules(), Now: now,
				Protect: []string{results[i].BackupID},
			})})
		}
	}
	for _, c := range all {
		row := &results[c.target].Copies[c.row]
		var pruned datasetact.ApplyRetentionResult
		if err := c.f.Get(ctx, &pruned); err != nil {
			row.RetentionWarning = "retention failed, older backups not pruned: " + message(err)
			p.Warnings = append(p.Warnings, targets[c.target].String()+" at "+row.Location+": "+row.RetentionWarning)
			workflows.CountFailure(ctx, p.Operation, StepPruning)
			continue
		}
		row.Pruned = pruned.Deleted
	}
}
