package integration

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationVerifyRecordsVerdict: DatasetVerify leaves verified.json
// beside the manifest: ok after a sound verify, failed with the reason
// after a data object was deleted.
func TestIntegrationVerifyRecordsVerdict(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 5*time.Minute)
	env, ds := e.ID("verified"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	e.Load(t, env, ds, "item", 20)
	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc}}})
	b := backupOf(t, bres, env, ds)
	bucket, folder := folderOf(t, b)
	m, _ := e.ReadBackup(t, b.ManifestURL)
	c := e.Client()
	verify := func() (*dataset.VerifyResult, string, error) {
		t.Helper()
		run, err := c.StartVerify(ctx, dataset.VerifyInput{BackupLocation: loc, EnvID: env, DatasetID: ds})
		if err != nil {
			t.Fatalf("start verify: %v", err)
		}
		res, err := c.WaitVerify(ctx, run.ID, nil)
		return res, run.ID, err
	}
	record := func() *backupstore.Verification {
		t.Helper()
		v, err := backupstore.ReadVerification(ctx, e.AWS.S3, bucket, folder)
		if err != nil || v == nil {
			t.Fatalf("read %s in %s: %v, %v", backupstore.VerifiedName, folder, v, err)
		}
		return v
	}

	start := time.Now().UTC().Add(-time.Second)
	if _, id, err := verify(); err != nil {
		t.Fatalf("verify of a sound backup: %v", err)
	} else if v := record(); v.Outcome != backupstore.VerifiedOK || v.BackupID != b.BackupID || v.WorkflowID != id ||
		v.Objects != len(m.Objects) || v.At.Before(start) {
		t.Errorf("verified.json after a sound verify: %+v", v)
	}

	key := m.Objects[0].Key
	if _, err := e.AWS.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	_, id, err := verify()
	var failed *client.WorkflowFailedError
	if !errors.As(err, &failed) {
		t.Fatalf("verify of a backup missing %s: %v, want a failure", key, err)
	}
	if v := record(); v.Outcome != backupstore.VerifiedFailed || v.WorkflowID != id || !strings.Contains(v.Problem, key) {
		t.Errorf("verified.json after a failed verify: %+v, want failed naming %s", v, key)
	}
}
