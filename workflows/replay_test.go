package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/worker/app"
)

// recordedIDs are the workflow ids some histories were recorded under: the
// EBS workflows derive their children's ids from their own, so they replay
// under the recorded one. Other histories replay under any id.
var recordedIDs = map[string]string{
	"snapshot_run_history.json":              "snapshots-run-us-east-1-and-1-more-20261122T003416.562Z",
	"snapshot_chain_history.json":            "snapshots-chain-us-east-1",
	"snapshot_create_history.json":           "snapshots-create-us-east-1",
	"snapshot_create_batch_history.json":     "snapshots-create-us-east-1-batch-1",
	"snapshot_copy_history.json":             "snapshots-copy-us-east-1",
	"snapshot_copy_destination_history.json": "snapshots-copy-us-east-1-to-us-west-2",
	"snapshot_expire_history.json":           "snapshots-expire-us-east-1",
	"snapshot_restore_history.json":          "snapshots-restore-i-bf078bf5fdbebd0e4-20261122T003428.745Z",
}

// TestReplay replays every history recorded from the real dev server (see
// testdata/README.md) on the workflows as the worker registers them: a
// change to a workflow that would break running executions fails here, and
// so does a workflow registered under another type name than the one
// recorded. Re-record only for intended changes that are guarded with
// workflow.GetVersion.
func TestReplay(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*_history.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(recordedIDs)+5 {
		t.Fatalf("found %d recorded histories, want every one of testdata/", len(files))
	}
	for name := range recordedIDs {
		if _, err := os.Stat(filepath.Join("testdata", name)); err != nil {
			t.Errorf("recorded id for a missing history: %v", err)
		}
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), "_history.json"), func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatalf("read %s: %v", file, err)
			}
			id := recordedIDs[filepath.Base(file)]
			if id == "" {
				id = "replay"
			}
			r := worker.NewWorkflowReplayer()
			app.RegisterWorkflows(r)
			err = r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: id, RunID: "recorded"},
			})
			if err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
		})
	}
}
