package integration

import (
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// otherRegion is where the cross-region tests put their bucket; the stack
// runs in us-east-1. The emulator answers a request signed for the wrong
// region with S3's 301 PermanentRedirect, so every S3 call Lifeboat makes
// on that bucket must go to a client of its region.
const otherRegion = "eu-west-1"

// TestIntegrationBackupToBucketInAnotherRegion backs two datasets up in one
// backup, one to a bucket in the stack's region and one to a bucket in
// another region, and restores both item for item.
func TestIntegrationBackupToBucketInAnotherRegion(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, near, far := e.ID("region"), "near", "far"
	e.CreateEnvDataset(t, env, near, far)
	nearLoc, farLoc := e.NewBackupLocation(t), e.NewBackupLocationIn(t, otherRegion)
	initial := map[string]map[string]string{near: e.Load(t, env, near, "near", 40), far: e.Load(t, env, far, "far", 60)}

	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{
		{EnvID: env, DatasetID: near, BackupLocation: nearLoc},
		{EnvID: env, DatasetID: far, BackupLocation: farLoc},
	}})
	backed := map[string]map[string]string{}
	for _, d := range bres.Datasets {
		m, items := e.ReadBackup(t, d.ManifestURL)
		if diff := testenv.DiffItems(initial[d.DatasetID], items); diff != "" {
			t.Fatalf("%s: backup differs from the loaded items: %s", d.DatasetID, diff)
		}
		want := e.AWS.Config.Region
		if d.DatasetID == far {
			want = otherRegion
		}
		if m.Bucket == nil || m.Bucket.Region != want || !m.Bucket.Versioned() {
			t.Errorf("%s: manifest records bucket %+v, want region %s, versioning Enabled", d.DatasetID, m.Bucket, want)
		}
		backed[d.DatasetID] = items
	}

	e.Put(t, env, far, map[string]string{"far-000001": "changed after the backup", "later": "written after the backup"})
	_, rres := restore(ctx, t, e, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{
		{EnvID: env, DatasetID: near, BackupLocation: nearLoc},
		{EnvID: env, DatasetID: far, BackupLocation: farLoc},
	}})
	for _, ds := range []string{near, far} {
		if diff := testenv.DiffItems(backed[ds], e.ReadDataset(t, env, rres.StoreID, ds)); diff != "" {
			t.Errorf("%s: restored table differs from the backup: %s", ds, diff)
		}
	}
	e.RequireRunning(t, env)
}
