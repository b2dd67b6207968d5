package redisbackup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// memS3 is a bucket in memory that records every listing: a listing with
// no delimiter under a cluster's prefix would walk every file.
type memS3 struct {
	backupstore.API
	mu      sync.Mutex
	objects map[string][]byte
	lists   []*s3.ListObjectsV2Input
	gets    []string
}

func (m *memS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lists = append(m.lists, in)
	prefix, delim := aws.ToString(in.Prefix), aws.ToString(in.Delimiter)
	keys := make([]string, 0, len(m.objects))
	for k := range m.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := &s3.ListObjectsV2Output{}
	seen := map[string]bool{}
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
		out.Contents = append(out.Contents, types.Object{Key: aws.String(k)})
		if in.MaxKeys != nil && int32(len(out.Contents)) >= *in.MaxKeys {
			break
		}
	}
	return out, nil
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := aws.ToString(in.Key)
	m.gets = append(m.gets, key)
	b, ok := m.objects[key]
	if !ok {
		return nil, &types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func (m *memS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[aws.ToString(in.Key)] = b
	return &s3.PutObjectOutput{}, nil
}

func TestFindBackupListsFoldersAndReadsManifests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	loc := backupstore.Location{Bucket: "b", Prefix: "redis"}
	api := &memS3{objects: map[string][]byte{}}
	ids := []string{"20210901T120000.000Z", "20210902T120000.000Z", "20210903T120000.000Z"}
	for i, id := range ids {
		for _, n := range []string{"n1", "n2"} {
			api.objects[NodeFolder(loc, "shop", id, n)+"/appendonlydir/appendonly.aof.1.base.rdb"] = []byte("x")
			api.objects[NodeFolder(loc, "shop", id, n)+"/appendonlydir/appendonly.aof.1.incr.aof"] = []byte("x")
		}
		if i < 2 { // the last one did not finish: no manifest
			m := validManifest(t, id)
			if err := WriteManifest(ctx, api, loc.Bucket, ManifestKey(loc, "shop", id), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	api.objects[loc.Key("shop", "not-a-backup", "x")] = []byte("x")
	api.objects[loc.Key("shopping", ids[0], ManifestName)] = []byte("{}")

	found, err := FindBackups(ctx, api, loc, "shop")
	if err != nil || strings.Join(found, ",") != ids[0]+","+ids[1] {
		t.Fatalf("FindBackups = %v, %v", found, err)
	}
	api.lists = nil
	id, m, key, err := FindBackup(ctx, api, loc, "shop", "", time.Time{})
	if err != nil || id != ids[1] || m.BackupID != ids[1] || key != ManifestKey(loc, "shop", ids[1]) {
		t.Fatalf("FindBackup = %s, %v, %s, %v; want the latest complete one", id, m, key, err)
	}
	if len(api.lists) != 1 || aws.ToString(api.lists[0].Delimiter) != "/" || aws.ToString(api.lists[0].Prefix) != "redis/shop/" {
		t.Errorf("listings %+v: want one, of one folder level", api.lists)
	}
	if _, _, _, err := FindBackup(ctx, api, loc, "shop", ids[2], time.Time{}); !errors.As(err, new(*NoBackupError)) {
		t.Errorf("the unfinished backup by id: %v, want NoBackupError", err)
	}
	notAfter, _ := ParseDate("2021-09-01")
	if id, _, _, err := FindBackup(ctx, api, loc, "shop", "", notAfter); err != nil || id != ids[0] {
		t.Errorf("by date: %s, %v", id, err)
	}
	for _, l := range api.lists {
		if aws.ToString(l.Delimiter) == "" && l.MaxKeys == nil {
			t.Errorf("a listing of every file under %s", aws.ToString(l.Prefix))
		}
	}
}

func validManifest(t *testing.T, id string) *Manifest {
	t.Helper()
	sum := strings.Repeat("a", 64)
	m := &Manifest{
		Format: ManifestFormat, Cluster: "shop", BackupID: id, Persistence: FormatRDB, Keys: 10, Bytes: 100,
		Nodes: []Node{{Node: "n1", Keys: 10, MinKeys: 10, MaxKeys: 10, Bytes: 100, Files: []File{{Name: "dump.rdb", Role: RoleRDB, Key: "k1", Size: 100, SHA256: sum}}}},
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	return m
}
