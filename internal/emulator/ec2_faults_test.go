package emulator

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// A new volume or snapshot is NotFound by id (CreateTags, Describe*) for a
// while, as AWS is eventually consistent; a filtered describe lists it. A
// snapshot is pending, then completed. The 21st concurrent copy to a
// region is refused.
func TestEC2EventualConsistency(t *testing.T) {
	m := emu(t)
	src, dst := "eu-west-3", "ap-south-2" // regions no other test uses
	api := m.AWS.EC2(src)
	vol, err := api.CreateVolume(ctxT(t), &ec2.CreateVolumeInput{AvailabilityZone: aws.String(src + "a"), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.DescribeVolumes(ctxT(t), &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(vol.VolumeId)}})
	mustCode(t, err, "InvalidVolume.NotFound")
	snap, err := api.CreateSnapshot(ctxT(t), &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	id := aws.ToString(snap.SnapshotId)
	if snap.State != ec2types.SnapshotStatePending || aws.ToString(snap.Progress) == "100%" {
		t.Fatalf("new snapshot: %s %s, want pending below 100%%", snap.State, aws.ToString(snap.Progress))
	}
	tag := &ec2.CreateTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}
	_, err = api.CreateTags(ctxT(t), tag)
	mustCode(t, err, "InvalidSnapshot.NotFound")
	_, err = api.DescribeSnapshots(ctxT(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	mustCode(t, err, "InvalidSnapshot.NotFound")
	listed, err := api.DescribeSnapshots(ctxT(t), &ec2.DescribeSnapshotsInput{Filters: []ec2types.Filter{{Name: aws.String("volume-id"), Values: []string{aws.ToString(vol.VolumeId)}}}})
	if err != nil || len(listed.Snapshots) != 1 || listed.Snapshots[0].State != ec2types.SnapshotStatePending {
		t.Fatalf("filtered describe: %+v %v", listed, err)
	}

	// 20 copies in flight to dst; the 21st is refused.
	dstAPI := m.AWS.EC2(dst)
	for i := 1; i <= 21; i++ {
		_, err := dstAPI.CopySnapshot(ctxT(t), &ec2.CopySnapshotInput{SourceRegion: aws.String(src), SourceSnapshotId: aws.String(id)})
		if i <= 20 && err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		if i == 21 {
			mustCode(t, err, "ResourceLimitExceeded")
		}
	}

	copied := time.Now()
	time.Sleep(time.Until(created.Add(time.Duration(sharedOpts.EC2SettleSeconds*float64(time.Second)) + 100*time.Millisecond)))
	if _, err := api.CreateTags(ctxT(t), tag); err != nil {
		t.Fatalf("CreateTags after the settle window: %v", err)
	}
	time.Sleep(time.Until(created.Add(time.Duration(sharedOpts.SnapshotPendingSeconds*float64(time.Second)) + 100*time.Millisecond)))
	out, err := api.DescribeSnapshots(ctxT(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	if err != nil || out.Snapshots[0].State != ec2types.SnapshotStateCompleted || aws.ToString(out.Snapshots[0].Progress) != "100%" {
		t.Fatalf("snapshot after the pending time: %+v %v", out, err)
	}
	// The copies complete too: copying works again.
	time.Sleep(time.Until(copied.Add(time.Duration(sharedOpts.SnapshotPendingSeconds*float64(time.Second)) + 100*time.Millisecond)))
	if _, err := dstAPI.CopySnapshot(ctxT(t), &ec2.CopySnapshotInput{SourceRegion: aws.String(src), SourceSnapshotId: aws.String(id)}); err != nil {
		t.Fatalf("copy after the others completed: %v", err)
	}
}

// With fault-rate 1 every AWS request fails, in each service's dialect,
// and the Go SDK reads the right error code. A "lost" write is applied.
// The request log and the config endpoint say what happened.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulator: skipped with -short")
	}
	t.Parallel()
	m := testenv.StartEmulator(t, testenv.EmulatorOptions{Profile: "fast", FaultSeed: 7})
	ctx := ctxT(t)
	cfg := m.AWS.Config.Copy()
	cfg.Retryer = onlyClosedConnRetryer // see each fault, not the SDK's retries
	db := dynamodb.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	ec := ec2.NewFromConfig(cfg)
	table, bucket := name(t, "faults"), name(t, "bkt")
	createTable(t, m.AWS.DynamoDB, table)
	createBucket(t, m.AWS.S3, bucket)

	item := func(k string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k}}
	}
	putItem := func(k string) error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item(k)})
		return err
	}
	describeTable := func() error {
		_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		return err
	}
	putObject := func() error {
		_, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))})
		return err
	}
	describeVolumes := func() error {
		_, err := ec.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
		return err
	}
	for _, c := range []struct {
		kind  string
		calls map[string]func() error
		codes map[string]string
	}{
		{"throttle", map[string]func() error{"PutItem": func() error { return putItem("t") }, "DescribeTable": describeTable, "PutObject": putObject, "DescribeVolumes": describeVolumes},
			map[string]string{"PutItem": "ProvisionedThroughputExceededException", "DescribeTable": "ThrottlingException", "PutObject": "SlowDown", "DescribeVolumes": "RequestLimitExceeded"}},
		{"error", map[string]func() error{"PutItem": func() error { return putItem("e") }, "PutObject": putObject, "DescribeVolumes": describeVolumes},
			map[string]string{"PutItem": "InternalServerError", "PutObject": "InternalError", "DescribeVolumes": "InternalError"}},
		{"lost", map[string]func() error{"PutItem": func() error { return putItem("lost") }, "PutObject": putObject, "DescribeVolumes": describeVolumes},
			map[string]string{"PutItem": "InternalServerError", "PutObject": "InternalError", "DescribeVolumes": "InternalError"}},
	} {
		if err := m.SetFaultRate(ctx, 1, c.kind); err != nil {
			t.Fatal(err)
		}
		for call, f := range c.calls {
			mustCode(t, f(), c.codes[call])
		}
	}
	got, err := m.Config(ctx, testenv.EmulatorConfig{FaultRate: new(0.0)})
	if err != nil || *got.FaultRate != 0 || got.Profile != "fast" || *got.FaultSeed != 7 {
		t.Fatalf("config: %+v %v", got, err)
	}
	// The lost write was applied; the failed ones were not.
	for k, want := range map[string]bool{"lost": true, "e": false, "t": false} {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: item(k), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if (out.Item != nil) != want {
			t.Errorf("item %q present %v, want %v", k, out.Item != nil, want)
		}
	}
	log, err := m.Requests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	faults := map[string]int{}
	for _, r := range log {
		if r.Fault != "" {
			faults[r.Service+"/"+r.Fault]++
			if r.Status < 400 {
				t.Errorf("fault logged with status %d: %+v", r.Status, r)
			}
		}
	}
	for _, k := range []string{"dynamodb/throttle", "s3/throttle", "ec2/throttle", "dynamodb/error", "dynamodb/lost", "s3/lost", "ec2/lost"} {
		if faults[k] == 0 {
			t.Errorf("no %s in the request log: %v", k, faults)
		}
	}
	last := log[len(log)-1]
	if last.Service != "dynamodb" || last.Action != "GetItem" || last.Resource != table || last.Region != "us-east-1" || last.Status != 200 || last.Seq != int64(len(log)) {
		t.Errorf("last logged request: %+v", last)
	}
	if err := m.ResetRequests(ctx); err != nil {
		t.Fatal(err)
	}
	if log, err := m.Requests(ctx); err != nil || len(log) != 0 {
		t.Fatalf("after reset: %d entries, %v", len(log), err)
	}
	// A bad setting is refused, and says why.
	if _, err := m.Config(ctx, testenv.EmulatorConfig{FaultKinds: []string{"meteor"}}); err == nil || !strings.Contains(err.Error(), "meteor") {
		t.Fatalf("unknown fault kind: %v", err)
	}
}

// The fast profile: jobs complete at once and snapshots are usable at once,
// but exports are still point-in-time, in AWS's layout, and tokens hold.
func TestFastProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulator: skipped with -short")
	}
	t.Parallel()
	m := testenv.StartEmulator(t, testenv.EmulatorOptions{Profile: "fast"})
	db, s3c := m.AWS.DynamoDB, m.AWS.S3
	table, bucket := name(t, "fast"), name(t, "bkt")
	arn := createTable(t, db, table)
	createBucket(t, s3c, bucket)
	enablePITR(t, db, table) // no unavailable window: first try
	put(t, db, table, "a", "1")
	at := nextSecond()
	put(t, db, table, "a", "2")
	out, err := db.ExportTableToPointInTime(ctxT(t), &dynamodb.ExportTableToPointInTimeInput{TableArn: aws.String(arn),
		S3Bucket: aws.String(bucket), S3Prefix: aws.String("f"), ExportTime: aws.Time(at), ClientToken: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	if out.ExportDescription.ExportStatus != types.ExportStatusCompleted {
		t.Fatalf("fast export: %s, want COMPLETED at once", out.ExportDescription.ExportStatus)
	}
	if items, _ := readExport(t, s3c, out.ExportDescription); items["a"] != "1" || len(items) != 1 {
		t.Fatalf("fast export at %s: %v", at, items)
	}
	again, err := db.ExportTableToPointInTime(ctxT(t), &dynamodb.ExportTableToPointInTimeInput{TableArn: aws.String(arn),
		S3Bucket: aws.String(bucket), S3Prefix: aws.String("f"), ExportTime: aws.Time(at), ClientToken: aws.String("t")})
	if err != nil || aws.ToString(again.ExportDescription.ExportArn) != aws.ToString(out.ExportDescription.ExportArn) {
		t.Fatalf("token replay: %v", err)
	}
	api := m.AWS.EC2("us-east-1")
	vol, err := api.CreateVolume(ctxT(t), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := api.CreateSnapshot(ctxT(t), &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil || snap.State != ec2types.SnapshotStateCompleted {
		t.Fatalf("fast snapshot: %+v %v", snap, err)
	}
	if _, err := api.DescribeSnapshots(ctxT(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(snap.SnapshotId)}}); err != nil {
		t.Fatalf("describe by id at once: %v", err)
	}
}

// onlyClosedConnRetryer retries nothing but a read on a connection Go's
// transport closed under it (aws-sdk-go-v2#2737: a client-side race the
// SDK's default retryer retries since v1.32.8; it surfaced here once as
// "failed to copy error response body ... use of closed network connection").
// Every injected fault still reaches the test as its own error.
func onlyClosedConnRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 10 * time.Millisecond, nil })
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if errors.Is(err, net.ErrClosed) {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
	})
}
