package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// fakeEC2 is one region of EC2 in memory: enough of DescribeSnapshots
// (tag, tag-key, snapshot-id and status filters), CreateSnapshots,
// CreateTags, CopySnapshot and DeleteSnapshot for the activities' logic.
type fakeEC2 struct {
	EC2API // unimplemented calls panic
	mu     sync.Mutex
	region string
	world  map[string]*fakeEC2
	snaps  map[string]*types.Snapshot
	next   int
	calls  map[string]int
	// fail makes a call fail, by operation name.
	fail map[string]error
	// instances maps instance ids to their volumes by device.
	instances map[string]map[string]string
}

func newFakeWorld(regions ...string) map[string]*fakeEC2 {
	w := map[string]*fakeEC2{}
	for _, r := range regions {
		w[r] = &fakeEC2{region: r, world: w, snaps: map[string]*types.Snapshot{}, calls: map[string]int{}, fail: map[string]error{}, instances: map[string]map[string]string{}}
	}
	return w
}

func fakeEBS(w map[string]*fakeEC2) *EBS {
	return &EBS{EC2: func(r string) EC2API { return w[r] }, PollInterval: time.Millisecond,
		Backoff: time.Millisecond, RetryFor: 300 * time.Millisecond, Settle: 20 * time.Millisecond}
}

func (f *fakeEC2) call(op string) error {
	f.calls[op]++
	return f.fail[op]
}

func (f *fakeEC2) add(tags map[string]string, state types.SnapshotState) string {
	f.next++
	id := fmt.Sprintf("snap-%s-%03d", f.region, f.next)
	f.snaps[id] = &types.Snapshot{SnapshotId: aws.String(id), State: state, Tags: ec2Tags(tags), StartTime: aws.Time(time.Now()), VolumeId: aws.String("vol-x")}
	return id
}

func (f *fakeEC2) tags(id string) map[string]string { return TagMap(f.snaps[id].Tags) }

func fakeMatches(s *types.Snapshot, filters []types.Filter) bool {
	t := TagMap(s.Tags)
	for _, fl := range filters {
		name := aws.ToString(fl.Name)
		var v string
		var ok bool
		switch {
		case name == "tag-key":
			for _, k := range fl.Values {
				if _, has := t[k]; has {
					ok = true
				}
			}
			if !ok {
				return false
			}
			continue
		case strings.HasPrefix(name, "tag:"):
			v, ok = t[strings.TrimPrefix(name, "tag:")]
		case name == "snapshot-id":
			v, ok = aws.ToString(s.SnapshotId), true
		case name == "status":
			v, ok = string(s.State), true
		default:
			panic("filter " + name)
		}
		if !ok || !fakeContains(fl.Values, v) {
			return false
		}
	}
	return true
}

func fakeContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (f *fakeEC2) DescribeSnapshots(_ context.Context, in *ec2.DescribeSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DescribeSnapshots"); err != nil {
		return nil, err
	}
	out := &ec2.DescribeSnapshotsOutput{}
	ids := make([]string, 0, len(f.snaps))
	for id := range f.snaps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if fakeMatches(f.snaps[id], in.Filters) {
			out.Snapshots = append(out.Snapshots, *f.snaps[id])
		}
	}
	return out, nil
}

func (f *fakeEC2) CreateSnapshots(_ context.Context, in *ec2.CreateSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("CreateSnapshots"); err != nil {
		return nil, err
	}
	vols := f.instances[aws.ToString(in.InstanceSpecification.InstanceId)]
	devs := make([]string, 0, len(vols))
	for d := range vols {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	out := &ec2.CreateSnapshotsOutput{}
	for _, d := range devs {
		id := f.add(TagMap(in.TagSpecifications[0].Tags), types.SnapshotStatePending)
		f.snaps[id].VolumeId = aws.String(vols[d])
		s := f.snaps[id]
		out.Snapshots = append(out.Snapshots, types.SnapshotInfo{SnapshotId: s.SnapshotId, VolumeId: s.VolumeId, StartTime: s.StartTime, Tags: s.Tags})
	}
	return out, nil
}

func (f *fakeEC2) CreateTags(_ context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("CreateTags"); err != nil {
		return nil, err
	}
	for _, id := range in.Resources {
		t := f.tags(id)
		for k, v := range TagMap(in.Tags) {
			t[k] = v
		}
		f.snaps[id].Tags = ec2Tags(t)
	}
	return &ec2.CreateTagsOutput{}, nil
}

func (f *fakeEC2) CopySnapshot(_ context.Context, in *ec2.CopySnapshotInput, _ ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("CopySnapshot"); err != nil {
		return nil, err
	}
	id := f.add(TagMap(in.TagSpecifications[0].Tags), types.SnapshotStatePending)
	return &ec2.CopySnapshotOutput{SnapshotId: aws.String(id)}, nil
}

func (f *fakeEC2) DeleteSnapshot(_ context.Context, in *ec2.DeleteSnapshotInput, _ ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DeleteSnapshot"); err != nil {
		return nil, err
	}
	if _, ok := f.snaps[aws.ToString(in.SnapshotId)]; !ok {
		return nil, ec2APIErr("InvalidSnapshot.NotFound")
	}
	delete(f.snaps, aws.ToString(in.SnapshotId))
	return &ec2.DeleteSnapshotOutput{}, nil
}

func ec2APIErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " from the test"}
}

var ebsTestDay = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func TestClassifyEC2(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code      string
		retryable bool
	}{
		{"RequestLimitExceeded", true},
		{"ThrottlingException", true},
		{"InternalError", true},
		{"ResourceLimitExceeded", true},
		{"InvalidParameterValue", false},
		{"InvalidInstanceID.NotFound", false},
		{"UnauthorizedOperation", false},
		{"MissingParameter", false},
	} {
		err := classifyEC2(ec2APIErr(c.code), "describe snapshots")
		var app *temporal.ApplicationError
		nonRetryable := errors.As(err, &app) && app.NonRetryable()
		if nonRetryable == c.retryable {
			t.Errorf("%s: retryable=%v, want %v (%v)", c.code, !nonRetryable, c.retryable, err)
		}
		if !strings.Contains(err.Error(), "describe snapshots") {
			t.Errorf("%s: error %q lacks context", c.code, err)
		}
	}
}

func TestCreateInstanceSnapshotsIsIdempotent(t *testing.T) {
	t.Parallel()
	w := newFakeWorld("us-east-1")
	r := w["us-east-1"]
	r.instances["i-1"] = map[string]string{"/dev/sda1": "vol-root", "/dev/sdf": "vol-data"}
	a := fakeEBS(w)
	inst := BackupInstance{InstanceID: "i-1", Name: "web", RetentionDays: 3, CopyDest: []string{"us-west-2"},
		Volumes: []AttachedVolume{{VolumeID: "vol-root", Device: "/dev/sda1"}, {VolumeID: "vol-data", Device: "/dev/sdf"}}}
	// An older group: the new one is generation 5.
	r.add(map[string]string{ebstags.ManagedBy: "Lifeboat", ebstags.SourceInstanceID: "i-1", ebstags.GroupID: "lbg-old", ebstags.Generation: "4"}, types.SnapshotStateCompleted)

	in := CreateInstanceSnapshotsInput{Region: "us-east-1", Instance: inst, Date: ebsTestDay.Add(5 * time.Hour)}
	res, err := a.CreateInstanceSnapshots(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Generation != 5 || res.GroupID != "lbg-i-1-20261122" || res.DeleteOn != "2026-11-25" || len(res.Snapshots) != 2 {
		t.Fatalf("first call: %+v", res)
	}
	for _, s := range res.Snapshots {
		tags := r.tags(s.SnapshotID)
		if tags[ebstags.Description] != fmt.Sprintf("web (i-1) - %s (%s) - us-east-1", s.VolumeID, s.Device) ||
			tags[ebstags.GroupSize] != "2" || tags[ebstags.CopyDest] != "us-west-2" || tags[ebstags.Generation] != "5" {
			t.Errorf("snapshot %s tags %v", s.SnapshotID, tags)
		}
	}
	// A retry, or a second run the same day, finds the group.
	res2, err := a.CreateInstanceSnapshots(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Created || !res2.Existing || res2.Generation != 5 || len(res2.Snapshots) != 2 || r.calls["CreateSnapshots"] != 1 {
		t.Fatalf("second call: %+v, CreateSnapshots called %d times", res2, r.calls["CreateSnapshots"])
	}
	// A group whose member tags were lost (crash after CreateSnapshots) is finished.
	id := res.Snapshots[0].SnapshotID
	tags := r.tags(id)
	delete(tags, ebstags.Device)
	delete(tags, ebstags.Description)
	r.snaps[id].Tags = ec2Tags(tags)
	if _, err := a.CreateInstanceSnapshots(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if r.tags(id)[ebstags.Device] != res.Snapshots[0].Device || r.calls["CreateSnapshots"] != 1 {
		t.Errorf("tags not finished: %v", r.tags(id))
	}
}

func TestCreateInstanceSnapshotsThrottled(t *testing.T) {
	t.Parallel()
	w := newFakeWorld("us-east-1")
	w["us-east-1"].fail["CreateSnapshots"] = ec2APIErr("RequestLimitExceeded")
	_, err := fakeEBS(w).CreateInstanceSnapshots(context.Background(), CreateInstanceSnapshotsInput{
		Region: "us-east-1", Instance: BackupInstance{InstanceID: "i-1", RetentionDays: 7}, Date: ebsTestDay,
	})
	var app *temporal.ApplicationError
	if err == nil || (errors.As(err, &app) && app.NonRetryable()) {
		t.Fatalf("throttling must come back retryable, got %v", err)
	}
}

func TestCopySnapshotsToRegion(t *testing.T) {
	t.Parallel()
	w := newFakeWorld("us-east-1", "us-west-2")
	src, dst := w["us-east-1"], w["us-west-2"]
	primary := map[string]string{ebstags.Type: "Automated", ebstags.DeleteOn: "2026-11-29", ebstags.KeepForever: "", ebstags.Description: "web (i-1) - vol-1 (/dev/sdf) - us-east-1",
		ebstags.GroupID: "g", ebstags.CopyDest: "us-west-2", "aws:reserved": "x"}
	a1 := src.add(primary, types.SnapshotStateCompleted)
	a2 := src.add(primary, types.SnapshotStateCompleted)
	copyOfA1 := src.add(map[string]string{ebstags.Type: "Automated", ebstags.SourceSnapshotID: "snap-elsewhere"}, types.SnapshotStateCompleted)
	dst.add(map[string]string{ebstags.SourceSnapshotID: a2, ebstags.SourceRegion: "us-east-1"}, types.SnapshotStatePending) // copied by an earlier attempt
	a := fakeEBS(w)

	res, err := a.CopySnapshotsToRegion(context.Background(), CopySnapshotsToRegionInput{SourceRegion: "us-east-1", Destination: "us-west-2", SnapshotIDs: []string{a1, a2, copyOfA1, "snap-gone"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Started) != 1 || res.Started[0].SourceSnapshotID != a1 || len(res.Existing) != 1 || res.Existing[0].SourceSnapshotID != a2 || len(res.Failed) != 2 {
		t.Fatalf("result %+v", res)
	}
	want := map[string]string{ebstags.Type: "Automated", ebstags.DeleteOn: "2026-11-29", ebstags.KeepForever: "", ebstags.Description: primary[ebstags.Description],
		ebstags.GroupID: "g", ebstags.CopyDest: "us-west-2", ebstags.SourceSnapshotID: a1, ebstags.SourceRegion: "us-east-1"}
	got := dst.tags(res.Started[0].CopySnapshotID)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("copy tags %v, want %v", got, want)
	}
	// The destination's copy limit defers the rest of the batch.
	dst.fail["CopySnapshot"] = ec2APIErr("ResourceLimitExceeded")
	a3 := src.add(primary, types.SnapshotStateCompleted)
	res, err = a.CopySnapshotsToRegion(context.Background(), CopySnapshotsToRegionInput{SourceRegion: "us-east-1", Destination: "us-west-2", SnapshotIDs: []string{a1, a3}})
	if err != nil || len(res.Existing) != 1 || len(res.Deferred) != 1 || res.Deferred[0] != a3 {
		t.Fatalf("at the limit: %+v %v", res, err)
	}
}

func TestExpireSnapshotsInDestinationKeepsCopiesOfKeptPrimaries(t *testing.T) {
	t.Parallel()
	w := newFakeWorld("us-east-1", "us-west-2")
	src, dst := w["us-east-1"], w["us-west-2"]
	kept := src.add(map[string]string{ebstags.Type: "Automated", ebstags.DeleteOn: "2026-11-01", ebstags.KeepForever: "Yes"}, types.SnapshotStateCompleted)
	gone := src.add(map[string]string{ebstags.Type: "Automated", ebstags.DeleteOn: "2026-11-01"}, types.SnapshotStateCompleted)
	copyOfKept := dst.add(map[string]string{ebstags.Type: "Automated", ebstags.DeleteOn: "2026-11-01", ebstags.SourceSnapshotID: kept, ebstags.SourceRegion: "us-east-1"}, types.SnapshotStateCompleted)
	copyOfGone := dst.add(map[string]string{ebstags.Type: "Automated", ebstags.DeleteOn: "2026-11-01", ebstags.SourceSnapshotID: gone, ebstags.SourceRegion: "us-east-1"}, types.SnapshotStateCompleted)
	notDue := dst.add(map[string]string{ebstags.Type: "Automated", ebstags.DeleteOn: "2026-12-01", ebstags.SourceSnapshotID: gone, ebstags.SourceRegion: "us-east-1"}, types.SnapshotStateCompleted)
	a := fakeEBS(w)

	dry, err := a.ExpireSnapshots(context.Background(), ExpireSnapshotsInput{Region: "us-west-2", Owner: "us-east-1", Today: ebsTestDay, DryRun: true})
	if err != nil || dry.DeletedCount != 1 || dry.Deleted[0].SnapshotID != copyOfGone || dst.calls["DeleteSnapshot"] != 0 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	res, err := a.ExpireSnapshots(context.Background(), ExpireSnapshotsInput{Region: "us-west-2", Owner: "us-east-1", Today: ebsTestDay})
	if err != nil || res.DeletedCount != 1 || res.Kept[ebstags.KeepForeverSet] != 1 || res.Kept[ebstags.KeepNotDue] != 1 {
		t.Fatalf("expire: %+v %v", res, err)
	}
	if _, ok := dst.snaps[copyOfKept]; !ok {
		t.Error("the copy of a KeepForever primary was deleted")
	}
	if _, ok := dst.snaps[notDue]; !ok {
		t.Error("a snapshot not due was deleted")
	}
	// Carrying KeepForever tags the copy.
	carried, err := a.CarryKeepForever(context.Background(), CarryKeepForeverInput{SourceRegion: "us-east-1", Destination: "us-west-2"})
	if err != nil || len(carried.Carried) != 1 || dst.tags(copyOfKept)[ebstags.KeepForever] != "Yes" {
		t.Fatalf("carry: %+v %v", carried, err)
	}
}
