package integration

import (
	"path"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationDatasetKMS backs a dataset up with a KMS key: the manifest
// Lifeboat writes is stored with SSE-KMS under that key and records it. The
// export's data files are DynamoDB's to write: the emulator writes them
// unencrypted whatever S3SseKmsKeyId says (docs/emulator.md), so only what
// Lifeboat itself writes is asserted here.
func TestIntegrationDatasetKMS(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	env, ds := e.ID("kms"), "orders"
	e.CreateEnvDataset(t, env, ds)
	loc := e.NewBackupLocation(t)
	e.Load(t, env, ds, "item", 10)
	const key = "arn:aws:kms:us-east-1:123456789012:key/1c2d3e4f-lifeboat-test"
	_, res := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: loc, KMSKeyID: key}}})
	m, items := e.ReadBackup(t, res.Datasets[0].ManifestURL)
	if m.KMSKeyID != key || len(items) != 10 {
		t.Errorf("manifest records KMS key %q and %d items, want %q and 10", m.KMSKeyID, len(items), key)
	}
	bucket, folder := folderOf(t, res.Datasets[0])
	manifest := path.Join(folder, "manifest.json")
	if !strings.HasSuffix(res.Datasets[0].ManifestURL, "/"+manifest) {
		t.Fatalf("manifest URL %s is not %s", res.Datasets[0].ManifestURL, manifest)
	}
	h, err := e.AWS.Buckets.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(manifest)})
	if err != nil {
		t.Fatal(err)
	}
	if h.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(h.SSEKMSKeyId) != key {
		t.Errorf("manifest s3://%s/%s: encryption %q key %q, want aws:kms %q", bucket, manifest, h.ServerSideEncryption, aws.ToString(h.SSEKMSKeyId), key)
	}
}
