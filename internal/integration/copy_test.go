package integration

import (
	"context"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationBackupCopyToAnotherAccount backs a dataset up with a copy
// to a bucket of a second account, written through a role there: the copy
// holds every object of the backup folder, byte for byte, and the manifest
// (with the copy's keys); after every version of the primary's backup
// folder is deleted, the dataset is restored from the copy item for item.
// A copy destination the role may not write is refused before anything is
// paused (exit 2 from the CLI), the dataset left running.
func TestIntegrationBackupCopyToAnotherAccount(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("copy"), "orders"
	e.CreateEnvDataset(t, env, ds)
	primary := e.NewBackupLocation(t)
	externalID := "lifeboat-" + env
	role := awsx.Role{ARN: e.CreateBackupRole(t, backupAccount, e.ID("copy-writer"), externalID), ExternalID: externalID}
	copyLoc := e.NewBackupLocationInAccount(t, backupAccount)
	// The role is the second account's: the workers' own bucket is not its.
	forbidden := e.NewBackupLocation(t)
	access := backupstore.Access{RoleARN: role.ARN, ExternalID: externalID}
	want := e.Load(t, env, ds, "item", 60)

	_, err := e.Client().StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{{
		EnvID: env, DatasetID: ds, BackupLocation: primary,
		CopyTo: []dataset.CopyDestination{{Location: copyLoc, Access: access}, {Location: forbidden, Access: access}},
	}}})
	requireInvalid(t, err, "may not use bucket "+bucketOf(forbidden))
	e.RequireRunning(t, env)

	_, res := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{{
		EnvID: env, DatasetID: ds, BackupLocation: primary,
		CopyTo: []dataset.CopyDestination{{Location: copyLoc, Access: access}},
	}}})
	row := res.Datasets[0]
	if len(row.Copies) != 1 {
		t.Fatalf("copies %+v, want 1", row.Copies)
	}
	good := row.Copies[0]
	if !good.OK || good.Objects == 0 {
		t.Fatalf("copy to %s: %+v, want ok", copyLoc, good)
	}
	e.RequireRunning(t, env)

	// Every object of the primary's folder is at the copy, same size and
	// checksum; the copy's manifest names the copy's keys.
	srcFolder := strings.TrimSuffix(strings.TrimPrefix(row.ManifestURL, "s3://"+bucketOf(primary)+"/"), "/"+backupstore.ManifestName)
	dstFolder := strings.TrimSuffix(strings.TrimPrefix(good.ManifestURL, "s3://"+bucketOf(copyLoc)+"/"), "/"+backupstore.ManifestName)
	src, err := backupstore.List(ctx, e.AWS.Buckets, bucketOf(primary), srcFolder+"/")
	if err != nil {
		t.Fatal(err)
	}
	roleCtx := awsx.WithRole(ctx, role)
	dst, err := backupstore.List(roleCtx, e.AWS.Buckets, bucketOf(copyLoc), dstFolder+"/")
	if err != nil {
		t.Fatal(err)
	}
	copied := map[string]s3types.Object{}
	for _, o := range dst {
		copied[strings.TrimPrefix(aws.ToString(o.Key), dstFolder)] = o
	}
	if len(dst) != len(src) || good.Objects != len(src)-1 {
		t.Errorf("copy holds %d objects (reported %d copied), the primary %d (manifest included)", len(dst), good.Objects, len(src))
	}
	for _, o := range src {
		rel := strings.TrimPrefix(aws.ToString(o.Key), srcFolder)
		c, ok := copied[rel]
		switch {
		case !ok:
			t.Errorf("copy lacks %s", rel)
		case path.Base(rel) == backupstore.ManifestName:
		case aws.ToInt64(c.Size) != aws.ToInt64(o.Size) || aws.ToString(c.ETag) != aws.ToString(o.ETag):
			t.Errorf("copy of %s: size %d ETag %s, source %d %s", rel, aws.ToInt64(c.Size), aws.ToString(c.ETag), aws.ToInt64(o.Size), aws.ToString(o.ETag))
		}
	}
	m := readManifestAs(ctx, t, e, role, good.ManifestURL)
	if !strings.HasPrefix(m.DataPrefix, dstFolder+"/") || m.Bucket == nil || m.Bucket.Owner != backupAccount {
		t.Errorf("copy's manifest: data prefix %s, bucket %+v; want under %s, owner %s", m.DataPrefix, m.Bucket, dstFolder, backupAccount)
	}
	// The manifest is written last: no object of the copy is newer.
	for _, o := range dst {
		if aws.ToTime(o.LastModified).After(m.CreatedAt) {
			t.Errorf("copy's %s (%s) is newer than its manifest (%s)", aws.ToString(o.Key), aws.ToTime(o.LastModified), m.CreatedAt)
		}
	}

	deleteAllVersions(ctx, t, e.AWS.Buckets, bucketOf(primary), srcFolder+"/")
	e.Put(t, env, ds, map[string]string{"item-000001": "changed after the backup", "later": "written after the backup"})
	_, rres := restore(ctx, t, e, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{
		{EnvID: env, DatasetID: ds, BackupLocation: copyLoc, Access: access},
	}})
	if diff := testenv.DiffItems(want, e.ReadDataset(t, env, rres.StoreID, ds)); diff != "" {
		t.Errorf("table restored from the copy differs from the backup: %s", diff)
	}
	e.RequireRunning(t, env)
}

func bucketOf(loc string) string { return strings.Split(loc, "/")[2] }

// deleteAllVersions deletes every version and delete marker under prefix.
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
