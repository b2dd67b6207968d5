package ebs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// AWS as it behaves: new ids unknown for a while (eventual consistency),
// responses lost after EC2 acted, throttling. The fake EC2 sends calls the
// way the SDK would with the options given (8 tries unless a call says
// otherwise), so a create left to the SDK's retries shows up as a duplicate.

func webInstance() BackupInstance {
	return BackupInstance{InstanceID: "i-1", Name: "web", RetentionDays: 3, CopyDest: []string{"us-west-2"},
		Volumes: []AttachedVolume{{VolumeID: "vol-root", Device: "/dev/sda1"}, {VolumeID: "vol-data", Device: "/dev/sdf"}}}
}

func newCreateWorld() (map[string]*fakeEC2, *fakeEC2, CreateInstanceSnapshotsInput) {
	w := newFakeWorld("us-east-1", "us-west-2")
	r := w["us-east-1"]
	r.instances["i-1"] = map[string]string{"/dev/sda1": "vol-root", "/dev/sdf": "vol-data"}
	return w, r, CreateInstanceSnapshotsInput{Region: "us-east-1", Instance: webInstance(), Date: ebsTestDay}
}

func nonRetryable(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable()
}

func requireFullyTagged(t *testing.T, r *fakeEC2, snaps []GroupSnapshot) {
	t.Helper()
	for _, s := range snaps {
		tags := r.tags(s.SnapshotID)
		for _, k := range memberTags {
			if tags[k] == "" {
				t.Errorf("snapshot %s lacks %s: %v", s.SnapshotID, k, tags)
			}
		}
	}
}

// A just-created snapshot answers InvalidSnapshot.NotFound to CreateTags
// for a while: the group still gets every tag, without a second group.
func TestCreateInstanceSnapshotsNewSnapshotsNotFoundYet(t *testing.T) {
	t.Parallel()
	w, r, in := newCreateWorld()
	r.youngFor = 3
	res, err := fakeEBS(w).CreateInstanceSnapshots(context.Background(), in)
	if err != nil {
		t.Fatalf("NotFound of a new snapshot must be waited out, got %v (non-retryable %v)", err, nonRetryable(err))
	}
	if !res.Created || len(res.Snapshots) != 2 || r.calls["CreateSnapshots"] != 1 {
		t.Fatalf("result %+v, CreateSnapshots %d", res, r.calls["CreateSnapshots"])
	}
	requireFullyTagged(t, r, res.Snapshots)
	if r.calls["CreateTags"] < 2+3 {
		t.Errorf("CreateTags called %d times: the NotFound answers were not retried", r.calls["CreateTags"])
	}
}

// A new id that stays unknown past RetryFor fails retryably (the next
// attempt finds the group and finishes its tags), never as EC2Rejected.
func TestCreateInstanceSnapshotsNotFoundForTooLongIsRetryable(t *testing.T) {
	t.Parallel()
	w, r, in := newCreateWorld()
	r.youngFor = 1 << 30
	a := fakeEBS(w)
	a.RetryFor = 20 * time.Millisecond
	_, err := a.CreateInstanceSnapshots(context.Background(), in)
	if err == nil || nonRetryable(err) || !errors.Is(err, errStillNotFound) {
		t.Fatalf("want a retryable still-not-found error, got %v", err)
	}
	r.youngFor = 0
	clear(r.young)
	res, err := a.CreateInstanceSnapshots(context.Background(), in)
	if err != nil || res.Created || !res.Existing || r.calls["CreateSnapshots"] != 1 {
		t.Fatalf("the retry must find and finish the group: %+v %v", res, err)
	}
	requireFullyTagged(t, r, res.Snapshots)
}

// CreateSnapshots acts, then its response is lost (500), and the new
// snapshots are not listed for a while: exactly one group.
func TestCreateInstanceSnapshotsLostResponseMakesOneGroup(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		lost, hide int
	}{
		{"lost once", 1, 0},
		{"lost once, not listed at once", 1, 3},
		{"lost twice", 2, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w, r, in := newCreateWorld()
			r.lost["CreateSnapshots"], r.hideFor = c.lost, c.hide
			res, err := fakeEBS(w).CreateInstanceSnapshots(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if n := r.groupSnapshots(res.GroupID); n != 2 {
				t.Fatalf("%d snapshots in group %s, want 2 (one group); CreateSnapshots sent %d times", n, res.GroupID, r.calls["CreateSnapshots"])
			}
			if !res.Created || res.Existing {
				t.Errorf("a group made by this activity counts as created: %+v", res)
			}
			requireFullyTagged(t, r, res.Snapshots)
		})
	}
}

// Throttling (and a 5xx before EC2 acted) is retried in the activity.
func TestCreateInstanceSnapshotsThrottledThenCreated(t *testing.T) {
	t.Parallel()
	w, r, in := newCreateWorld()
	r.failFirst["CreateSnapshots"] = fakeFault{n: 2, err: ec2APIErr("RequestLimitExceeded")}
	res, err := fakeEBS(w).CreateInstanceSnapshots(context.Background(), in)
	if err != nil || !res.Created || r.groupSnapshots(res.GroupID) != 2 || r.calls["CreateSnapshots"] != 3 {
		t.Fatalf("%+v %v, CreateSnapshots %d", res, err, r.calls["CreateSnapshots"])
	}
	w, r, in = newCreateWorld()
	r.failFirst["CreateSnapshots"] = fakeFault{n: 1, err: ec2APIErr("InternalError")}
	res, err = fakeEBS(w).CreateInstanceSnapshots(context.Background(), in)
	if err != nil || !res.Created || r.groupSnapshots(res.GroupID) != 2 {
		t.Fatalf("after a 500 that did nothing: %+v %v", res, err)
	}
}

// CopySnapshot acts, then its response is lost, and the copy is not listed
// for a while: exactly one copy per source.
func TestCopySnapshotsToRegionLostResponseMakesOneCopy(t *testing.T) {
	t.Parallel()
	w := newFakeWorld("us-east-1", "us-west-2")
	src, dst := w["us-east-1"], w["us-west-2"]
	tags := map[string]string{ebstags.Type: "Automated", ebstags.DeleteOn: "2026-11-29", ebstags.CopyDest: "us-west-2", ebstags.ManagedBy: ebstags.ManagedByLifeboat, ebstags.GroupID: "g"}
	a1 := src.add(tags, types.SnapshotStateCompleted)
	a2 := src.add(tags, types.SnapshotStateCompleted)
	dst.lost["CopySnapshot"], dst.hideFor = 2, 2
	res, err := fakeEBS(w).CopySnapshotsToRegion(context.Background(), CopySnapshotsToRegionInput{
		SourceRegion: "us-east-1", Destination: "us-west-2", SnapshotIDs: []string{a1, a2}, Planned: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	copies := map[string]int{}
	for _, s := range dst.snaps {
		copies[TagMap(s.Tags)[ebstags.SourceSnapshotID]]++
	}
	if copies[a1] != 1 || copies[a2] != 1 {
		t.Fatalf("copies per source %v, want one each (CopySnapshot sent %d times)", copies, dst.calls["CopySnapshot"])
	}
	if len(res.Started) != 2 || len(res.Failed) != 0 || len(res.Deferred) != 0 {
		t.Fatalf("result %+v", res)
	}
}

// Throttling of CopySnapshot is retried; the destination's copy limit
// defers the rest (the workflow waits for a slot); neither is a failure.
func TestCopySnapshotsToRegionThrottledAndAtTheLimit(t *testing.T) {
	t.Parallel()
	w := newFakeWorld("us-east-1", "us-west-2")
	src, dst := w["us-east-1"], w["us-west-2"]
	tags := map[string]string{ebstags.Type: "Automated", ebstags.CopyDest: "us-west-2", ebstags.ManagedBy: ebstags.ManagedByLifeboat}
	a1 := src.add(tags, types.SnapshotStateCompleted)
	a2 := src.add(tags, types.SnapshotStateCompleted)
	dst.failFirst["CopySnapshot"] = fakeFault{n: 3, err: ec2APIErr("RequestLimitExceeded")}
	a := fakeEBS(w)
	res, err := a.CopySnapshotsToRegion(context.Background(), CopySnapshotsToRegionInput{SourceRegion: "us-east-1", Destination: "us-west-2", SnapshotIDs: []string{a1}})
	if err != nil || len(res.Started) != 1 || dst.calls["CopySnapshot"] != 4 {
		t.Fatalf("throttled: %+v %v, CopySnapshot %d", res, err, dst.calls["CopySnapshot"])
	}
	dst.failFirst["CopySnapshot"] = fakeFault{n: 1, err: ec2APIErr("ResourceLimitExceeded")}
	res, err = a.CopySnapshotsToRegion(context.Background(), CopySnapshotsToRegionInput{SourceRegion: "us-east-1", Destination: "us-west-2", SnapshotIDs: []string{a2}})
	if err != nil || len(res.Deferred) != 1 || len(res.Failed) != 0 {
		t.Fatalf("at the limit: %+v %v", res, err)
	}
	// Throttled for longer than the retries last: deferred, not failed.
	dst.failFirst["CopySnapshot"] = fakeFault{n: 1 << 30, err: ec2APIErr("RequestLimitExceeded")}
	a.RetryFor = 10 * time.Millisecond
	res, err = a.CopySnapshotsToRegion(context.Background(), CopySnapshotsToRegionInput{SourceRegion: "us-east-1", Destination: "us-west-2", SnapshotIDs: []string{a2}})
	if err != nil || len(res.Deferred) != 1 || len(res.Failed) != 0 {
		t.Fatalf("throttled throughout: %+v %v", res, err)
	}
}

// A copy EC2 does not list for longer than a few polls is still waited for.
func TestWaitSnapshotCopiesNewCopyNotListedYet(t *testing.T) {
	t.Parallel()
	w := newFakeWorld("us-west-2")
	dst := w["us-west-2"]
	dst.hideFor = 6
	id := dst.add(map[string]string{ebstags.SourceSnapshotID: "snap-src"}, types.SnapshotStateCompleted)
	dst.born(id)
	res, err := fakeEBS(w).WaitSnapshotCopies(context.Background(), WaitSnapshotCopiesInput{Destination: "us-west-2", CopyIDs: []string{id}, MaxWaitSeconds: 60})
	if err != nil || len(res.Completed) != 1 || len(res.Errored) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

// The day's new snapshots not listed yet are waited for (Expect).
func TestWaitSnapshotsCompletedWaitsForSnapshotsNotListedYet(t *testing.T) {
	t.Parallel()
	w := newFakeWorld("us-east-1")
	r := w["us-east-1"]
	r.hideFor = 4
	for range 2 {
		id := r.add(map[string]string{ebstags.ManagedBy: ebstags.ManagedByLifeboat, ebstags.CreatedOn: "2026-11-22"}, types.SnapshotStateCompleted)
		r.born(id)
	}
	res, err := fakeEBS(w).WaitSnapshotsCompleted(context.Background(), WaitSnapshotsCompletedInput{Region: "us-east-1", CreatedOn: "2026-11-22", MaxWaitSeconds: 60, Expect: 2})
	if err != nil || res.Completed != 2 || res.TimedOut {
		t.Fatalf("%+v %v", res, err)
	}
}

func restoreWorld() (map[string]*fakeEC2, *fakeEC2, CreateRestoreVolumeInput) {
	w := newFakeWorld("us-east-1")
	r := w["us-east-1"]
	snap := r.add(map[string]string{ebstags.GroupID: "g", ebstags.Device: "/dev/sdf"}, types.SnapshotStateCompleted)
	return w, r, CreateRestoreVolumeInput{Region: "us-east-1", AvailabilityZone: "us-east-1a", SnapshotID: snap, Device: "/dev/sdf", GroupID: "g", RestoreID: "restore-1"}
}

// CreateVolume acts, then its response is lost and the SDK sends it again:
// one volume, by the deterministic client token; an activity retry that
// does not list the volume yet gets it by the token too. The new volume is
// attached though EC2 answers InvalidVolume.NotFound to AttachVolume at first.
func TestEBSRestoreVolumeLostResponseAndNewVolumeNotFound(t *testing.T) {
	t.Parallel()
	w, r, in := restoreWorld()
	r.lost["CreateVolume"], r.hideFor, r.youngFor = 1, 2, 3
	a := fakeEBS(w)
	v, err := a.CreateRestoreVolume(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.volumes) != 1 || !v.Created {
		t.Fatalf("%d volumes (CreateVolume sent %d times), result %+v: want one", len(r.volumes), r.calls["CreateVolume"], v)
	}
	r.hidden[v.VolumeID] = 1
	again, err := a.CreateRestoreVolume(context.Background(), in)
	if err != nil || again.VolumeID != v.VolumeID || len(r.volumes) != 1 {
		t.Fatalf("a retry before the volume is listed: %+v %v, %d volumes", again, err, len(r.volumes))
	}
	if _, err := a.AttachRestoreVolume(context.Background(), AttachRestoreVolumeInput{Region: "us-east-1", VolumeID: v.VolumeID, InstanceID: "i-target", Device: "/dev/sdf"}); err != nil {
		t.Fatalf("attach a new volume: %v", err)
	}
	if at := r.volumes[v.VolumeID].Attachments; len(at) != 1 || aws.ToString(at[0].Device) != "/dev/sdf" {
		t.Fatalf("attachments %+v", at)
	}
}

// A NotFound of an id the user chose stays a clear, permanent error.
func TestEBSNotFoundOfAGivenIDIsPermanent(t *testing.T) {
	t.Parallel()
	w, r, in := restoreWorld()
	in.SnapshotID = "snap-missing"
	_, err := fakeEBS(w).CreateRestoreVolume(context.Background(), in)
	if !nonRetryable(err) || r.calls["CreateVolume"] != 1 {
		t.Fatalf("want one call and a non-retryable error, got %v after %d calls", err, r.calls["CreateVolume"])
	}
	_, err = fakeEBS(w).PlanVolumeRestore(context.Background(), PlanVolumeRestoreInput{Region: "us-east-1", GroupID: "lbg-missing", TargetInstanceID: "i-1", AvailabilityZone: "us-east-1a"})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrInvalidInput || !app.NonRetryable() {
		t.Fatalf("restore of a missing group: %v", err)
	}
}
