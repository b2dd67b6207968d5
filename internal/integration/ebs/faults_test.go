package ebs

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// memberTags are the tags every snapshot of a group ends up with.
var memberTags = []string{
	"Type", "DeleteOn", "Managed-By", "Description", ebstags.GroupID, ebstags.Generation, ebstags.GroupSize,
	ebstags.SourceInstanceID, ebstags.SourceVolumeID, ebstags.Device, ebstags.CreatedOn, ebstags.CreatedAt,
}

// TestIntegrationSnapshotsUnderFaults runs a chain (create → wait → copy →
// expire) on the emulator's aws profile (new snapshot and volume ids
// NotFound by id for a while, snapshots and copies pending a while) with
// one AWS request in ten failing: throttled, a 500, or acted on and then
// answered 500 (the response lost). It must end with exactly one snapshot
// per volume, every group fully tagged, exactly one copy per snapshot, and
// a restore of the group (under the same faults) must attach one volume per
// device.
func TestIntegrationSnapshotsUnderFaults(t *testing.T) {
	e := shared(t)
	ctx := testenv.Context(t, 10*time.Minute)
	lb := e.Client()
	const src, dst = "ap-northeast-1", "ap-northeast-2"
	zone := src + "a"
	today := ebstags.Day(time.Now())
	baseA, baseB := e.Snapshots(t, src), e.Snapshots(t, dst)
	ours := func(region string) map[string]testenv.Snapshot {
		base := baseA
		if region == dst {
			base = baseB
		}
		all := e.Snapshots(t, region)
		maps.DeleteFunc(all, func(id string, _ testenv.Snapshot) bool { _, ok := base[id]; return ok })
		return all
	}

	// Set up without faults: the test's own calls are not what is tested.
	tags := map[string]string{"Backup": "Yes", "Copy_Dest": dst}
	instances := map[string][]string{ // instance -> devices besides the root
		e.RunInstance(t, src, zone, tags, "/dev/sdf", "/dev/sdg"): {"/dev/sdf", "/dev/sdg"},
		e.RunInstance(t, src, zone, tags):                         nil,
	}
	for _, id := range e.RunInstances(t, src, zone, 6, tags, "/dev/sdf") {
		instances[id] = []string{"/dev/sdf"}
	}
	volumes := map[string]string{} // volume -> instance
	for id := range instances {
		for _, v := range e.InstanceDevices(t, src, id) {
			volumes[v] = id
		}
	}
	target := e.RunInstance(t, src, zone, map[string]string{"Name": "restore-target"})

	rate, seed := 0.1, int64(20261201)
	if _, err := e.EmulatorConfig(ctx, testenv.EmulatorConfig{FaultRate: &rate, FaultSeed: &seed}); err != nil {
		t.Fatalf("set the fault rate: %v", err)
	}
	faultsOff := func() {
		zero := 0.0
		if _, err := e.EmulatorConfig(context.Background(), testenv.EmulatorConfig{FaultRate: &zero}); err != nil {
			t.Errorf("reset the fault rate: %v", err)
		}
	}
	t.Cleanup(faultsOff)
	if err := e.ResetEmulatorRequests(ctx); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	run, err := lb.StartSnapshotRun(ctx, ebs.RunInput{Regions: []string{src}})
	if err != nil {
		t.Fatalf("start run: %v", err)
	}
	res, err := lb.WaitSnapshotRun(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("run under faults %s: %v (report %+v)", run.ID, err, res)
	}
	chain := res.Regions[0].Chain
	if chain.Create.GroupsCreated != len(instances) || chain.Create.Snapshots != len(volumes) || chain.Create.FailedCount != 0 {
		t.Errorf("create: %+v", chain.Create)
	}
	if chain.Wait == nil || chain.Wait.Completed != len(volumes) || len(chain.Wait.Pending) != 0 {
		t.Errorf("wait: %+v", chain.Wait)
	}
	copied := 0
	for _, d := range chain.Copy.Destinations {
		copied += d.Copied
	}
	if copied != len(volumes) {
		t.Errorf("copy: %d copied, want %d: %+v", copied, len(volumes), chain.Copy.Destinations)
	}
	t.Logf("chain under faults: %s", time.Since(start).Round(time.Millisecond))

	// Restore the two-volume group's data volumes onto the target, faults on.
	var big string
	for id, devs := range instances {
		if len(devs) == 2 {
			big = id
		}
	}
	group := ebstags.GroupIDFor(big, today)
	rs, err := lb.StartSnapshotRestore(ctx, ebs.RestoreInput{
		Region: src, GroupID: group, TargetInstanceID: target, AvailabilityZone: zone, Devices: []string{"/dev/sdf", "/dev/sdg"},
	})
	if err != nil {
		t.Fatalf("start restore: %v", err)
	}
	restored, err := lb.WaitSnapshotRestore(ctx, rs.ID, nil)
	if err != nil || len(restored.Volumes) != 2 {
		t.Fatalf("restore under faults: %v %+v", err, restored)
	}

	reqs, err := e.EmulatorRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	faultsOff()
	faults := map[string]int{}
	for _, r := range reqs {
		if r.Service == "ec2" && r.Fault != "" {
			faults[r.Fault+" "+r.Action]++
		}
	}
	t.Logf("%d requests, faults: %v", len(reqs), faults)
	if len(faults) == 0 {
		t.Fatal("no fault was injected: the test proves nothing")
	}

	// Source: one snapshot per volume, in one fully tagged group per instance.
	snapsA := ours(src)
	perVolume := map[string]int{}
	for _, s := range snapsA {
		perVolume[s.VolumeID]++
	}
	for v, inst := range volumes {
		if perVolume[v] != 1 {
			t.Errorf("volume %s of %s has %d snapshots, want 1", v, inst, perVolume[v])
		}
	}
	if len(snapsA) != len(volumes) {
		t.Errorf("%s holds %d new snapshots, want %d (one per volume)", src, len(snapsA), len(volumes))
	}
	groups := groupsOf(snapsA)
	for inst, devs := range instances {
		gid := ebstags.GroupIDFor(inst, today)
		members := groups[gid]
		var got []string
		for _, s := range members {
			got = append(got, s.Tags[ebstags.Device])
			for _, k := range memberTags {
				if s.Tags[k] == "" {
					t.Errorf("%s of group %s lacks %s: %v", s.ID, gid, k, s.Tags)
				}
			}
			if want := strconv.Itoa(len(devs) + 1); s.Tags[ebstags.GroupSize] != want {
				t.Errorf("%s group size %s, want %s", s.ID, s.Tags[ebstags.GroupSize], want)
			}
		}
		sort.Strings(got)
		if want := append([]string{"/dev/sda1"}, devs...); !slices.Equal(got, want) {
			t.Errorf("group %s devices %v, want %v", gid, got, want)
		}
	}

	// Destination: exactly one copy per snapshot.
	copies := map[string]int{}
	for _, s := range ours(dst) {
		copies[s.Tags[ebstags.SourceSnapshotID]]++
	}
	for id := range snapsA {
		if copies[id] != 1 {
			t.Errorf("snapshot %s has %d copies in %s, want 1", id, copies[id], dst)
		}
		delete(copies, id)
	}
	if len(copies) != 0 {
		t.Errorf("copies in %s of no snapshot of the run: %v", dst, copies)
	}

	// The restore: one volume per device, attached at it.
	out, err := e.EC2(src).DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + ebstags.RestoreID), Values: []string{rs.ID}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	attached := map[string]int{}
	for _, v := range out.Volumes {
		for _, at := range v.Attachments {
			if aws.ToString(at.InstanceId) == target {
				attached[aws.ToString(at.Device)]++
			}
		}
	}
	if len(out.Volumes) != 2 || attached["/dev/sdf"] != 1 || attached["/dev/sdg"] != 1 {
		t.Errorf("restore made %d volumes, attached %v; want one at each of /dev/sdf, /dev/sdg", len(out.Volumes), attached)
	}
}
