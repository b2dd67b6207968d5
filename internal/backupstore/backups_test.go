package backupstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/ids"
)

// memS3 is an in-memory bucket: enough of S3 for listing (with delimiter),
// reads, writes and deletes. failAfter, when > 0, makes DeleteObject fail
// once that many deletes have succeeded.
type memS3 struct {
	mu        sync.Mutex
	objects   map[string][]byte
	deletes   int
	failAfter int
	lists     []string // "<prefix>|<delimiter>" of every listing
}

func newMemS3() *memS3 { return &memS3{objects: map[string][]byte{}} }

func (m *memS3) HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return &s3.HeadBucketOutput{}, nil
}

func (m *memS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix, delim := aws.ToString(in.Prefix), aws.ToString(in.Delimiter)
	m.lists = append(m.lists, prefix+"|"+delim)
	out := &s3.ListObjectsV2Output{}
	seen := map[string]bool{}
	keys := make([]string, 0, len(m.objects))
	for k := range m.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+1]
				if !seen[cp] {
					seen[cp] = true
					out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(cp)})
				}
				continue
			}
		}
		sum := md5.Sum(m.objects[k])
		out.Contents = append(out.Contents, types.Object{
			Key: aws.String(k), Size: aws.Int64(int64(len(m.objects[k]))), ETag: aws.String(`"` + hex.EncodeToString(sum[:]) + `"`),
		})
	}
	return out, nil
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	body, ok := m.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(body))}, nil
}

func (m *memS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[aws.ToString(in.Key)] = body
	return &s3.PutObjectOutput{}, nil
}

func (m *memS3) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAfter > 0 && m.deletes >= m.failAfter {
		return nil, errors.New("connection reset")
	}
	m.deletes++
	delete(m.objects, aws.ToString(in.Key)) // like S3: deleting a missing key succeeds
	return &s3.DeleteObjectOutput{}, nil
}

func (m *memS3) keys(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// putBackup writes a complete backup cut daysAgo before day0 the way
// Lifeboat does: data objects, DynamoDB's export files, then the manifest.
func putBackup(t *testing.T, api *memS3, loc Location, store string, daysAgo int) Backup {
	t.Helper()
	ctx := context.Background()
	cut := day0.Add(-time.Duration(daysAgo) * 24 * time.Hour)
	id := ids.BackupID(cut)
	folder := loc.BackupFolder("e", store, "d", id)
	exportDir := ExportFolder(folder) + "/AWSDynamoDB/0001"
	m := &Manifest{Format: ManifestFormat, Tool: "lifeboat", BackupID: id, CutTime: cut, EnvironmentID: "e", StoreID: store,
		DatasetID: "d", DataPrefix: exportDir + "/data/"}
	for _, name := range []string{"a.json.gz", "b.json.gz"} {
		key := m.DataPrefix + name
		api.objects[key] = []byte("x")
		m.Objects = append(m.Objects, ObjectDigest{Key: key, Size: 1, Items: 1, MD5: "nZ8qBVo7ZcuT5JR8SDo7mw==", ETag: "9dd4e461268c8034f5c8564e155c67a6"})
		m.ItemCount++
		m.Bytes++
	}
	for _, name := range []string{"manifest-summary.json", "manifest-files.json", "_started"} {
		api.objects[exportDir+"/"+name] = []byte("{}")
		m.ExportFiles = append(m.ExportFiles, exportDir+"/"+name)
	}
	if err := WriteManifest(ctx, api, loc.Bucket, path.Join(folder, ManifestName), m); err != nil {
		t.Fatal(err)
	}
	return Backup{ID: id, StoreID: store, Folder: folder}
}

func TestApplyRetentionOnABucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api := newMemS3()
	loc := Location{Bucket: "b", Prefix: "root"}
	var all []Backup
	for i, store := range []string{"initial", "initial", "r1", "r1", "r1"} {
		all = append(all, putBackup(t, api, loc, store, 5-i)) // oldest first
	}
	oldest, kept := all[0], all[1]
	inProgress := loc.BackupFolder("e", "r1", "d", ids.BackupID(day0.Add(-time.Hour))) + "/export/AWSDynamoDB/0002/data/c.json.gz"
	foreign := []string{"root/e/notes.txt", oldest.Folder + "/README", "root/e/r1/d/stray.txt", "root/e/r1/other-ds/" + oldest.ID + "/manifest.json"}
	for _, k := range append(foreign, inProgress) {
		api.objects[k] = []byte("not ours")
	}
	if err := MarkKeep(ctx, api, "b", kept, "audit", day0); err != nil {
		t.Fatal(err)
	}

	found, err := ListBackups(ctx, api, loc, "e", "d")
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Backups) != 6 || !found.Backups[1].Kept || found.Backups[5].Complete() {
		t.Fatalf("listed %+v", found.Backups)
	}

	// The first attempt dies after 4 deletes; the retry finishes the job.
	api.failAfter = 4
	if _, err := ApplyRetention(ctx, api, loc, "e", "d", Retention{Count: 2}, day0, nil, false, nil); err == nil {
		t.Fatal("want the injected delete failure")
	}
	api.failAfter = 0
	run, err := ApplyRetention(ctx, api, loc, "e", "d", Retention{Count: 2}, day0, nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, v := range run.Deleted {
		deleted = append(deleted, v.Backup.ID)
	}
	if want := []string{all[2].ID, all[0].ID}; strings.Join(deleted, ",") != strings.Join(want, ",") {
		t.Fatalf("deleted %v, want %v (newest first)", deleted, want)
	}
	// Of the oldest only the foreign object is left; the third is gone.
	if got := api.keys(oldest.Folder + "/"); strings.Join(got, ",") != oldest.Folder+"/README" {
		t.Errorf("left in the oldest backup's folder: %v", got)
	}
	if got := api.keys(all[2].Folder + "/"); len(got) != 0 {
		t.Errorf("left in a deleted backup's folder: %v", got)
	}
	for _, b := range all[3:] {
		if got := api.keys(b.Folder + "/"); len(got) != 6 {
			t.Errorf("kept backup %s has %d objects, want 6", b.Name(), len(got))
		}
	}
	if got := api.keys(kept.Folder + "/"); len(got) != 7 {
		t.Errorf("backup marked keep has %d objects, want 7 (with its marker)", len(got))
	}
	for _, k := range append(foreign, inProgress) {
		if len(api.keys(k)) != 1 {
			t.Errorf("%s was deleted", k)
		}
	}
	notes := strings.Join(run.Plan.Left, "\n")
	for _, want := range []string{"no manifest.json", "root/e/r1/d/stray.txt"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}

	// Once more: nothing left to do.
	again, err := ApplyRetention(ctx, api, loc, "e", "d", Retention{Count: 2}, day0, nil, false, nil)
	if err != nil || len(again.Deleted) != 0 {
		t.Fatalf("second run deleted %d backups: %v", len(again.Deleted), err)
	}
}

func TestApplyRetentionDryRunAndKeepMarkedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api := newMemS3()
	loc := Location{Bucket: "b"}
	old := putBackup(t, api, loc, "initial", 3)
	putBackup(t, api, loc, "initial", 1)
	before := len(api.keys(""))

	run, err := ApplyRetention(ctx, api, loc, "e", "d", Retention{Days: 2}, day0, nil, true, nil)
	if err != nil || len(run.Plan.Delete) != 1 || len(run.Deleted) != 0 || len(api.keys("")) != before {
		t.Fatalf("dry run: plan %d, deleted %d, objects %d -> %d, err %v", len(run.Plan.Delete), len(run.Deleted), before, len(api.keys("")), err)
	}

	// Marked keep between the plan and the deletion: left.
	if err := MarkKeep(ctx, api, "b", old, "", day0); err != nil {
		t.Fatal(err)
	}
	n, kept, _, err := deleteBackup(ctx, api, "b", run.Plan.Delete[0], false, day0, nil)
	if err != nil || !kept || n != 0 {
		t.Fatalf("deleteBackup of a backup marked keep meanwhile: %d deleted, kept %v, err %v", n, kept, err)
	}

	found, err := FindBackups(ctx, api, loc, "e", "d", old.ID)
	if err != nil || len(found) != 1 || !found[0].Kept {
		t.Fatalf("FindBackups = %+v, %v", found, err)
	}
	if err := Unkeep(ctx, api, "b", found[0]); err != nil {
		t.Fatal(err)
	}
	var nb *NoBackupError
	if _, err := FindBackups(ctx, api, loc, "e", "d", "20000101T000000.000Z"); !errors.As(err, &nb) {
		t.Fatalf("unknown backup: %v, want a NoBackupError", err)
	}
}
