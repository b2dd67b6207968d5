package redis

import (
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisBackupToAnotherAccount backs a cluster up to a bucket
// of another account through a role assumed there (the nodes' sidecars
// upload with the role's credentials; the workers' own are refused on that
// bucket), changes the keys and restores every node from there.
func TestIntegrationRedisBackupToAnotherAccount(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "rdb", clusterOptions{})
	externalID := "lifeboat-" + c.name
	access := backupstore.Access{
		RoleARN:    e.CreateBackupRole(t, testenv.BackupAccount, e.ID("redis-writer"), externalID),
		ExternalID: externalID,
	}
	loc := e.NewBackupLocationInAccount(t, testenv.BackupAccount)
	for i, n := range c.nodes {
		n.fill(t, "v1", 100*(i+1))
	}
	want := c.dump(t)

	res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc, Access: access})
	if len(res.Nodes) != len(c.nodes) {
		t.Fatalf("backup result %+v", res)
	}
	for _, n := range c.nodes {
		n.change(t)
	}
	out := restore(ctx, t, e, redis.RestoreInput{Cluster: c.name, BackupLocation: loc, Access: access})
	if out.BackupID != res.BackupID {
		t.Fatalf("restored backup %s, want %s", out.BackupID, res.BackupID)
	}
	for _, n := range c.nodes {
		requireSame(t, "node "+n.id+" after the restore", want[n.id], n.dump(t))
	}
	requireReleased(t, e, c)
}
