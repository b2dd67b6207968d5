package ebs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebsgroups"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// PlanVolumeRestoreInput names a group (by id, or by source instance and a
// time) and where to restore it.
type PlanVolumeRestoreInput struct {
	Region           string     `json:"region"`
	GroupID          string     `json:"groupId,omitempty"`
	SourceInstanceID string     `json:"sourceInstanceId,omitempty"`
	At               *time.Time `json:"at,omitempty"`
	TargetInstanceID string     `json:"targetInstanceId"`
	AvailabilityZone string     `json:"availabilityZone"`
	// Devices restores only these devices of the group (all when empty).
	Devices []string `json:"devices,omitempty"`
	// RestoreID is the restore's workflow id: its own volumes are no conflict.
	RestoreID string `json:"restoreId"`
}

// RestoreSnapshot is one snapshot to turn into a volume.
type RestoreSnapshot struct {
	SnapshotID     string `json:"snapshotId"`
	Device         string `json:"device"`
	SourceVolumeID string `json:"sourceVolumeId"`
	SizeGiB        int32  `json:"sizeGiB"`
}

// PlanVolumeRestoreResult is the checked group.
type PlanVolumeRestoreResult struct {
	GroupID    string            `json:"groupId"`
	InstanceID string            `json:"instanceId"`
	Generation int               `json:"generation"`
	CreatedAt  time.Time         `json:"createdAt"`
	GroupSize  int               `json:"groupSize"`
	Snapshots  []RestoreSnapshot `json:"snapshots"`
}

func invalidf(format string, args ...any) error {
	return activities.Invalid(fmt.Errorf(format, args...))
}

// PlanVolumeRestore finds the group (the latest group of the source
// instance at or before At, when no id is given) and checks, before
// anything is created, that the whole group is there and completed, that
// the target instance exists in the availability zone, and that none of the
// group's device names is taken on it. Every refusal is an InvalidInput error.
func (a *EBS) PlanVolumeRestore(ctx context.Context, in PlanVolumeRestoreInput) (*PlanVolumeRestoreResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	var g *ebsgroups.Group
	switch {
	case in.GroupID != "":
		groups, err := loadGroups(ctx, api, []types.Filter{ec2TagFilter(ebstags.GroupID, in.GroupID)})
		if err != nil {
			return nil, err
		}
		if g = groups[in.GroupID]; g == nil {
			return nil, invalidf("no snapshot group %s in %s", in.GroupID, in.Region)
		}
	case in.SourceInstanceID != "" && in.At != nil:
		groups, err := loadGroups(ctx, api, []types.Filter{ec2TagFilter(ebstags.SourceInstanceID, in.SourceInstanceID)})
		if err != nil {
			return nil, err
		}
		for _, c := range groups {
			if c.CreatedAt.After(*in.At) {
				continue
			}
			if g == nil || c.CreatedAt.After(g.CreatedAt) || (c.CreatedAt.Equal(g.CreatedAt) && c.ID > g.ID) {
				g = c
			}
		}
		if g == nil {
			return nil, invalidf("no snapshot group of %s in %s taken at or before %s", in.SourceInstanceID, in.Region, in.At.UTC().Format(time.RFC3339))
		}
	default:
		return nil, invalidf("give a group id, or a source instance and a time")
	}

	devs := g.ByDevice()
	if g.Size == 0 {
		return nil, invalidf("snapshot group %s has no %s tag: cannot tell whether it is whole", g.ID, ebstags.GroupSize)
	}
	if len(devs) != g.Size {
		return nil, invalidf("snapshot group %s is incomplete in %s: %d of %d snapshots", g.ID, in.Region, len(devs), g.Size)
	}
	res := &PlanVolumeRestoreResult{GroupID: g.ID, InstanceID: g.InstanceID, Generation: g.Generation, CreatedAt: g.CreatedAt, GroupSize: g.Size}
	for dev, s := range devs {
		id := aws.ToString(s.SnapshotId)
		if dev == "" {
			return nil, invalidf("snapshot %s of group %s has no %s tag", id, g.ID, ebstags.Device)
		}
		if s.State != types.SnapshotStateCompleted {
			return nil, invalidf("snapshot %s (%s) of group %s is %s, not completed", id, dev, g.ID, s.State)
		}
		res.Snapshots = append(res.Snapshots, RestoreSnapshot{
			SnapshotID: id, Device: dev, SourceVolumeID: TagMap(s.Tags)[ebstags.SourceVolumeID], SizeGiB: aws.ToInt32(s.VolumeSize),
		})
	}
	sort.Slice(res.Snapshots, func(i, j int) bool { return res.Snapshots[i].Device < res.Snapshots[j].Device })
	if len(in.Devices) > 0 {
		want := map[string]bool{}
		for _, d := range in.Devices {
			if _, ok := devs[d]; !ok {
				return nil, invalidf("snapshot group %s has no device %s (it has %s)", g.ID, d, strings.Join(deviceNames(res.Snapshots), ", "))
			}
			want[d] = true
		}
		kept := res.Snapshots[:0]
		for _, s := range res.Snapshots {
			if want[s.Device] {
				kept = append(kept, s)
			}
		}
		res.Snapshots = kept
	}

	out, err := api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{in.TargetInstanceID}})
	if err != nil {
		if ec2Code(err) == "InvalidInstanceID.NotFound" || ec2Code(err) == "InvalidInstanceID.Malformed" {
			return nil, invalidf("target instance %s not found in %s", in.TargetInstanceID, in.Region)
		}
		return nil, classifyEC2(err, "describe target instance %s", in.TargetInstanceID)
	}
	var target *types.Instance
	for _, r := range out.Reservations {
		for i := range r.Instances {
			target = &r.Instances[i]
		}
	}
	if target == nil {
		return nil, invalidf("target instance %s not found in %s", in.TargetInstanceID, in.Region)
	}
	if target.State != nil && (target.State.Name == types.InstanceStateNameTerminated || target.State.Name == types.InstanceStateNameShuttingDown) {
		return nil, invalidf("target instance %s is %s", in.TargetInstanceID, target.State.Name)
	}
	if target.Placement == nil || aws.ToString(target.Placement.AvailabilityZone) != in.AvailabilityZone {
		az := "an unknown zone"
		if target.Placement != nil {
			az = aws.ToString(target.Placement.AvailabilityZone)
		}
		return nil, invalidf("target instance %s is in %s, not %s: volumes attach only within their availability zone", in.TargetInstanceID, az, in.AvailabilityZone)
	}
	ours, err := a.restoredVolumes(ctx, api, in.RestoreID)
	if err != nil {
		return nil, err
	}
	for _, m := range target.BlockDeviceMappings {
		dev := aws.ToString(m.DeviceName)
		vol := ""
		if m.Ebs != nil {
			vol = aws.ToString(m.Ebs.VolumeId)
		}
		for _, s := range res.Snapshots {
			if s.Device == dev && !ours[vol] {
				return nil, invalidf("device %s is taken on %s (by %s): restore to another instance, or choose devices with --devices", dev, in.TargetInstanceID, vol)
			}
		}
	}
	return res, nil
}

func deviceNames(snaps []RestoreSnapshot) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.Device
	}
	return out
}

// restoredVolumes is the set of volumes a restore created.
func (a *EBS) restoredVolumes(ctx context.Context, api EC2API, restoreID string) (map[string]bool, error) {
	out := map[string]bool{}
	err := eachVolume(ctx, api, []types.Filter{ec2TagFilter(ebstags.RestoreID, restoreID)}, func(v types.Volume) { out[aws.ToString(v.VolumeId)] = true })
	return out, err
}

func eachVolume(ctx context.Context, api EC2API, filters []types.Filter, fn func(types.Volume)) error {
	p := ec2.NewDescribeVolumesPaginator(api, &ec2.DescribeVolumesInput{Filters: filters, MaxResults: aws.Int32(500)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classifyEC2(err, "describe volumes")
		}
		for _, v := range page.Volumes {
			fn(v)
		}
	}
	return nil
}

// CreateRestoreVolumeInput asks for a volume from one snapshot.
type CreateRestoreVolumeInput struct {
	Region           string `json:"region"`
	AvailabilityZone string `json:"availabilityZone"`
	SnapshotID       string `json:"snapshotId"`
	Device           string `json:"device"`
	GroupID          string `json:"groupId"`
	RestoreID        string `json:"restoreId"`
	// RestoreTest marks the volume as a restore test's scratch volume
	// (lifeboat:restore-test=<RestoreID>), which the test deletes.
	RestoreTest bool `json:"restoreTest,omitempty"`
}

// CreateRestoreVolumeResult names the volume.
type CreateRestoreVolumeResult struct {
	VolumeID string `json:"volumeId"`
	Created  bool   `json:"created"`
}

// CreateRestoreVolume creates a volume from a snapshot in the availability
// zone, tagged with the restore and its source. It looks for the volume this
// restore already made from the snapshot first, and passes a client token
// derived from both (the same on every try: the SDK's retries, the
// activity's, a replayed workflow's), so EC2 answers a retry with the
// volume it made, even when a response was lost after it acted.
func (a *EBS) CreateRestoreVolume(ctx context.Context, in CreateRestoreVolumeInput) (*CreateRestoreVolumeResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	var found string
	err := eachVolume(ctx, api, []types.Filter{ec2TagFilter(ebstags.RestoreID, in.RestoreID), ec2TagFilter(ebstags.RestoredFrom, in.SnapshotID)}, func(v types.Volume) {
		if v.State != types.VolumeStateDeleting && v.State != types.VolumeStateDeleted && v.State != types.VolumeStateError {
			found = aws.ToString(v.VolumeId)
		}
	})
	if err != nil {
		return nil, err
	}
	if found != "" {
		return &CreateRestoreVolumeResult{VolumeID: found}, nil
	}
	tags := map[string]string{
		ebstags.ManagedBy: ebstags.ManagedByLifeboat, ebstags.RestoreID: in.RestoreID, ebstags.RestoredFrom: in.SnapshotID,
		ebstags.GroupID: in.GroupID, ebstags.Device: in.Device,
	}
	if in.RestoreTest {
		tags[ebstags.RestoreTest] = in.RestoreID
	}
	out, err := api.CreateVolume(ctx, &ec2.CreateVolumeInput{
		AvailabilityZone:  aws.String(in.AvailabilityZone),
		SnapshotId:        aws.String(in.SnapshotID),
		ClientToken:       aws.String(ec2Token(in.RestoreID, in.SnapshotID)),
		TagSpecifications: ec2TagSpec(types.ResourceTypeVolume, tags),
	})
	if err != nil {
		// The snapshot is the user's choice, checked by the plan:
		// InvalidSnapshot.NotFound here is for good.
		return nil, classifyEC2(err, "create volume from %s in %s", in.SnapshotID, in.AvailabilityZone)
	}
	id := aws.ToString(out.VolumeId)
	logInfo(ctx, "Volume created", "snapshot", in.SnapshotID, "volume", id, "zone", in.AvailabilityZone)
	return &CreateRestoreVolumeResult{VolumeID: id, Created: true}, nil
}

// WaitRestoreVolumesInput names new volumes.
type WaitRestoreVolumesInput struct {
	Region    string   `json:"region"`
	VolumeIDs []string `json:"volumeIds"`
}

// WaitRestoreVolumesResult is empty: the volumes are available.
type WaitRestoreVolumesResult struct{}

// WaitRestoreVolumes polls until every volume is available (or already in
// use, attached by an earlier attempt), heartbeating. A volume in the error
// state fails the restore.
func (a *EBS) WaitRestoreVolumes(ctx context.Context, in WaitRestoreVolumesInput) (*WaitRestoreVolumesResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	start := a.now()
	for polls := 1; ; polls++ {
		ready, listed := 0, 0
		var failed []string
		err := eachVolume(ctx, api, []types.Filter{ec2Filter("volume-id", in.VolumeIDs...)}, func(v types.Volume) {
			listed++
			switch v.State {
			case types.VolumeStateAvailable, types.VolumeStateInUse:
				ready++
			case types.VolumeStateError:
				failed = append(failed, aws.ToString(v.VolumeId))
			}
		})
		if err != nil {
			return nil, err
		}
		if len(failed) > 0 {
			return nil, temporal.NewNonRetryableApplicationError("restored volume "+strings.Join(failed, ", ")+" went to the error state", activities.ErrRestoreFailed, nil)
		}
		if listed < len(in.VolumeIDs) && a.now().Sub(start) > a.retryFor() {
			// New volumes can take a while to be listed; these stay missing.
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%d of the restored volumes no longer exist", len(in.VolumeIDs)-listed), activities.ErrRestoreFailed, nil)
		}
		hb.Record(map[string]int{"available": ready, "volumes": len(in.VolumeIDs), "polls": polls})
		if ready == len(in.VolumeIDs) {
			return &WaitRestoreVolumesResult{}, nil
		}
		if err := a.sleep(ctx); err != nil {
			return nil, err
		}
	}
}

// AttachRestoreVolumeInput asks for a volume at a device of an instance.
type AttachRestoreVolumeInput struct {
	Region     string `json:"region"`
	VolumeID   string `json:"volumeId"`
	InstanceID string `json:"instanceId"`
	Device     string `json:"device"`
}

// AttachRestoreVolumeResult is empty: the volume is attached.
type AttachRestoreVolumeResult struct{}

// AttachRestoreVolume attaches a volume to the instance at the device and
// waits until the attachment is complete. A volume already attached there
// (by an earlier attempt) is done; one attached elsewhere fails.
func (a *EBS) AttachRestoreVolume(ctx context.Context, in AttachRestoreVolumeInput) (*AttachRestoreVolumeResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	requested := false
	b := a.newBackoff()
	start := a.now()
	for polls := 1; ; polls++ {
		var vol *types.Volume
		err := eachVolume(ctx, api, []types.Filter{ec2Filter("volume-id", in.VolumeID)}, func(v types.Volume) { vol = &v })
		if err != nil {
			return nil, err
		}
		if vol == nil {
			// The volume is new: it may not be listed yet.
			if a.now().Sub(start) > a.retryFor() {
				return nil, temporal.NewNonRetryableApplicationError("volume "+in.VolumeID+" no longer exists", activities.ErrRestoreFailed, nil)
			}
			if err := a.sleep(ctx); err != nil {
				return nil, err
			}
			continue
		}
		for _, at := range vol.Attachments {
			if aws.ToString(at.InstanceId) != in.InstanceID || aws.ToString(at.Device) != in.Device {
				return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("volume %s is attached to %s at %s, not %s at %s",
					in.VolumeID, aws.ToString(at.InstanceId), aws.ToString(at.Device), in.InstanceID, in.Device), activities.ErrRestoreFailed, nil)
			}
			if at.State == types.VolumeAttachmentStateAttached {
				logInfo(ctx, "Volume attached", "volume", in.VolumeID, "instance", in.InstanceID, "device", in.Device)
				return &AttachRestoreVolumeResult{}, nil
			}
			requested = true
		}
		if !requested {
			_, err := api.AttachVolume(ctx, &ec2.AttachVolumeInput{
				VolumeId: aws.String(in.VolumeID), InstanceId: aws.String(in.InstanceID), Device: aws.String(in.Device),
			})
			code := ec2Code(err)
			switch {
			case err == nil:
				requested = true
				continue
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case code == "InvalidVolume.NotFound":
				// The volume is new: EC2 may not know it everywhere yet.
			case ec2Rejected(code):
				// Another refusal (the target instance is gone, ...): for good.
				return nil, classifyEC2(err, "attach %s to %s at %s", in.VolumeID, in.InstanceID, in.Device)
			}
			// NotFound of the new volume, throttling, or an error after
			// which EC2 may have attached it: look again after a pause.
			more, werr := b.wait(ctx)
			if werr != nil {
				return nil, werr
			}
			if !more {
				return nil, fmt.Errorf("attach %s to %s at %s: still failing after %s: %w", in.VolumeID, in.InstanceID, in.Device, b.elapsed(), err)
			}
			continue
		}
		hb.Record(polls)
		if err := a.sleep(ctx); err != nil {
			return nil, err
		}
	}
}

// DeleteRestoreVolumesInput names volumes a failed restore created.
type DeleteRestoreVolumesInput struct {
	Region    string   `json:"region"`
	VolumeIDs []string `json:"volumeIds"`
}

// DeleteRestoreVolumesResult says what was deleted and what was kept.
type DeleteRestoreVolumesResult struct {
	Deleted []string `json:"deleted,omitempty"`
	// Kept are attached volumes: in use, so left alone.
	Kept []string `json:"kept,omitempty"`
}

// DeleteRestoreVolumes deletes the volumes of a failed restore that are not
// attached (the snapshots remain; a new restore can make them again).
func (a *EBS) DeleteRestoreVolumes(ctx context.Context, in DeleteRestoreVolumesInput) (*DeleteRestoreVolumesResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	res := &DeleteRestoreVolumesResult{}
	var vols []types.Volume
	if len(in.VolumeIDs) > 0 {
		if err := eachVolume(ctx, api, []types.Filter{ec2Filter("volume-id", in.VolumeIDs...)}, func(v types.Volume) { vols = append(vols, v) }); err != nil {
			return nil, err
		}
	}
	for _, v := range vols {
		id := aws.ToString(v.VolumeId)
		if len(v.Attachments) > 0 || v.State == types.VolumeStateInUse {
			res.Kept = append(res.Kept, id)
			continue
		}
		if _, err := api.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)}); err != nil && !ec2NotFound(err) {
			return nil, classifyEC2(err, "delete volume %s", id)
		}
		res.Deleted = append(res.Deleted, id)
	}
	return res, nil
}
