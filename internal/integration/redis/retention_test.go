package redis

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	rediswf "github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// versionsUnder lists every object version and delete marker under prefix.
func versionsUnder(ctx context.Context, t *testing.T, e *testenv.Env, bucket, prefix string) []string {
	t.Helper()
	out, err := e.AWS.Buckets.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, v := range out.Versions {
		vs = append(vs, aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
	}
	for _, m := range out.DeleteMarkers {
		vs = append(vs, aws.ToString(m.Key)+"@"+aws.ToString(m.VersionId)+" (delete marker)")
	}
	return vs
}

// TestIntegrationRedisVersionedRetention: on a versioned bucket, a backup's
// retention step deletes every version the pruned backup wrote (by id: a
// delete by key would only add delete markers and free nothing), so
// ListObjectVersions shows nothing of it left, except a version someone
// else wrote there after its manifest, which is left and reported.
func TestIntegrationRedisVersionedRetention(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "vret", clusterOptions{nodes: 2})
	for _, n := range c.nodes {
		n.fill(t, "vret", 20)
	}
	location := e.NewBackupLocation(t)
	loc, _ := backupstore.ParseLocation(location)
	oldest := backup(ctx, t, e, rediswf.BackupInput{Cluster: c.name, BackupLocation: location})
	older := backup(ctx, t, e, rediswf.BackupInput{Cluster: c.name, BackupLocation: location})
	m := requireManifest(t, e, location, c, older)

	// A foreign version under the older backup: its first file's bytes
	// written again after its manifest.
	time.Sleep(1100 * time.Millisecond) // LastModified counts whole seconds
	key := m.Nodes[0].Files[0].Key
	put, err := e.AWS.Buckets.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(key),
		Body: strings.NewReader(string(e.GetObject(t, loc.Bucket, key)))})
	if err != nil {
		t.Fatal(err)
	}
	foreign := key + "@" + aws.ToString(put.VersionId)

	res := backup(ctx, t, e, rediswf.BackupInput{Cluster: c.name, BackupLocation: location, Retention: &rediswf.RetentionPolicy{Count: 1}})
	if want := []string{older.BackupID, oldest.BackupID}; !slices.Equal(res.Pruned, want) || res.RetentionWarning != "" {
		t.Fatalf("pruned %v (warning %q), want %v", res.Pruned, res.RetentionWarning, want)
	}
	if left := versionsUnder(ctx, t, e, loc.Bucket, redisbackup.BackupFolder(loc, c.name, oldest.BackupID)+"/"); len(left) != 0 {
		t.Errorf("versions left under the pruned backup %s: %v, want none", oldest.BackupID, left)
	}
	if left := versionsUnder(ctx, t, e, loc.Bucket, redisbackup.BackupFolder(loc, c.name, older.BackupID)+"/"); !slices.Equal(left, []string{foreign}) {
		t.Errorf("versions left under the pruned backup %s: %v, want only the foreign %s", older.BackupID, left, foreign)
	}
	if notes := strings.Join(res.RetentionNotes, "\n"); !strings.Contains(notes, older.BackupID+": 1 object versions Lifeboat did not write left in place") {
		t.Errorf("retention does not report the foreign version: %v", res.RetentionNotes)
	}
	found, err := redisbackup.FindBackups(ctx, e.AWS.S3, loc, c.name)
	if err != nil || !slices.Equal(found, []string{res.BackupID}) {
		t.Errorf("complete backups left: %v, %v; want only %s", found, err, res.BackupID)
	}
	requireReleased(t, e, c)
}
