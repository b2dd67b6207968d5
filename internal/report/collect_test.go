package report

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// memS3 is a bucket in memory: listings with a delimiter and gets, and a
// record of every prefix listed.
type memS3 struct {
	mu     sync.Mutex
	bucket string
	objs   map[string][]byte
	listed []string
}

func (m *memS3) put(t *testing.T, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	m.objs[key] = b
}

func (m *memS3) HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return &s3.HeadBucketOutput{}, nil
}

func (m *memS3) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	panic("the report writes nothing")
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	b, ok := m.objs[aws.ToString(in.Key)]
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func (m *memS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if aws.ToString(in.Bucket) != m.bucket {
		return nil, &s3types.NoSuchBucket{}
	}
	prefix, delim := aws.ToString(in.Prefix), aws.ToString(in.Delimiter)
	m.mu.Lock()
	m.listed = append(m.listed, prefix)
	m.mu.Unlock()
	out := &s3.ListObjectsV2Output{}
	seen := map[string]bool{}
	var keys []string
	for k := range m.objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, delim); delim != "" && i >= 0 {
			if p := prefix + rest[:i+1]; !seen[p] {
				seen[p] = true
				out.CommonPrefixes = append(out.CommonPrefixes, s3types.CommonPrefix{Prefix: aws.String(p)})
			}
			continue
		}
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
	}
	return out, nil
}

type fakeRegistry struct {
	datasets []registry.Dataset
	clusters []registry.RedisCluster
}

func (f fakeRegistry) ListEnvironments(context.Context) ([]registry.Environment, error) {
	return []registry.Environment{{ID: "prod"}}, nil
}

func (f fakeRegistry) ListDatasets(_ context.Context, env string) ([]registry.Dataset, error) {
	return f.datasets, nil
}

func (f fakeRegistry) ListRedisClusters(context.Context) ([]registry.RedisCluster, error) {
	return f.clusters, nil
}

type fakeTemporal struct {
	schedules []Schedule
	failures  map[string]*Failure
	locations map[string]string
}

func (f fakeTemporal) Schedules(context.Context) ([]Schedule, error) { return f.schedules, nil }
func (f fakeTemporal) LastFailure(_ context.Context, r Resource) (*Failure, error) {
	return f.failures[r.EnvID+"/"+r.DatasetID], nil
}
func (f fakeTemporal) LastBackupLocation(_ context.Context, r Resource) (string, error) {
	return f.locations[r.EnvID+"/"+r.DatasetID], nil
}

// backupFolder writes a backup folder of prod/<ds> in store: its manifest
// (cut at cut), a data object, and optionally its records.
func backupFolder(t *testing.T, m *memS3, store, ds string, cut time.Time, v *backupstore.Verification, rt *backupstore.RestoreTest) string {
	t.Helper()
	loc := backupstore.Location{Bucket: m.bucket, Prefix: "lb"}
	id := cut.UTC().Format("20060102T150405.000Z")
	folder := loc.BackupFolder("prod", store, ds, id)
	m.put(t, folder+"/"+backupstore.ManifestName, backupstore.Manifest{Format: 2, BackupID: id, CutTime: cut, EnvironmentID: "prod",
		StoreID: store, DatasetID: ds, DataPrefix: folder + "/export/data"})
	m.objs[folder+"/export/data/part-0.json.gz"] = []byte("x")
	if v != nil {
		v.BackupID = id
		m.put(t, folder+"/"+backupstore.VerifiedName, v)
	}
	if rt != nil {
		rt.BackupID = id
		m.put(t, folder+"/"+backupstore.RestoreTestName, rt)
	}
	return id
}

// Collect finds each dataset's backups where its schedule (or last run)
// wrote them, across stores, takes the newest complete one, the newest
// proofs among recent ones, and the explicit RPO over the schedule's; it
// never lists export data.
func TestCollectDatasets(t *testing.T) {
	t.Parallel()
	m := &memS3{bucket: "bkt", objs: map[string][]byte{}}
	// orders: scheduled nightly, explicit 1h; newest backup in store "blue"
	// 30 min old; an older one verified; a newer folder without manifest.
	backupFolder(t, m, "initial", "orders", ago(26*time.Hour), &backupstore.Verification{At: ago(25 * time.Hour), Outcome: "ok"},
		&backupstore.RestoreTest{At: ago(20 * time.Hour), Outcome: "ok", RTOSeconds: 42})
	newest := backupFolder(t, m, "blue", "orders", ago(30*time.Minute), nil, nil)
	m.objs["lb/prod/blue/orders/"+ago(time.Minute).Format("20060102T150405.000Z")+"/export/data/part-0.json.gz"] = []byte("in progress")
	// users: found through its last run only; 3h old against the schedule-less explicit 1h.
	backupFolder(t, m, "initial", "users", ago(3*time.Hour), nil, nil)
	src := Sources{
		S3: m,
		Registry: fakeRegistry{datasets: []registry.Dataset{
			{EnvID: "prod", ID: "orders", RPOSeconds: 3600}, {EnvID: "prod", ID: "users", RPOSeconds: 3600}, {EnvID: "prod", ID: "carts"},
		}},
		Temporal: fakeTemporal{
			schedules: []Schedule{{ID: "nightly", Interval: 24 * time.Hour, Datasets: []DatasetTarget{{EnvID: "prod", DatasetID: "orders", Location: "s3://bkt/lb"}}}},
			locations: map[string]string{"prod/users": "s3://bkt/lb"},
			failures:  map[string]*Failure{"prod/users": {At: ago(time.Hour), Reason: "drain timed out"}},
		},
	}
	rep, err := Collect(context.Background(), src, Options{Now: func() time.Time { return now }, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Row{}
	for _, r := range rep.Resources {
		byName[r.Resource] = r
	}
	o := byName["prod/orders"]
	if o.LastBackup == nil || o.LastBackup.ID != newest || o.Status != StatusOK || o.RPOSource != "explicit" || o.Target() != time.Hour {
		t.Errorf("orders: last %+v status %s target %s from %q; want %s, ok, explicit 1h", o.LastBackup, o.Status, o.Target(), o.RPOSource, newest)
	}
	if o.Verification == nil || o.RestoreTest == nil || *o.RestoreTest.RTOSeconds != 42 || o.Coverage != Green {
		t.Errorf("orders: proofs %+v %+v coverage %s, want the older backup's, green", o.Verification, o.RestoreTest, o.Coverage)
	}
	u := byName["prod/users"]
	if u.Status != StatusLate || u.Coverage != Red || u.LastFailure == nil || u.Note != "no schedule" || len(u.Locations) != 1 {
		t.Errorf("users: %+v, want late, red, its failure, no schedule, found by its last run", u)
	}
	if c := byName["prod/carts"]; c.Status != StatusUnknown || c.Coverage != Red || !strings.Contains(c.Note, "backup location unknown") || c.OutsideTarget {
		t.Errorf("carts: %+v, want unknown (no location), red, not outside (no target)", c)
	}
	if err := rep.Check(); err == nil || !strings.Contains(err.Error(), "prod/users (late)") {
		t.Errorf("check: %v", err)
	}
	for _, p := range m.listed {
		if strings.Contains(p, "/export") {
			t.Errorf("listed %s: export data must not be listed", p)
		}
	}
}
