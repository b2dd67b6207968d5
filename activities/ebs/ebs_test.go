package ebs

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

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
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

	// AWS as it behaves, not as moto does:
	// failFirst makes the next n calls of an operation fail with err
	// without acting (throttling, a 5xx before EC2 acted).
	failFirst map[string]fakeFault
	// lost makes the next n calls of an operation act, then answer 500: the
	// response was lost after EC2 acted.
	lost map[string]int
	// youngFor: a new snapshot or volume id answers NotFound to the next
	// youngFor calls that name it (CreateTags, AttachVolume); young counts down.
	youngFor int
	young    map[string]int
	// hideFor: a new snapshot or volume is not listed by the next hideFor
	// Describe calls; hidden counts down.
	hideFor int
	hidden  map[string]int
	volumes map[string]*types.Volume
	tokens  map[string]string // CreateVolume's client tokens -> volume
}

type fakeFault struct {
	n   int
	err error
}

func newFakeWorld(regions ...string) map[string]*fakeEC2 {
	w := map[string]*fakeEC2{}
	for _, r := range regions {
		w[r] = &fakeEC2{region: r, world: w, snaps: map[string]*types.Snapshot{}, calls: map[string]int{}, fail: map[string]error{}, instances: map[string]map[string]string{},
			failFirst: map[string]fakeFault{}, lost: map[string]int{}, young: map[string]int{}, hidden: map[string]int{}, volumes: map[string]*types.Volume{},
			tokens: map[string]string{}}
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

// sdkAttempts is how many times the SDK would send a call with these
// per-call options, on a client built as awsx builds it.
func sdkAttempts(optFns []func(*ec2.Options)) int {
	o := ec2.Options{RetryMaxAttempts: awsx.EC2RetryMaxAttempts}
	for _, fn := range optFns {
		fn(&o)
	}
	return max(o.RetryMaxAttempts, 1)
}

// sdkRetries reports whether the SDK's standard retryer retries an error code.
func sdkRetries(code string) bool {
	switch code {
	case "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "RequestLimitExceeded", "Throttling", "ThrottlingException":
		return true
	}
	return false
}

// do runs an operation as the SDK would send it: up to sdkAttempts times
// while it fails retryably, each try subject to fail, failFirst and lost.
// Caller holds the lock.
func (f *fakeEC2) do(op string, optFns []func(*ec2.Options), act func() error) error {
	var err error
	for range sdkAttempts(optFns) {
		if err = f.call(op); err == nil {
			if ff := f.failFirst[op]; ff.n > 0 {
				ff.n--
				f.failFirst[op] = ff
				err = ff.err
			} else if err = act(); err == nil && f.lost[op] > 0 {
				f.lost[op]--
				err = ec2APIErr("InternalError")
			}
		}
		if err == nil || !sdkRetries(ec2Code(err)) {
			return err
		}
	}
	return err
}

// born marks a new id: young and hidden for a while.
func (f *fakeEC2) born(id string) {
	f.young[id], f.hidden[id] = f.youngFor, f.hideFor
}

// tooYoung answers NotFound for an id EC2 does not know everywhere yet.
func (f *fakeEC2) tooYoung(id, code string) error {
	if f.young[id] > 0 {
		f.young[id]--
		return ec2APIErr(code)
	}
	return nil
}

// listed reports whether a Describe lists the id yet (counting down).
func (f *fakeEC2) listed(id string) bool {
	if f.hidden[id] > 0 {
		f.hidden[id]--
		return false
	}
	return true
}

// groupSnapshots counts the snapshots of a group in the region.
func (f *fakeEC2) groupSnapshots(groupID string) int {
	n := 0
	for _, s := range f.snaps {
		if TagMap(s.Tags)[ebstags.GroupID] == groupID {
			n++
		}
	}
	return n
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
		if f.listed(id) && fakeMatches(f.snaps[id], in.Filters) {
			out.Snapshots = append(out.Snapshots, *f.snaps[id])
		}
	}
	return out, nil
}

func (f *fakeEC2) CreateSnapshots(_ context.Context, in *ec2.CreateSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out *ec2.CreateSnapshotsOutput
	err := f.do("CreateSnapshots", optFns, func() error {
		vols := f.instances[aws.ToString(in.InstanceSpecification.InstanceId)]
		devs := make([]string, 0, len(vols))
		for d := range vols {
			devs = append(devs, d)
		}
		sort.Strings(devs)
		out = &ec2.CreateSnapshotsOutput{}
		for _, d := range devs {
			id := f.add(TagMap(in.TagSpecifications[0].Tags), types.SnapshotStatePending)
			f.snaps[id].VolumeId = aws.String(vols[d])
			f.born(id)
			s := f.snaps[id]
			out.Snapshots = append(out.Snapshots, types.SnapshotInfo{SnapshotId: s.SnapshotId, VolumeId: s.VolumeId, StartTime: s.StartTime, Tags: s.Tags})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (f *fakeEC2) CreateTags(_ context.Context, in *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.do("CreateTags", optFns, func() error {
		for _, id := range in.Resources {
			if err := f.tooYoung(id, "InvalidSnapshot.NotFound"); err != nil {
				return err
			}
			if f.snaps[id] == nil {
				return ec2APIErr("InvalidSnapshot.NotFound")
			}
		}
		for _, id := range in.Resources {
			t := f.tags(id)
			for k, v := range TagMap(in.Tags) {
				t[k] = v
			}
			f.snaps[id].Tags = ec2Tags(t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2.CreateTagsOutput{}, nil
}

func (f *fakeEC2) CopySnapshot(_ context.Context, in *ec2.CopySnapshotInput, optFns ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var id string
	err := f.do("CopySnapshot", optFns, func() error {
		id = f.add(TagMap(in.TagSpecifications[0].Tags), types.SnapshotStatePending)
		f.born(id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2.CopySnapshotOutput{SnapshotId: aws.String(id)}, nil
}

// CreateVolume honours ClientToken as AWS does: a second call with a token
// answers the volume the first made.
func (f *fakeEC2) CreateVolume(_ context.Context, in *ec2.CreateVolumeInput, optFns ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var id string
	err := f.do("CreateVolume", optFns, func() error {
		if f.snaps[aws.ToString(in.SnapshotId)] == nil {
			return ec2APIErr("InvalidSnapshot.NotFound")
		}
		tok := aws.ToString(in.ClientToken)
		if tok == "" {
			tok = fmt.Sprintf("sdk-random-%d", f.next) // the SDK fills in a random one
		}
		if v, ok := f.tokens[tok]; ok {
			id = v
			return nil
		}
		defer func() { f.tokens[tok] = id }()
		f.next++
		id = fmt.Sprintf("vol-%s-%03d", f.region, f.next)
		f.volumes[id] = &types.Volume{VolumeId: aws.String(id), SnapshotId: in.SnapshotId, AvailabilityZone: in.AvailabilityZone,
			State: types.VolumeStateAvailable, Tags: in.TagSpecifications[0].Tags}
		f.born(id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2.CreateVolumeOutput{VolumeId: aws.String(id)}, nil
}

func (f *fakeEC2) DescribeVolumes(_ context.Context, in *ec2.DescribeVolumesInput, _ ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DescribeVolumes"); err != nil {
		return nil, err
	}
	out := &ec2.DescribeVolumesOutput{}
	ids := make([]string, 0, len(f.volumes))
	for id := range f.volumes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		v := f.volumes[id]
		t := TagMap(v.Tags)
		ok := f.listed(id)
		for _, fl := range in.Filters {
			name := aws.ToString(fl.Name)
			switch {
			case name == "volume-id":
				ok = ok && fakeContains(fl.Values, id)
			case strings.HasPrefix(name, "tag:"):
				ok = ok && fakeContains(fl.Values, t[strings.TrimPrefix(name, "tag:")])
			default:
				panic("filter " + name)
			}
		}
		if ok {
			out.Volumes = append(out.Volumes, *v)
		}
	}
	return out, nil
}

func (f *fakeEC2) AttachVolume(_ context.Context, in *ec2.AttachVolumeInput, optFns ...func(*ec2.Options)) (*ec2.AttachVolumeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.do("AttachVolume", optFns, func() error {
		id := aws.ToString(in.VolumeId)
		if err := f.tooYoung(id, "InvalidVolume.NotFound"); err != nil {
			return err
		}
		v := f.volumes[id]
		if v == nil {
			return ec2APIErr("InvalidVolume.NotFound")
		}
		if len(v.Attachments) > 0 {
			return ec2APIErr("VolumeInUse")
		}
		v.State = types.VolumeStateInUse
		v.Attachments = []types.VolumeAttachment{{InstanceId: in.InstanceId, Device: in.Device, State: types.VolumeAttachmentStateAttached, VolumeId: in.VolumeId}}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2.AttachVolumeOutput{}, nil
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

func TestEBSClassifyEC2(t *testing.T) {
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
		ebstags.ManagedBy: ebstags.ManagedByLifeboat, ebstags.GroupID: "g", ebstags.CopyDest: "us-west-2", "aws:reserved": "x"}
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
		ebstags.ManagedBy: ebstags.ManagedByLifeboat, ebstags.GroupID: "g", ebstags.CopyDest: "us-west-2", ebstags.SourceSnapshotID: a1, ebstags.SourceRegion: "us-east-1"}
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
