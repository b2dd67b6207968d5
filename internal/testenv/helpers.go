package testenv

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/gateload"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// Context is a context for one test: it ends at the timeout, shortly before
// the test binary's own deadline, or when the test is cleaned up.
func Context(tb testing.TB, timeout time.Duration) context.Context {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	if t, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := t.Deadline(); ok && d.Add(-5*time.Second).Before(deadline) {
			deadline = d.Add(-5 * time.Second)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	tb.Cleanup(cancel)
	return ctx
}

// CreateBucket creates a versioned S3 bucket in moto, in the stack's
// region: a backup bucket as Lifeboat requires it.
func (e *Env) CreateBucket(tb testing.TB, name string) {
	tb.Helper()
	e.CreateBucketWith(tb, name, BucketOptions{})
}

// CreateBucketIn creates a versioned S3 bucket in a region ("" = the
// stack's), as CreateBucket's LocationConstraint places it.
func (e *Env) CreateBucketIn(tb testing.TB, name, region string) {
	tb.Helper()
	e.CreateBucketWith(tb, name, BucketOptions{Region: region})
}

// BucketOptions shape a test bucket.
type BucketOptions struct {
	Region      string // "" = the stack's
	Unversioned bool   // leave versioning off (Lifeboat refuses such a bucket)
	// LockDays, when positive, creates the bucket with Object Lock and a
	// default retention of that many days in LockMode (default GOVERNANCE).
	LockDays int32
	LockMode s3types.ObjectLockRetentionMode
}

// CreateBucketWith creates an S3 bucket as opts say.
func (e *Env) CreateBucketWith(tb testing.TB, name string, opts BucketOptions) {
	tb.Helper()
	ctx := context.Background()
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if opts.Region != "" && opts.Region != e.AWS.Config.Region {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(opts.Region)}
	}
	if opts.LockDays > 0 {
		in.ObjectLockEnabledForBucket = aws.Bool(true) // turns versioning on too, as on AWS
	}
	if _, err := e.AWS.S3.CreateBucket(ctx, in); err != nil {
		tb.Fatalf("create bucket %s: %v", name, err)
	}
	if !opts.Unversioned {
		if _, err := e.AWS.Buckets.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
		}); err != nil {
			tb.Fatalf("enable versioning on bucket %s: %v", name, err)
		}
	}
	if opts.LockDays > 0 {
		mode := opts.LockMode
		if mode == "" {
			mode = s3types.ObjectLockRetentionModeGovernance
		}
		if _, err := e.AWS.Buckets.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{
			Bucket: aws.String(name),
			ObjectLockConfiguration: &s3types.ObjectLockConfiguration{
				ObjectLockEnabled: s3types.ObjectLockEnabledEnabled,
				Rule:              &s3types.ObjectLockRule{DefaultRetention: &s3types.DefaultRetention{Mode: mode, Days: aws.Int32(opts.LockDays)}},
			},
		}); err != nil {
			tb.Fatalf("set Object Lock on bucket %s: %v", name, err)
		}
	}
}

// NewBucketLocation creates a fresh bucket as opts say and returns
// s3://<bucket>/backups.
func (e *Env) NewBucketLocation(tb testing.TB, opts BucketOptions) string {
	tb.Helper()
	bucket := e.ID("lbtest-backups")
	e.CreateBucketWith(tb, bucket, opts)
	return "s3://" + bucket + "/backups"
}

// NewBackupLocation creates a fresh bucket and returns s3://<bucket>/backups.
func (e *Env) NewBackupLocation(tb testing.TB) string {
	tb.Helper()
	return e.NewBackupLocationIn(tb, "")
}

// NewBackupLocationIn is NewBackupLocation with the bucket in a region.
func (e *Env) NewBackupLocationIn(tb testing.TB, region string) string {
	tb.Helper()
	return e.NewBucketLocation(tb, BucketOptions{Region: region})
}

// CreateEnvDataset registers the environment (unless it exists) and creates
// each dataset in it.
func (e *Env) CreateEnvDataset(tb testing.TB, env string, datasets ...string) {
	tb.Helper()
	ctx := context.Background()
	if _, err := e.reg.CreateEnvironment(ctx, env, time.Now()); err != nil {
		var exists *registry.AlreadyExistsError
		if !errors.As(err, &exists) {
			tb.Fatalf("create environment %s: %v", env, err)
		}
	}
	for _, ds := range datasets {
		if _, err := e.reg.CreateDataset(ctx, env, ds, time.Now()); err != nil {
			tb.Fatalf("create dataset %s/%s: %v", env, ds, err)
		}
	}
}

// Load writes n generated items (gateload.ItemKey(prefix, i) = gateload.ItemValue(prefix, i))
// through the gate and returns them.
func (e *Env) Load(tb testing.TB, env, dataset, prefix string, n int) map[string]string {
	tb.Helper()
	written, err := gateload.Load(context.Background(), e.gate, env, dataset, prefix, n, 50, 4, nil)
	if err != nil || written != n {
		tb.Fatalf("load %d items into %s/%s: wrote %d: %v", n, env, dataset, written, err)
	}
	out := make(map[string]string, n)
	for i := 1; i <= n; i++ {
		out[gateload.ItemKey(prefix, i)] = gateload.ItemValue(prefix, i)
	}
	return out
}

// BulkLoad writes the same n generated items as Load, but straight into the
// dataset's active table with BatchWriteItem, bypassing the gate. moto
// deep-copies a table for every action of a transaction (and keeps the
// copies), so gate writes slow down with the table's size and a load of
// 10,000 items through the gate takes many minutes and gigabytes; use
// BulkLoad for large datasets, and only while no workflow acts on them.
func (e *Env) BulkLoad(tb testing.TB, env, dataset, prefix string, n int) map[string]string {
	tb.Helper()
	ctx := context.Background()
	table := e.reg.TableName(env, e.Environment(tb, env).ActiveStore, dataset)
	out := make(map[string]string, n)
	var pending []dbtypes.WriteRequest
	flush := func() {
		for attempt := 0; len(pending) > 0; attempt++ {
			res, err := e.AWS.DynamoDB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]dbtypes.WriteRequest{table: pending},
			})
			if err != nil {
				tb.Fatalf("bulk load into %s: %v", table, err)
			}
			pending = res.UnprocessedItems[table]
			if attempt > 20 {
				tb.Fatalf("bulk load into %s: %d items still unprocessed", table, len(pending))
			}
		}
	}
	for i := 1; i <= n; i++ {
		k, v := gateload.ItemKey(prefix, i), gateload.ItemValue(prefix, i)
		out[k] = v
		pending = append(pending, dbtypes.WriteRequest{PutRequest: &dbtypes.PutRequest{Item: map[string]dbtypes.AttributeValue{
			registry.DataKeyAttribute: &dbtypes.AttributeValueMemberS{Value: k},
			"value":                   &dbtypes.AttributeValueMemberS{Value: v},
		}}})
		if len(pending) == 25 {
			flush()
		}
	}
	flush()
	return out
}

// Put writes items through the gate, in batches.
func (e *Env) Put(tb testing.TB, env, dataset string, items map[string]string) {
	tb.Helper()
	keys := SortedKeys(items)
	for start := 0; start < len(keys); start += gate.MaxBatch {
		end := min(start+gate.MaxBatch, len(keys))
		batch := make([]gate.Item, 0, end-start)
		for _, k := range keys[start:end] {
			batch = append(batch, gate.Item{Key: k, Value: items[k]})
		}
		if err := e.gate.BatchPut(context.Background(), env, dataset, batch); err != nil {
			tb.Fatalf("put %d items into %s/%s: %v", len(batch), env, dataset, err)
		}
	}
}

// ReadTable reads every item of a DynamoDB table, consistently.
func (e *Env) ReadTable(tb testing.TB, table string) map[string]string {
	tb.Helper()
	items, err := gateload.ReadTable(context.Background(), e.AWS.DynamoDB, table)
	if err != nil {
		tb.Fatalf("read table %s: %v", table, err)
	}
	return items
}

// ReadDataset reads a dataset's table in one store.
func (e *Env) ReadDataset(tb testing.TB, env, store, dataset string) map[string]string {
	tb.Helper()
	return e.ReadTable(tb, e.reg.TableName(env, store, dataset))
}

// TableExists reports whether a DynamoDB table exists.
func (e *Env) TableExists(tb testing.TB, table string) bool {
	tb.Helper()
	_, err := e.AWS.DynamoDB.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var nf *dbtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		tb.Fatalf("describe table %s: %v", table, err)
	}
	return true
}

// Environment reads an environment record.
func (e *Env) Environment(tb testing.TB, env string) *registry.Environment {
	tb.Helper()
	rec, err := e.reg.GetEnvironment(context.Background(), env)
	if err != nil {
		tb.Fatalf("read environment %s: %v", env, err)
	}
	return rec
}

// Dataset reads a dataset record.
func (e *Env) Dataset(tb testing.TB, env, dataset string) *registry.Dataset {
	tb.Helper()
	d, err := e.reg.GetDataset(context.Background(), env, dataset)
	if err != nil {
		tb.Fatalf("read dataset %s/%s: %v", env, dataset, err)
	}
	return d
}

// RequireRunning fails the test unless every dataset of the environment is
// RUNNING and held by nobody.
func (e *Env) RequireRunning(tb testing.TB, env string) {
	tb.Helper()
	all, err := e.reg.ListDatasets(context.Background(), env)
	if err != nil {
		tb.Fatalf("list datasets of %s: %v", env, err)
	}
	if len(all) == 0 {
		tb.Fatalf("environment %s has no datasets", env)
	}
	for _, d := range all {
		if d.Status != registry.StatusRunning || d.HeldBy != "" {
			tb.Errorf("dataset %s/%s is %s held by %q, want RUNNING and not held", env, d.ID, d.Status, d.HeldBy)
		}
	}
}

// ReadBackup reads a backup's manifest (checked by backupstore.ReadManifest)
// and every item of its data objects: gzip'd DynamoDB JSON lines, as
// {"Item":{"key":{"S":...},"value":{"S":...}}}. A key found twice, or an
// object whose item count differs from the manifest's, fails the test.
func (e *Env) ReadBackup(tb testing.TB, manifestURL string) (*backupstore.Manifest, map[string]string) {
	tb.Helper()
	ctx := context.Background()
	bucket, key, ok := strings.Cut(strings.TrimPrefix(manifestURL, "s3://"), "/")
	if !strings.HasPrefix(manifestURL, "s3://") || !ok {
		tb.Fatalf("not an s3:// object URL: %q", manifestURL)
	}
	m, err := backupstore.ReadManifest(ctx, e.AWS.Buckets, bucket, key)
	if err != nil {
		tb.Fatalf("read manifest: %v", err)
	}
	items := map[string]string{}
	for _, o := range m.Objects {
		body := e.GetObject(tb, bucket, o.Key)
		n, err := decodeItems(body, strings.HasSuffix(o.Key, ".gz"), items)
		if err != nil {
			tb.Fatalf("decode s3://%s/%s: %v", bucket, o.Key, err)
		}
		if n != o.Items {
			tb.Fatalf("s3://%s/%s holds %d items, its manifest entry says %d", bucket, o.Key, n, o.Items)
		}
	}
	return m, items
}

// ReadBackupItems is ReadBackup's items.
func (e *Env) ReadBackupItems(tb testing.TB, manifestURL string) map[string]string {
	tb.Helper()
	_, items := e.ReadBackup(tb, manifestURL)
	return items
}

type dynamoJSONLine struct {
	Item map[string]struct {
		S *string `json:"S"`
	} `json:"Item"`
}

func decodeItems(body []byte, gz bool, into map[string]string) (int64, error) {
	var r io.Reader = bytes.NewReader(body)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0, err
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var n int64
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var l dynamoJSONLine
		if err := json.Unmarshal(line, &l); err != nil {
			return n, fmt.Errorf("line %d: %w", n+1, err)
		}
		k, v := l.Item[registry.DataKeyAttribute].S, l.Item["value"].S
		if k == nil || v == nil {
			return n, fmt.Errorf("line %d: no string key and value: %s", n+1, line)
		}
		if _, dup := into[*k]; dup {
			return n, fmt.Errorf("key %q appears twice in the backup", *k)
		}
		into[*k] = *v
		n++
	}
	return n, sc.Err()
}

// GetObject reads a whole S3 object.
func (e *Env) GetObject(tb testing.TB, bucket, key string) []byte {
	tb.Helper()
	out, err := e.AWS.Buckets.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		tb.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		tb.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return body
}

// PutObject writes an S3 object.
func (e *Env) PutObject(tb testing.TB, bucket, key string, body []byte) {
	tb.Helper()
	_, err := e.AWS.Buckets.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		tb.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// DeleteObject removes an S3 object.
func (e *Env) DeleteObject(tb testing.TB, bucket, key string) {
	tb.Helper()
	_, err := e.AWS.Buckets.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		tb.Fatalf("delete s3://%s/%s: %v", bucket, key, err)
	}
}

// ActivityTypes lists the activities a workflow scheduled, in order, from
// its history.
func (e *Env) ActivityTypes(tb testing.TB, workflowID string) []string {
	tb.Helper()
	it := e.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []string
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			tb.Fatalf("history of %s: %v", workflowID, err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			out = append(out, a.GetActivityType().GetName())
		}
	}
	return out
}

// SortedKeys returns a map's keys in order.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// DiffItems describes how got differs from want ("" when equal): counts of
// missing, unexpected and changed keys, with a few examples of each.
func DiffItems(want, got map[string]string) string {
	var missing, extra, changed []string
	for _, k := range SortedKeys(want) {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case g != want[k]:
			changed = append(changed, fmt.Sprintf("%s=%q (want %q)", k, g, want[k]))
		}
	}
	for _, k := range SortedKeys(got) {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra)+len(changed) == 0 {
		return ""
	}
	sample := func(s []string) string {
		if len(s) > 5 {
			return strings.Join(s[:5], ", ") + ", ..."
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("want %d items, got %d: %d missing [%s], %d unexpected [%s], %d changed [%s]",
		len(want), len(got), len(missing), sample(missing), len(extra), sample(extra), len(changed), sample(changed))
}

// Merge returns a new map holding a's items overwritten by b's.
func Merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// UseForCLI points the process's AWS settings at the Env's moto (static
// test credentials, the given region), as a user's shell would for the
// lifeboat CLI, for the rest of the test. Tests calling it cannot run in
// parallel.
func (e *Env) UseForCLI(tb testing.TB, region string) {
	tb.Helper()
	tb.Setenv("AWS_ENDPOINT_URL", e.MotoURL)
	tb.Setenv("AWS_REGION", region)
	tb.Setenv("AWS_ACCESS_KEY_ID", "test")
	tb.Setenv("AWS_SECRET_ACCESS_KEY", "test")
}
