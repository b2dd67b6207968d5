package ebs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// TestIntegrationSnapshotsRestore takes a group with a chain, then restores
// it: refused whole onto an instance whose root device is taken, in the
// wrong zone, or when a copy is missing (nothing created); restored by group
// id in the source region and by source instance and time from the copies
// in the destination, each volume attached at its original device.
func TestIntegrationSnapshotsRestore(t *testing.T) {
	e := shared(t)
	ctx := testenv.Context(t, 10*time.Minute)
	lb := e.Client()
	const src, dst = "ap-southeast-1", "ap-southeast-2"
	srcZone, dstZone := src+"b", dst+"a"
	today := ebstags.Day(time.Now())

	source := e.RunInstance(t, src, srcZone, map[string]string{"Backup": "Yes", "Copy_Dest": dst, "Name": "app"}, "/dev/sdf", "/dev/sdg")
	chain, err := lb.StartSnapshotStep(ctx, client.SnapshotStepChain, src, ebs.Options{})
	if err != nil {
		t.Fatalf("start chain: %v", err)
	}
	if res, err := lb.WaitSnapshotChain(ctx, chain.ID, nil); err != nil || res.Create.GroupsCreated != 1 {
		t.Fatalf("chain: %v %+v", err, res)
	}
	group := ebstags.GroupIDFor(source, today)
	snaps := groupsOf(e.Snapshots(t, src))[group]
	if len(snaps) != 3 {
		t.Fatalf("group %s has %d snapshots, want 3", group, len(snaps))
	}
	byDevice := map[string]string{}
	for _, s := range snaps {
		byDevice[s.Tags[ebstags.Device]] = s.ID
	}

	target := e.RunInstance(t, src, srcZone, map[string]string{"Name": "restore-target"})
	restore := func(in ebs.RestoreInput) (*ebs.RestoreResult, error) {
		run, err := lb.StartSnapshotRestore(ctx, in)
		if err != nil {
			return nil, err
		}
		return lb.WaitSnapshotRestore(ctx, run.ID, nil)
	}
	refused := func(what string, in ebs.RestoreInput, want string) {
		t.Helper()
		before := restoredVolumes(t, e, in.Region)
		_, err := restore(in)
		var invalid *client.InvalidInputError
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an InvalidInputError saying %q", what, err, want)
		}
		if after := restoredVolumes(t, e, in.Region); after != before {
			t.Errorf("%s: %d volumes created by a refused restore", what, after-before)
		}
	}

	// The whole group needs /dev/sda1, which the target's root holds.
	refused("device taken", ebs.RestoreInput{Region: src, GroupID: group, TargetInstanceID: target, AvailabilityZone: srcZone},
		"device /dev/sda1 is taken on "+target)
	refused("wrong zone", ebs.RestoreInput{Region: src, GroupID: group, TargetInstanceID: target, AvailabilityZone: src + "c", Devices: []string{"/dev/sdf"}},
		"is in "+srcZone+", not "+src+"c")
	refused("no such group", ebs.RestoreInput{Region: src, GroupID: "lbg-i-nope-20200101", TargetInstanceID: target, AvailabilityZone: srcZone},
		"no snapshot group lbg-i-nope-20200101")
	refused("no group that early", ebs.RestoreInput{Region: src, SourceInstanceID: source, At: aws.Time(today.Add(-time.Hour)), TargetInstanceID: target, AvailabilityZone: srcZone},
		"taken at or before")

	// The data volumes, by group id, at their original devices.
	res, err := restore(ebs.RestoreInput{Region: src, GroupID: group, TargetInstanceID: target, AvailabilityZone: srcZone, Devices: []string{"/dev/sdf", "/dev/sdg"}})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if res.GroupID != group || res.SourceInstanceID != source || len(res.Volumes) != 2 {
		t.Fatalf("restore result %+v", res)
	}
	requireAttached(t, e, src, target, res, byDevice)

	// From the copies in the destination, by source instance and time.
	copies := map[string]string{} // device -> copy id
	for _, s := range e.Snapshots(t, dst) {
		if s.Tags[ebstags.GroupID] == group {
			copies[s.Tags[ebstags.Device]] = s.ID
		}
	}
	if len(copies) != 3 {
		t.Fatalf("%d copies of group %s in %s, want 3", len(copies), group, dst)
	}
	drTarget := e.RunInstance(t, dst, dstZone, map[string]string{"Name": "dr-target"})
	res, err = restore(ebs.RestoreInput{Region: dst, SourceInstanceID: source, At: aws.Time(time.Now()), TargetInstanceID: drTarget, AvailabilityZone: dstZone, Devices: []string{"/dev/sdg"}})
	if err != nil {
		t.Fatalf("restore from copies: %v", err)
	}
	if res.GroupID != group {
		t.Errorf("restore from copies chose %s, want %s", res.GroupID, group)
	}
	requireAttached(t, e, dst, drTarget, res, copies)

	// A group with a copy missing is refused.
	e.DeleteSnapshot(t, dst, copies["/dev/sdf"])
	refused("incomplete", ebs.RestoreInput{Region: dst, GroupID: group, TargetInstanceID: drTarget, AvailabilityZone: dstZone, Devices: []string{"/dev/sdh"}},
		"snapshot group "+group+" is incomplete in "+dst+": 2 of 3 snapshots")
}

// requireAttached checks each restored volume was made from the group's
// snapshot for its device and is attached to the instance at that device.
func requireAttached(t *testing.T, e *testenv.Env, region, instance string, res *ebs.RestoreResult, snapshotByDevice map[string]string) {
	t.Helper()
	devs := e.InstanceDevices(t, region, instance)
	for _, v := range res.Volumes {
		if devs[v.Device] != v.VolumeID {
			t.Errorf("%s: %s holds %q, want the restored %s", instance, v.Device, devs[v.Device], v.VolumeID)
		}
		if v.SnapshotID != snapshotByDevice[v.Device] {
			t.Errorf("%s restored from %s, want %s", v.Device, v.SnapshotID, snapshotByDevice[v.Device])
		}
		// By filter: a new volume answers NotFound by id for a while (EC2's
		// eventual consistency, as the emulator's aws profile plays it).
		out, err := e.EC2(region).DescribeVolumes(context.Background(), &ec2.DescribeVolumesInput{
			Filters: []ec2types.Filter{{Name: aws.String("volume-id"), Values: []string{v.VolumeID}}},
		})
		if err != nil || len(out.Volumes) != 1 {
			t.Fatalf("describe %s: %v", v.VolumeID, err)
		}
		vol := out.Volumes[0]
		if aws.ToString(vol.SnapshotId) != v.SnapshotID || vol.State != ec2types.VolumeStateInUse {
			t.Errorf("volume %s: from %s, %s", v.VolumeID, aws.ToString(vol.SnapshotId), vol.State)
		}
	}
}

// restoredVolumes counts the volumes restores made in a region.
func restoredVolumes(t *testing.T, e *testenv.Env, region string) int {
	t.Helper()
	out, err := e.EC2(region).DescribeVolumes(context.Background(), &ec2.DescribeVolumesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag-key"), Values: []string{ebstags.RestoreID}}},
	})
	if err != nil {
		t.Fatalf("describe volumes: %v", err)
	}
	return len(out.Volumes)
}
