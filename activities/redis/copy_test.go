package redis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/s3mem"
)

// seedRedisBackup writes a complete two-node backup (a small dump, and a
// large one that goes up in parts) under src.
func seedRedisBackup(t *testing.T, m *s3mem.S3, src backupstore.Location) *redisbackup.Manifest {
	t.Helper()
	files := map[string][]byte{
		"n1": []byte("REDIS0011 small"),
		"n2": bytes.Repeat([]byte("REDIS0011 large "), 700_000), // 11.2 MB: three parts of 5 MB
	}
	man := &redisbackup.Manifest{Format: redisbackup.ManifestFormat, Tool: "lifeboat", Cluster: "shop", BackupID: "20210901T120000.000Z",
		Persistence: redisbackup.FormatRDB, StartedAt: time.Now().UTC(), CreatedAt: time.Now().UTC()}
	for _, id := range []string{"n1", "n2"} {
		data := files[id]
		sum := sha256.Sum256(data)
		key := path.Join(redisbackup.NodeFolder(src, "shop", man.BackupID, id), "dump.rdb")
		if err := m.Put(src.Bucket, key, data, s3mem.MD5Hex(data), nil); err != nil {
			t.Fatal(err)
		}
		man.Nodes = append(man.Nodes, redisbackup.Node{Node: id, Keys: 10, MinKeys: 10, MaxKeys: 10, Bytes: int64(len(data)),
			Files: []redisbackup.File{{Name: "dump.rdb", Role: redisbackup.RoleRDB, Key: key, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}}})
		man.Keys += 10
		man.Bytes += int64(len(data))
	}
	if err := redisbackup.WriteManifest(context.Background(), m, src.Bucket, redisbackup.ManifestKey(src, "shop", man.BackupID), man); err != nil {
		t.Fatal(err)
	}
	m.Puts = nil
	return man
}

func TestCopyRedisBackup(t *testing.T) {
	m := s3mem.New()
	src := backupstore.Location{Bucket: "primary", Prefix: "redis"}
	dst := backupstore.Location{Bucket: "copies", Prefix: "dr/redis"}
	man := seedRedisBackup(t, m, src)
	a := &Copies{S3: m, PartSize: manager.MinUploadPartSize}
	in := CopyRedisBackupInput{Source: src, Dest: dst, Cluster: "shop", BackupID: man.BackupID}

	out, err := a.CopyRedisBackup(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	manifestKey := redisbackup.ManifestKey(dst, "shop", man.BackupID)
	if out.Objects != 3 || out.Bytes != man.Bytes || out.ManifestURL != "s3://copies/"+manifestKey {
		t.Errorf("result %+v, want 3 objects, %d bytes, the copy's manifest", out, man.Bytes)
	}
	if len(m.Puts) != 3 || m.Puts[len(m.Puts)-1] != manifestKey {
		t.Fatalf("written %v, want both node files, then the manifest last", m.Puts)
	}
	if m.Parts < 3 {
		t.Errorf("%d parts uploaded, want the large dump in parts", m.Parts)
	}
	got, err := redisbackup.ReadManifest(context.Background(), m, dst.Bucket, manifestKey)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range got.Nodes {
		f := n.Files[0]
		if want := path.Join(redisbackup.NodeFolder(dst, "shop", man.BackupID, n.Node), "dump.rdb"); f.Key != want {
			t.Errorf("copy's manifest names %s for node %s, want %s", f.Key, n.Node, want)
		}
		o, err := m.Get(dst.Bucket + "/" + f.Key)
		if err != nil {
			t.Fatalf("node %s's file not copied: %v", n.Node, err)
		}
		src, _ := m.Get(src.Bucket + "/" + man.Nodes[i].Files[0].Key)
		if !bytes.Equal(o.Data, src.Data) {
			t.Errorf("node %s's file differs at the copy", n.Node)
		}
	}

	// A retry sends nothing again but the manifest.
	m.Puts = nil
	out, err = a.CopyRedisBackup(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Skipped != 2 || len(m.Puts) != 1 {
		t.Errorf("retry skipped %d and wrote %v, want both files skipped, the manifest alone written", out.Skipped, m.Puts)
	}
}

// A copy that fails on a node file leaves no manifest at the destination:
// it is no backup there.
func TestCopyRedisBackupFailureLeavesNoManifest(t *testing.T) {
	m := s3mem.New()
	src := backupstore.Location{Bucket: "primary", Prefix: "redis"}
	dst := backupstore.Location{Bucket: "copies", Prefix: "redis"}
	man := seedRedisBackup(t, m, src)
	m.FailPut = path.Join(redisbackup.NodeFolder(dst, "shop", man.BackupID, "n2"), "dump.rdb")
	a := &Copies{S3: m, PartSize: manager.MinUploadPartSize}
	if _, err := a.CopyRedisBackup(context.Background(), CopyRedisBackupInput{Source: src, Dest: dst, Cluster: "shop", BackupID: man.BackupID}); err == nil {
		t.Fatal("copy succeeded with a node file failing")
	}
	if _, err := m.Get(dst.Bucket + "/" + redisbackup.ManifestKey(dst, "shop", man.BackupID)); err == nil {
		t.Error("a half-done copy has a cluster manifest")
	}
}

func TestCopyRedisBackupToItself(t *testing.T) {
	m := s3mem.New()
	src := backupstore.Location{Bucket: "primary", Prefix: "redis"}
	man := seedRedisBackup(t, m, src)
	_, err := (&Copies{S3: m}).CopyRedisBackup(context.Background(), CopyRedisBackupInput{Source: src, Dest: src, Cluster: "shop", BackupID: man.BackupID})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrInvalidInput || !strings.Contains(err.Error(), "own location") {
		t.Fatalf("copy onto itself: %v, want InvalidInput", err)
	}
}
