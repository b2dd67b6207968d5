package testenv

import (
	"context"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2 helpers seed and inspect moto's EC2 for the EBS snapshot tests. Every
// region is a separate moto backend: tests keep apart by using their own
// regions.

// TestImageID is an AMI id for moto (it does not validate AMIs).
const TestImageID = "ami-0123456789abcdef0"

// EC2 is the EC2 client of a region on moto.
func (e *Env) EC2(region string) *ec2.Client { return e.AWS.EC2(region) }

// RunInstances starts n instances in a zone with the given tags, each with
// its root volume (/dev/sda1) and a new volume attached at every extra
// device. It returns the instance ids, in order.
func (e *Env) RunInstances(tb testing.TB, region, zone string, n int, tags map[string]string, devices ...string) []string {
	tb.Helper()
	ctx := context.Background()
	api := e.EC2(region)
	var ids []string
	for len(ids) < n {
		count := min(n-len(ids), 100)
		in := &ec2.RunInstancesInput{
			ImageId: aws.String(TestImageID), MinCount: aws.Int32(int32(count)), MaxCount: aws.Int32(int32(count)),
			InstanceType: ec2types.InstanceTypeT3Micro, Placement: &ec2types.Placement{AvailabilityZone: aws.String(zone)},
		}
		if len(tags) > 0 {
			in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: Tags(tags)}}
		}
		out, err := api.RunInstances(ctx, in)
		if err != nil {
			tb.Fatalf("run %d instances in %s: %v", count, zone, err)
		}
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	for _, id := range ids {
		for _, dev := range devices {
			e.AttachNewVolume(tb, region, zone, id, dev, 1)
		}
	}
	return ids
}

// RunInstance starts one instance (see RunInstances).
func (e *Env) RunInstance(tb testing.TB, region, zone string, tags map[string]string, devices ...string) string {
	tb.Helper()
	return e.RunInstances(tb, region, zone, 1, tags, devices...)[0]
}

// AttachNewVolume creates a volume of sizeGiB in a zone and attaches it to
// an instance at a device. It returns the volume id.
func (e *Env) AttachNewVolume(tb testing.TB, region, zone, instanceID, device string, sizeGiB int32) string {
	tb.Helper()
	ctx := context.Background()
	api := e.EC2(region)
	v, err := api.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(sizeGiB)})
	if err != nil {
		tb.Fatalf("create volume in %s: %v", zone, err)
	}
	_, err = api.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: v.VolumeId, InstanceId: aws.String(instanceID), Device: aws.String(device)})
	if err != nil {
		tb.Fatalf("attach %s to %s at %s: %v", aws.ToString(v.VolumeId), instanceID, device, err)
	}
	return aws.ToString(v.VolumeId)
}

// InstanceDevices maps an instance's device names to their volume ids.
func (e *Env) InstanceDevices(tb testing.TB, region, instanceID string) map[string]string {
	tb.Helper()
	out, err := e.EC2(region).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	if err != nil {
		tb.Fatalf("describe instance %s: %v", instanceID, err)
	}
	devs := map[string]string{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			for _, m := range i.BlockDeviceMappings {
				if m.Ebs != nil {
					devs[aws.ToString(m.DeviceName)] = aws.ToString(m.Ebs.VolumeId)
				}
			}
		}
	}
	return devs
}

// CreateSnapshot snapshots a volume with the given tags, as an operator or
// an older tool would have. It returns the snapshot id.
func (e *Env) CreateSnapshot(tb testing.TB, region, volumeID string, tags map[string]string) string {
	tb.Helper()
	in := &ec2.CreateSnapshotInput{VolumeId: aws.String(volumeID), Description: aws.String("made by the test")}
	if len(tags) > 0 {
		in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: Tags(tags)}}
	}
	out, err := e.EC2(region).CreateSnapshot(context.Background(), in)
	if err != nil {
		tb.Fatalf("snapshot %s: %v", volumeID, err)
	}
	return aws.ToString(out.SnapshotId)
}

// Snapshot is a snapshot as the tests see it.
type Snapshot struct {
	ID       string
	State    string
	VolumeID string
	Tags     map[string]string
}

// Snapshots lists every snapshot of the account in a region, by id.
func (e *Env) Snapshots(tb testing.TB, region string) map[string]Snapshot {
	tb.Helper()
	out := map[string]Snapshot{}
	p := ec2.NewDescribeSnapshotsPaginator(e.EC2(region), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatalf("describe snapshots in %s: %v", region, err)
		}
		for _, s := range page.Snapshots {
			tags := map[string]string{}
			for _, t := range s.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			id := aws.ToString(s.SnapshotId)
			out[id] = Snapshot{ID: id, State: string(s.State), VolumeID: aws.ToString(s.VolumeId), Tags: tags}
		}
	}
	return out
}

// DeleteSnapshot deletes a snapshot.
func (e *Env) DeleteSnapshot(tb testing.TB, region, id string) {
	tb.Helper()
	if _, err := e.EC2(region).DeleteSnapshot(context.Background(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)}); err != nil {
		tb.Fatalf("delete snapshot %s: %v", id, err)
	}
}

// Tags turns a map into EC2 tags, in key order.
func Tags(m map[string]string) []ec2types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ec2types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}
