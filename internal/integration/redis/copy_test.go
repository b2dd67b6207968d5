package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisBackupCopyToAnotherAccount backs a cluster up with a
// copy to a bucket of a second account, written through a role there: the
// copy holds every node file, byte for byte, and the cluster manifest
// naming the copy's keys (that it is written last, S3's one-second
// LastModified cannot show: activities/redis's TestCopyRedisBackup does). A copy destination the
// role may not write is refused before anything runs (the cluster is not held). After every
// version of the primary's backup folder is deleted, each node is restored
// from the copy to what was backed up.
func TestIntegrationRedisBackupCopyToAnotherAccount(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "rcopy", clusterOptions{})
	externalID := "lifeboat-" + c.name
	role := awsx.Role{ARN: e.CreateBackupRole(t, testenv.BackupAccount, e.ID("redis-copy-writer"), externalID), ExternalID: externalID}
	access := backupstore.Access{RoleARN: role.ARN, ExternalID: externalID}
	primary := e.NewBackupLocation(t)
	copyLoc := e.NewBackupLocationInAccount(t, testenv.BackupAccount)
	forbidden := e.NewBackupLocation(t) // the workers' account: not the role's
	for i, n := range c.nodes {
		n.fill(t, "v1", 100*(i+1))
	}
	want := c.dump(t)

	run, err := e.Client().StartRedisBackup(ctx, redis.BackupInput{Cluster: c.name, BackupLocation: primary, CopyTo: []redis.CopyDestination{
		{Location: copyLoc, Access: access}, {Location: forbidden, Access: access},
	}})
	if err == nil {
		_, err = e.Client().WaitRedisBackup(ctx, run.ID, nil)
	}
	if err == nil || !strings.Contains(err.Error(), "may not use bucket") {
		t.Fatalf("backup with a copy destination the role may not write: %v, want it refused naming the bucket", err)
	}
	requireReleased(t, e, c)

	res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: primary, CopyTo: []redis.CopyDestination{
		{Location: copyLoc, Access: access},
	}})
	if len(res.Copies) != 1 {
		t.Fatalf("copies %+v, want 1", res.Copies)
	}
	good := res.Copies[0]
	if !good.OK {
		t.Fatalf("copy to %s: %+v, want ok", copyLoc, good)
	}
	requireReleased(t, e, c)

	// Every object of the primary's folder is at the copy with its size
	// and ETag.
	srcLoc, dstLoc := parseLoc(t, primary, backupstore.Access{}), parseLoc(t, copyLoc, access)
	srcFolder := redisbackup.BackupFolder(srcLoc, c.name, res.BackupID)
	dstFolder := redisbackup.BackupFolder(dstLoc, c.name, res.BackupID)
	src, err := backupstore.List(ctx, e.AWS.Buckets, srcLoc.Bucket, srcFolder+"/")
	if err != nil {
		t.Fatal(err)
	}
	roleCtx := awsx.WithRole(ctx, role)
	dst, err := backupstore.List(roleCtx, e.AWS.Buckets, dstLoc.Bucket, dstFolder+"/")
	if err != nil {
		t.Fatal(err)
	}
	if len(dst) != len(src) || good.Objects != len(src) {
		t.Errorf("copy holds %d objects (reported %d copied), the primary %d", len(dst), good.Objects, len(src))
	}
	copied := map[string]s3types.Object{}
	for _, o := range dst {
		copied[strings.TrimPrefix(aws.ToString(o.Key), dstFolder)] = o
	}
	for _, o := range src {
		rel := strings.TrimPrefix(aws.ToString(o.Key), srcFolder)
		d, ok := copied[rel]
		switch {
		case !ok:
			t.Errorf("copy lacks %s", rel)
		case strings.HasSuffix(rel, "/"+redisbackup.ManifestName):
		case aws.ToInt64(d.Size) != aws.ToInt64(o.Size) || aws.ToString(d.ETag) != aws.ToString(o.ETag):
			t.Errorf("copy of %s: size %d ETag %s, source %d %s", rel, aws.ToInt64(d.Size), aws.ToString(d.ETag), aws.ToInt64(o.Size), aws.ToString(o.ETag))
		}
	}
	manifest, ok := copied["/"+redisbackup.ManifestName]
	if !ok {
		t.Fatalf("copy has no cluster manifest")
	}
	m, err := redisbackup.ReadManifest(roleCtx, e.AWS.Buckets, dstLoc.Bucket, aws.ToString(manifest.Key))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Nodes {
		for _, f := range n.Files {
			if !strings.HasPrefix(f.Key, dstFolder+"/") {
				t.Errorf("copy's manifest names %s, outside the copy's folder %s", f.Key, dstFolder)
			}
		}
	}

	deleteAllVersions(ctx, t, e.AWS.Buckets, srcLoc.Bucket, srcFolder+"/")
	for _, n := range c.nodes {
		n.change(t)
	}
	out := restore(ctx, t, e, redis.RestoreInput{Cluster: c.name, BackupLocation: copyLoc, Access: access})
	if out.BackupID != res.BackupID {
		t.Fatalf("restored backup %s, want %s", out.BackupID, res.BackupID)
	}
	for _, n := range c.nodes {
		requireSame(t, "node "+n.id+" restored from the copy", want[n.id], n.dump(t))
	}
	requireReleased(t, e, c)
}

func parseLoc(t *testing.T, loc string, access backupstore.Access) backupstore.Location {
	t.Helper()
	l, err := backupstore.ParseLocationWith(loc, access)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// deleteAllVersions deletes every version and delete marker under prefix
// (as the datasets' copy test does).
func deleteAllVersions(ctx context.Context, t *testing.T, api *awsx.Buckets, bucket, prefix string) {
	t.Helper()
	out, err := api.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []s3types.ObjectIdentifier
	for _, v := range out.Versions {
		ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	for _, v := range out.DeleteMarkers {
		ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	if len(ids) == 0 {
		t.Fatalf("nothing under s3://%s/%s to delete", bucket, prefix)
	}
	if _, err := api.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &s3types.Delete{Objects: ids}}); err != nil {
		t.Fatal(err)
	}
	if left, _ := backupstore.List(ctx, api, bucket, prefix); len(left) != 0 {
		t.Fatalf("%d objects left under s3://%s/%s", len(left), bucket, prefix)
	}
}
