package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/workflows"
)

// TestReplay replays histories recorded from the real dev server (see
// workflows/testdata/README.md): a change to a workflow that would break
// running executions fails here. Re-record only for intended changes that
// are guarded with workflow.GetVersion.
func TestReplay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file, name string
		fn         any
	}{
		{"testdata/dataset_backup_history.json", workflows.DatasetBackupName, workflows.DatasetBackup},
		{"testdata/dataset_restore_history.json", workflows.DatasetRestoreName, workflows.DatasetRestore},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(c.fn, workflow.RegisterOptions{Name: c.name})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, c.file); err != nil {
				t.Fatalf("replay %s: %v", c.file, err)
			}
		})
	}
}
