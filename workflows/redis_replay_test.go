package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/workflows"
)

// TestRedisReplay replays Redis workflow histories recorded from the dev
// server (see workflows/testdata/README.md): a successful cluster backup, a
// backup that failed on a node that was down, and a whole-cluster restore.
func TestRedisReplay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file, name string
		fn         any
	}{
		{"testdata/redis_backup_history.json", workflows.RedisBackupName, workflows.RedisBackup},
		{"testdata/redis_backup_failed_history.json", workflows.RedisBackupName, workflows.RedisBackup},
		{"testdata/redis_restore_history.json", workflows.RedisRestoreName, workflows.RedisRestore},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(c.fn, workflow.RegisterOptions{Name: c.name})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, c.file); err != nil {
				t.Fatalf("replay %s: %v", c.file, err)
			}
		})
	}
}
