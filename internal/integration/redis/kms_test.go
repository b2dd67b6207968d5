package redis

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	rediswf "github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisKMS backs a cluster up with a KMS key: every node file
// (one a multipart upload, one a single put) and the cluster manifest are
// stored with SSE-KMS under that key, and the manifest records it. moto
// records the headers it is sent without checking the key.
func TestIntegrationRedisKMS(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "kms", clusterOptions{nodes: 2})
	for _, n := range c.nodes {
		n.fill(t, "kms", 20)
	}
	c.nodes[0].putRandom(t, "big", 6<<20) // a multipart upload: two 5 MiB parts
	const key = "arn:aws:kms:us-east-1:123456789012:key/0b0e4a5c-lifeboat-test"
	location := e.NewBackupLocation(t)
	loc, _ := backupstore.ParseLocation(location)
	res := backup(ctx, t, e, rediswf.BackupInput{Cluster: c.name, BackupLocation: location, KMSKeyID: key})
	m := requireManifest(t, e, location, c, res)
	if m.KMSKeyID != key {
		t.Errorf("manifest records KMS key %q, want %q", m.KMSKeyID, key)
	}
	keys := []string{redisbackup.ManifestKey(loc, c.name, res.BackupID)}
	for _, n := range m.Nodes {
		for _, f := range n.Files {
			keys = append(keys, f.Key)
		}
	}
	for _, k := range keys {
		h, err := e.AWS.Buckets.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		if h.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(h.SSEKMSKeyId) != key {
			t.Errorf("s3://%s/%s: encryption %q key %q, want aws:kms %q", loc.Bucket, k, h.ServerSideEncryption, aws.ToString(h.SSEKMSKeyId), key)
		}
	}
}
