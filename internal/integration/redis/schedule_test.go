package redis

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	rediswf "github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisScheduleRetention creates a Redis backup schedule with
// `lifeboat schedule create redis --retain 2`, triggers it, and checks the
// run backed the cluster up and then deleted only the oldest complete
// backup beyond the newest two: not the run's own, not folders without a
// cluster manifest (a failed run's leftovers, a run in progress), and that
// `lifeboat redis backups` lists the two kept.
func TestIntegrationRedisScheduleRetention(t *testing.T) {
	e := shared(t)
	// The CLI reads AWS settings from the environment: no t.Parallel.
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "sched", clusterOptions{nodes: 2})
	for _, n := range c.nodes {
		n.fill(t, "sched", 30)
	}
	location := e.NewBackupLocation(t)
	loc, _ := backupstore.ParseLocation(location)
	older := backup(ctx, t, e, rediswf.BackupInput{Cluster: c.name, BackupLocation: location})
	newer := backup(ctx, t, e, rediswf.BackupInput{Cluster: c.name, BackupLocation: location})
	// Folders without a cluster manifest, older and newer than every backup.
	failed := redisbackup.NodeFolder(loc, c.name, "20000101T000000.000Z", c.nodes[0].id) + "/dump.rdb"
	running := redisbackup.NodeFolder(loc, c.name, "20990101T000000.000Z", c.nodes[0].id) + "/dump.rdb"
	for _, k := range []string{failed, running} {
		e.PutObject(t, loc.Bucket, k, []byte("partial"))
	}

	lifeboat := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		all := append([]string{
			"--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue, "--control-table", e.Config.ControlTable,
		}, args...)
		code := cli.Main(ctx, all, &out, &errOut)
		t.Logf("lifeboat %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}
	id := e.ID("redis-nightly")
	if code, _, _ := lifeboat("schedule", "create", "redis", "--schedule-id", id, "--cluster-id", "no-such-cluster",
		"--backup-location", location, "--cron", "0 3 * * *"); code != 2 {
		t.Errorf("schedule of an unregistered cluster: exit %d, want 2", code)
	}
	code, out, _ := lifeboat("schedule", "create", "redis", "--schedule-id", id, "--cluster-id", c.name,
		"--backup-location", location, "--cron", "0 3 * * *", "--retain", "2")
	if code != 0 || !strings.Contains(out, "schedule "+id+" created: "+rediswf.BackupName) {
		t.Fatalf("schedule create redis: exit %d", code)
	}
	lb := e.Client()
	t.Cleanup(func() { _ = lb.DeleteSchedule(context.Background(), id) })

	if err := lb.TriggerSchedule(ctx, id); err != nil {
		t.Fatalf("trigger: %v", err)
	}
	var wfID string
	for wfID == "" {
		st, err := lb.DescribeSchedule(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Recent) > 0 {
			wfID = st.Recent[0].WorkflowID
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the triggered run did not start")
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !strings.HasPrefix(wfID, client.ScheduledWorkflowID(id)) {
		t.Errorf("run %s is not the schedule's", wfID)
	}
	res, err := lb.WaitRedisBackup(ctx, wfID, nil)
	if err != nil {
		t.Fatalf("scheduled Redis backup %s: %v", wfID, err)
	}
	requireManifest(t, e, location, c, res)
	if !slices.Equal(res.Pruned, []string{older.BackupID}) || res.RetentionWarning != "" {
		t.Errorf("pruned %v (warning %q), want only the oldest %s", res.Pruned, res.RetentionWarning, older.BackupID)
	}
	found, err := redisbackup.FindBackups(ctx, e.AWS.S3, loc, c.name)
	if err != nil || !slices.Equal(found, []string{newer.BackupID, res.BackupID}) {
		t.Errorf("complete backups left: %v, %v; want %s and the run's %s", found, err, newer.BackupID, res.BackupID)
	}
	for _, k := range []string{failed, running} {
		if got := e.GetObject(t, loc.Bucket, k); string(got) != "partial" {
			t.Errorf("%s: %q, want it left alone", k, got)
		}
	}
	requireReleased(t, e, c)

	code, out, _ = lifeboat("redis", "backups", "--cluster", c.name, "--backup-location", location)
	if code != 0 || !strings.Contains(out, newer.BackupID) || !strings.Contains(out, res.BackupID) || strings.Contains(out, older.BackupID) {
		t.Errorf("redis backups after retention: exit %d, want %s and %s listed, %s not", code, newer.BackupID, res.BackupID, older.BackupID)
	}
	// The manual equivalent, as a dry run: with --retain 1 only the newest would stay.
	code, out, _ = lifeboat("redis", "prune", "--cluster-id", c.name, "--backup-location", location, "--retain", "1", "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run: 1 backups would be deleted") || !strings.Contains(out, newer.BackupID+"  would delete") {
		t.Errorf("redis prune --dry-run: exit %d", code)
	}
	if found, _ := redisbackup.FindBackups(ctx, e.AWS.S3, loc, c.name); len(found) != 2 {
		t.Errorf("a dry run deleted: %v", found)
	}
}
