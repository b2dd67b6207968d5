package iam

import (
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// backupTwiceWithRetention backs a dataset up twice, each time with a copy
// to the backup account, the second time with retention keeping one
// backup: its result, whose retention at the primary (workers' statements)
// and at the copy (the writer role's) should each prune the first backup.
// The backups themselves must succeed.
func (f *copyFixture) backupTwiceWithRetention(t *testing.T) (env string, first string, row dataset.BackupRow) {
	t.Helper()
	ctx := testenv.Context(t, 3*time.Minute)
	env, ds := f.e.ID("iamret"), "orders"
	f.e.CreateEnvDataset(t, env, ds)
	f.e.Load(t, env, ds, "item", 10)
	lb := f.e.Client()
	for i, retention := range []*dataset.RetentionPolicy{nil, {Count: 1}} {
		run, err := lb.StartBackup(ctx, dataset.BackupInput{Retention: retention, Datasets: []dataset.BackupDataset{{
			EnvID: env, DatasetID: ds, BackupLocation: f.loc,
			CopyTo: []dataset.CopyDestination{{Location: f.copyLoc, Access: f.access}},
		}}})
		if err != nil {
			t.Fatalf("backup %d: %v", i+1, err)
		}
		res, err := lb.WaitBackup(ctx, run.ID, nil)
		if err != nil {
			t.Fatalf("backup %d failed (retention must not fail it): %v", i+1, err)
		}
		row = res.Datasets[0]
		if len(row.Copies) != 1 || !row.Copies[0].OK {
			t.Fatalf("backup %d: copies %+v, want one that succeeded", i+1, row.Copies)
		}
		if i == 0 {
			first = row.BackupID
		}
	}
	f.e.RequireRunning(t, env)
	return env, first, row
}

// prunedOnly says whether pruned is exactly the backup id want.
func prunedOnly(pruned []string, want string) bool { return len(pruned) == 1 && pruned[0] == want }

// TestIntegrationRetentionPolicies: retention deletes older backups with
// the shipped policies, at the workers' bucket (worker-policy.json's
// BackupBucketDelete) and at a copy's bucket in the backup account (the
// writer role's WriterRetention). Without either statement the pruning at
// that location fails with a warning naming the denied action, in one
// line, while the backup itself succeeds, the other location is pruned and
// the dataset is RUNNING.
func TestIntegrationRetentionPolicies(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e, u := start(t)
	f, full := newCopyFixture(t, e, u)

	t.Run("full policies", func(t *testing.T) {
		_, first, row := f.backupTwiceWithRetention(t)
		if !prunedOnly(row.Pruned, first) || row.RetentionWarning != "" {
			t.Errorf("retention at the primary pruned %v (warning %q), want %s", row.Pruned, row.RetentionWarning, first)
		}
		if c := row.Copies[0]; !prunedOnly(c.Pruned, first) || c.RetentionWarning != "" {
			t.Errorf("retention at the copy pruned %v (warning %q), want %s", c.Pruned, c.RetentionWarning, first)
		}
	})
	if t.Failed() {
		return
	}

	const workerSid, writerSid = "BackupBucketDelete", "WriterRetention"
	t.Run("without "+workerSid, func(t *testing.T) {
		u.setWorkerPolicy(t, full.without(workerSid))
		defer u.setWorkerPolicy(t, full)
		_, first, row := f.backupTwiceWithRetention(t)
		if len(row.Pruned) != 0 || row.RetentionWarning == "" {
			t.Fatalf("retention at the primary pruned %v with warning %q: want nothing pruned and a warning", row.Pruned, row.RetentionWarning)
		}
		checkDenied(t, warning(row.RetentionWarning), full.only(workerSid))
		if c := row.Copies[0]; !prunedOnly(c.Pruned, first) || c.RetentionWarning != "" {
			t.Errorf("retention at the copy pruned %v (warning %q), want %s: the role still may", c.Pruned, c.RetentionWarning, first)
		}
	})
	t.Run("without "+writerSid, func(t *testing.T) {
		f.setWriterPolicy(t, f.writer.without(writerSid))
		defer f.setWriterPolicy(t, f.writer)
		_, first, row := f.backupTwiceWithRetention(t)
		c := row.Copies[0]
		if len(c.Pruned) != 0 || c.RetentionWarning == "" {
			t.Fatalf("retention at the copy pruned %v with warning %q: want nothing pruned and a warning", c.Pruned, c.RetentionWarning)
		}
		checkDenied(t, warning(c.RetentionWarning), f.writer.only(writerSid))
		if !prunedOnly(row.Pruned, first) || row.RetentionWarning != "" {
			t.Errorf("retention at the primary pruned %v (warning %q), want %s: the workers still may", row.Pruned, row.RetentionWarning, first)
		}
	})
}

// warning is a retention warning as an error, for checkDenied.
type warning string

func (w warning) Error() string { return string(w) }
