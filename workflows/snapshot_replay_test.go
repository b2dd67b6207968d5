package workflows_test

import (
	"os"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/workflows"
)

// TestSnapshotReplay replays snapshot workflow histories recorded from the
// dev server (a two-region run, as of a later day, with copies, expiry and a
// carried KeepForever; and a restore from copies). A change that would break
// running executions fails here; guard intended ones with workflow.GetVersion.
func TestSnapshotReplay(t *testing.T) {
	t.Parallel()
	// Child workflow ids derive from the parent's id: replay under the
	// recorded ones.
	cases := []struct {
		file, name, id string
		fn             any
	}{
		{"testdata/snapshot_run_history.json", workflows.SnapshotRunName, "snapshots-run-us-east-1-and-1-more-20261122T003416.562Z", workflows.SnapshotRun},
		{"testdata/snapshot_chain_history.json", workflows.SnapshotChainName, "snapshots-chain-us-east-1", workflows.SnapshotChain},
		{"testdata/snapshot_create_history.json", workflows.SnapshotCreateName, "snapshots-create-us-east-1", workflows.SnapshotCreate},
		{"testdata/snapshot_create_batch_history.json", workflows.SnapshotCreateBatchName, "snapshots-create-us-east-1-batch-1", workflows.SnapshotCreateBatch},
		{"testdata/snapshot_copy_history.json", workflows.SnapshotCopyName, "snapshots-copy-us-east-1", workflows.SnapshotCopy},
		{"testdata/snapshot_copy_destination_history.json", workflows.SnapshotCopyToName, "snapshots-copy-us-east-1-to-us-west-2", workflows.SnapshotCopyDestination},
		{"testdata/snapshot_expire_history.json", workflows.SnapshotExpireName, "snapshots-expire-us-east-1", workflows.SnapshotExpire},
		{"testdata/snapshot_restore_history.json", workflows.SnapshotRestoreName, "snapshots-restore-i-bf078bf5fdbebd0e4-20261122T003428.745Z", workflows.SnapshotRestore},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := os.Open(c.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatalf("read %s: %v", c.file, err)
			}
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(c.fn, workflow.RegisterOptions{Name: c.name})
			err = r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: c.id, RunID: "recorded"},
			})
			if err != nil {
				t.Fatalf("replay %s: %v", c.file, err)
			}
		})
	}
}
