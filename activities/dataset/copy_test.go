package dataset

import (
	"bytes"
	"context"
	"path"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/s3mem"
)

// seedBackup writes a backup with a small and a large data object, an
// export file and its manifest under src.
func seedBackup(t *testing.T, m *s3mem.S3, src backupstore.Location) (folder string, large []byte) {
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
		if err := m.Put(src.Bucket, k, v, s3mem.MD5Hex(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	man := &backupstore.Manifest{
		Format: backupstore.ManifestFormat, BackupID: "B1", DatasetID: "orders", ItemCount: 400_001,
		Bytes: int64(len(small) + len(large)), DataPrefix: data, ExportManifest: folder + "/export/AWSDynamoDB/1/manifest-summary.json",
		Objects: []backupstore.ObjectDigest{
			{Key: data + "a.json.gz", Size: int64(len(small)), Items: 1, MD5: "x", ETag: s3mem.MD5Hex(small)},
			{Key: data + "b.json.gz", Size: int64(len(large)), Items: 400_000, MD5: "y", ETag: s3mem.MD5Hex(large)},
		},
		ExportFiles: []string{folder + "/export/AWSDynamoDB/1/manifest-summary.json"},
	}
	if err := backupstore.WriteManifest(context.Background(), m, src.Bucket, path.Join(folder, backupstore.ManifestName), man); err != nil {
		t.Fatal(err)
	}
	m.Puts = nil
	return folder, large
}

func TestCopyBackup(t *testing.T) {
	m := s3mem.New()
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
	if m.Parts < 2 {
		t.Errorf("%d parts uploaded: the 10.8 MB object should go up in 5 MB parts", m.Parts)
	}
	if last := m.Puts[len(m.Puts)-1]; last != dstFolder+"/manifest.json" {
		t.Errorf("last object written %s, want the manifest (written last)", last)
	}
	got, err := m.Get("copies/" + dstFolder + "/export/AWSDynamoDB/1/data/b.json.gz")
	if err != nil || !bytes.Equal(got.Data, large) || !strings.Contains(got.ETag, "-") {
		t.Fatalf("large object at the copy: %v, ETag %s, same bytes %v", err, got.ETag, bytes.Equal(got.Data, large))
	}
	man, err := backupstore.ReadManifest(context.Background(), m, "copies", dstFolder+"/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if man.DataPrefix != dstFolder+"/export/AWSDynamoDB/1/data/" || man.Objects[1].ETag != got.ETag || man.ExportFiles[0] != dstFolder+"/export/AWSDynamoDB/1/manifest-summary.json" {
		t.Errorf("copy's manifest keeps the source's keys or ETags: %+v", man)
	}

	// A retry skips what is there.
	m.Puts = nil
	again, err := a.CopyBackup(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if again.Skipped != 3 || len(m.Puts) != 1 {
		t.Errorf("retry skipped %d objects and wrote %v, want 3 skipped and only the manifest", again.Skipped, m.Puts)
	}
}

// TestCopyBackupHalfDone: a copy that fails on one object leaves no
// manifest at the destination, so it is never listed as a backup.
func TestCopyBackupHalfDone(t *testing.T) {
	m := s3mem.New()
	src := backupstore.Location{Bucket: "primary", Prefix: "backups"}
	dst := backupstore.Location{Bucket: "copies"}
	seedBackup(t, m, src)
	dstFolder := dst.BackupFolder("env", "s1", "orders", "B1")
	m.FailPut = dstFolder + "/export/AWSDynamoDB/1/data/b.json.gz"
	a := &Copies{S3: m, PartSize: manager.MinUploadPartSize}
	_, err := a.CopyBackup(context.Background(), CopyBackupInput{Source: src, Dest: dst, EnvID: "env", StoreID: "s1", DatasetID: "orders", BackupID: "B1"})
	if err == nil {
		t.Fatal("copy succeeded with an object failing")
	}
	if _, err := m.Get("copies/" + dstFolder + "/manifest.json"); err == nil {
		t.Error("a half-done copy has a manifest")
	}
}
