package dataset

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// memS3 is an in-memory S3 as CopyBackup uses it: single-part puts have
// the MD5 as ETag, multipart uploads the MD5 of the parts' MD5s.
type memS3 struct {
	mu      sync.Mutex
	objects map[string]memObject // bucket/key
	uploads map[string][][]byte
	upMeta  map[string]map[string]string // an upload's metadata, kept by the object
	puts    []string                     // keys written, in order
	parts   int                          // parts uploaded
	failPut string                       // a key whose upload fails
}

type memObject struct {
	data     []byte
	etag     string
	meta     map[string]string
	modified time.Time
}

func newMemS3() *memS3 {
	return &memS3{objects: map[string]memObject{}, uploads: map[string][][]byte{}, upMeta: map[string]map[string]string{}}
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func (m *memS3) put(bucket, key string, data []byte, etag string, meta map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if key == m.failPut {
		return errors.New("injected failure")
	}
	m.objects[bucket+"/"+key] = memObject{data: data, etag: etag, meta: meta, modified: time.Now()}
	m.puts = append(m.puts, key)
	return nil
}

func (m *memS3) HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return &s3.HeadBucketOutput{}, nil
}

func (m *memS3) GetBucketVersioning(context.Context, *s3.GetBucketVersioningInput, ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error) {
	return &s3.GetBucketVersioningOutput{Status: types.BucketVersioningStatusEnabled}, nil
}

func (m *memS3) GetObjectLockConfiguration(context.Context, *s3.GetObjectLockConfigurationInput, ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
	return &s3.GetObjectLockConfigurationOutput{}, nil
}

func (m *memS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out s3.ListObjectsV2Output
	for k, o := range m.objects {
		b, key, _ := strings.Cut(k, "/")
		if b == aws.ToString(in.Bucket) && strings.HasPrefix(key, aws.ToString(in.Prefix)) {
			out.Contents = append(out.Contents, types.Object{Key: aws.String(key), Size: aws.Int64(int64(len(o.data))), ETag: aws.String(`"` + o.etag + `"`)})
		}
	}
	sort.Slice(out.Contents, func(i, j int) bool { return *out.Contents[i].Key < *out.Contents[j].Key })
	return &out, nil
}

func (m *memS3) get(in string) (memObject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[in]
	if !ok {
		return o, &types.NotFound{}
	}
	return o, nil
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	o, err := m.get(aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key))
	if err != nil {
		return nil, err
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.data)), ContentLength: aws.Int64(int64(len(o.data))), ETag: aws.String(`"` + o.etag + `"`)}, nil
}

func (m *memS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	o, err := m.get(aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key))
	if err != nil {
		return nil, err
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(o.data))), ETag: aws.String(`"` + o.etag + `"`), Metadata: o.meta, LastModified: aws.Time(o.modified)}, nil
}

func (m *memS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	return &s3.PutObjectOutput{}, m.put(aws.ToString(in.Bucket), aws.ToString(in.Key), data, md5hex(data), in.Metadata)
}

func (m *memS3) CreateMultipartUpload(_ context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := fmt.Sprintf("up%d", len(m.uploads))
	m.uploads[id], m.upMeta[id] = nil, in.Metadata
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String(id), Bucket: in.Bucket, Key: in.Key}, nil
}

func (m *memS3) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := m.uploads[aws.ToString(in.UploadId)]
	for len(parts) < int(aws.ToInt32(in.PartNumber)) {
		parts = append(parts, nil)
	}
	parts[aws.ToInt32(in.PartNumber)-1] = data
	m.uploads[aws.ToString(in.UploadId)] = parts
	m.parts++
	return &s3.UploadPartOutput{ETag: aws.String(`"` + md5hex(data) + `"`)}, nil
}

func (m *memS3) CompleteMultipartUpload(_ context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	m.mu.Lock()
	parts, meta := m.uploads[aws.ToString(in.UploadId)], m.upMeta[aws.ToString(in.UploadId)]
	m.mu.Unlock()
	var data, sums []byte
	for _, p := range parts {
		data = append(data, p...)
		s := md5.Sum(p)
		sums = append(sums, s[:]...)
	}
	etag := fmt.Sprintf("%s-%d", md5hex(sums), len(parts))
	return &s3.CompleteMultipartUploadOutput{}, m.put(aws.ToString(in.Bucket), aws.ToString(in.Key), data, etag, meta)
}

func (m *memS3) AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return &s3.AbortMultipartUploadOutput{}, nil
}

// seedBackup writes a backup with a small and a large data object, an
// export file and its manifest under src.
func seedBackup(t *testing.T, m *memS3, src backupstore.Location) (folder string, large []byte) {
	t.Helper()
	folder = src.BackupFolder("env", "s1", "orders", "B1")
	small := []byte("{\"Item\":{}}\n")
	large = bytes.Repeat([]byte("{\"Item\":{\"pk\":{\"S\":\"x\"}}}\n"), 400_000) // 10.8 MB: three parts of 5 MB
	data := folder + "/export/AWSDynamoDB/1/data/"
	files := map[string][]byte{
		data + "a.json.gz": small, data + "b.json.gz": large,
		folder + "/export/AWSDynamoDB/1/manifest-summary.json": []byte(`{}`),
	}
	for k, v := range files {
		if err := m.put(src.Bucket, k, v, md5hex(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	man := &backupstore.Manifest{
		Format: backupstore.ManifestFormat, BackupID: "B1", DatasetID: "orders", ItemCount: 400_001,
		Bytes: int64(len(small) + len(large)), DataPrefix: data, ExportManifest: folder + "/export/AWSDynamoDB/1/manifest-summary.json",
		Objects: []backupstore.ObjectDigest{
			{Key: data + "a.json.gz", Size: int64(len(small)), Items: 1, MD5: "x", ETag: md5hex(small)},
			{Key: data + "b.json.gz", Size: int64(len(large)), Items: 400_000, MD5: "y", ETag: md5hex(large)},
		},
		ExportFiles: []string{folder + "/export/AWSDynamoDB/1/manifest-summary.json"},
	}
	if err := backupstore.WriteManifest(context.Background(), m, src.Bucket, path.Join(folder, backupstore.ManifestName), man); err != nil {
		t.Fatal(err)
	}
	m.puts = nil
	return folder, large
}

func TestCopyBackup(t *testing.T) {
	m := newMemS3()
	src := backupstore.Location{Bucket: "primary", Prefix: "backups"}
	dst := backupstore.Location{Bucket: "copies", Prefix: "elsewhere/deeper"}
	_, large := seedBackup(t, m, src)
	a := &Copies{S3: m, PartSize: manager.MinUploadPartSize}
	in := CopyBackupInput{Source: src, Dest: dst, EnvID: "env", StoreID: "s1", DatasetID: "orders", BackupID: "B1"}

	out, err := a.CopyBackup(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	dstFolder := dst.BackupFolder("env", "s1", "orders", "B1")
	if out.Objects != 3 || out.ManifestURL != "s3://copies/"+dstFolder+"/manifest.json" {
		t.Errorf("result %+v, want 3 objects and the copy's manifest", out)
	}
	if m.parts < 2 {
		t.Errorf("%d parts uploaded: the 10.8 MB object should go up in 5 MB parts", m.parts)
	}
	if last := m.puts[len(m.puts)-1]; last != dstFolder+"/manifest.json" {
		t.Errorf("last object written %s, want the manifest (written last)", last)
	}
	got, err := m.get("copies/" + dstFolder + "/export/AWSDynamoDB/1/data/b.json.gz")
	if err != nil || !bytes.Equal(got.data, large) || !strings.Contains(got.etag, "-") {
		t.Fatalf("large object at the copy: %v, ETag %s, same bytes %v", err, got.etag, bytes.Equal(got.data, large))
	}
	man, err := backupstore.ReadManifest(context.Background(), m, "copies", dstFolder+"/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if man.DataPrefix != dstFolder+"/export/AWSDynamoDB/1/data/" || man.Objects[1].ETag != got.etag || man.ExportFiles[0] != dstFolder+"/export/AWSDynamoDB/1/manifest-summary.json" {
		t.Errorf("copy's manifest keeps the source's keys or ETags: %+v", man)
	}

	// A retry skips what is there.
	m.puts = nil
	again, err := a.CopyBackup(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if again.Skipped != 3 || len(m.puts) != 1 {
		t.Errorf("retry skipped %d objects and wrote %v, want 3 skipped and only the manifest", again.Skipped, m.puts)
	}
}

// TestCopyBackupHalfDone: a copy that fails on one object leaves no
// manifest at the destination, so it is never listed as a backup.
func TestCopyBackupHalfDone(t *testing.T) {
	m := newMemS3()
	src := backupstore.Location{Bucket: "primary", Prefix: "backups"}
	dst := backupstore.Location{Bucket: "copies"}
	seedBackup(t, m, src)
	dstFolder := dst.BackupFolder("env", "s1", "orders", "B1")
	m.failPut = dstFolder + "/export/AWSDynamoDB/1/data/b.json.gz"
	a := &Copies{S3: m, PartSize: manager.MinUploadPartSize}
	_, err := a.CopyBackup(context.Background(), CopyBackupInput{Source: src, Dest: dst, EnvID: "env", StoreID: "s1", DatasetID: "orders", BackupID: "B1"})
	if err == nil {
		t.Fatal("copy succeeded with an object failing")
	}
	if _, err := m.get("copies/" + dstFolder + "/manifest.json"); err == nil {
		t.Error("a half-done copy has a manifest")
	}
}
