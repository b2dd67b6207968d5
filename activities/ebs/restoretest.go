package ebs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebsgroups"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// PlanSnapshotsRestoreTestInput names the group a snapshots restore test restores:
// by id, or the newest complete group of an instance.
type PlanSnapshotsRestoreTestInput struct {
	Region     string `json:"region"`
	GroupID    string `json:"groupId,omitempty"`
	InstanceID string `json:"instanceId,omitempty"`
}

// PlanSnapshotsRestoreTest finds the group and checks that it is whole and every
// snapshot completed (InvalidInput otherwise, nothing made). Given an
// instance, it takes the instance's newest group that is whole and
// completed.
func (a *EBS) PlanSnapshotsRestoreTest(ctx context.Context, in PlanSnapshotsRestoreTestInput) (*PlanVolumeRestoreResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	var filter types.Filter
	switch {
	case in.GroupID != "":
		filter = ec2TagFilter(ebstags.GroupID, in.GroupID)
	case in.InstanceID != "":
		filter = ec2TagFilter(ebstags.SourceInstanceID, in.InstanceID)
	default:
		return nil, invalidf("give a group id or an instance id")
	}
	groups, err := loadGroups(ctx, api, []types.Filter{filter})
	if err != nil {
		return nil, err
	}
	var g *ebsgroups.Group
	if in.GroupID != "" {
		if g = groups[in.GroupID]; g == nil {
			return nil, invalidf("no snapshot group %s in %s", in.GroupID, in.Region)
		}
		if why := incomplete(g); why != "" {
			return nil, invalidf("snapshot group %s in %s %s", g.ID, in.Region, why)
		}
	} else {
		ids := make([]string, 0, len(groups))
		for id := range groups {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			c := groups[id]
			if c.SourceRegion != "" || incomplete(c) != "" {
				continue
			}
			if g == nil || c.CreatedAt.After(g.CreatedAt) || (c.CreatedAt.Equal(g.CreatedAt) && c.ID > g.ID) {
				g = c
			}
		}
		if g == nil {
			return nil, invalidf("no complete snapshot group of %s in %s", in.InstanceID, in.Region)
		}
	}
	res := &PlanVolumeRestoreResult{GroupID: g.ID, InstanceID: g.InstanceID, Generation: g.Generation, CreatedAt: g.CreatedAt, GroupSize: g.Size}
	for dev, s := range g.ByDevice() {
		res.Snapshots = append(res.Snapshots, RestoreSnapshot{
			SnapshotID: aws.ToString(s.SnapshotId), Device: dev, SourceVolumeID: TagMap(s.Tags)[ebstags.SourceVolumeID], SizeGiB: aws.ToInt32(s.VolumeSize),
		})
	}
	sort.Slice(res.Snapshots, func(i, j int) bool { return res.Snapshots[i].Device < res.Snapshots[j].Device })
	return res, nil
}

// incomplete says why a group cannot be restored whole ("" when it can).
func incomplete(g *ebsgroups.Group) string {
	devs := g.ByDevice()
	if g.Size == 0 {
		return fmt.Sprintf("has no %s tag: cannot tell whether it is whole", ebstags.GroupSize)
	}
	if len(devs) != g.Size {
		return fmt.Sprintf("is incomplete: %d of %d snapshots", len(devs), g.Size)
	}
	names := make([]string, 0, len(devs))
	for d := range devs {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		s := devs[d]
		if d == "" {
			return fmt.Sprintf("has snapshot %s without a %s tag", aws.ToString(s.SnapshotId), ebstags.Device)
		}
		if s.State != types.SnapshotStateCompleted {
			return fmt.Sprintf("has snapshot %s (%s) %s, not completed", aws.ToString(s.SnapshotId), d, s.State)
		}
	}
	return ""
}

// ScratchVolume is one volume a restore test made, and what it must be.
type ScratchVolume struct {
	VolumeID   string `json:"volumeId"`
	SnapshotID string `json:"snapshotId"`
	Device     string `json:"device"`
	SizeGiB    int32  `json:"sizeGiB"`
}

// CheckScratchVolumesInput names the volumes to check.
type CheckScratchVolumesInput struct {
	Region           string          `json:"region"`
	AvailabilityZone string          `json:"availabilityZone"`
	Volumes          []ScratchVolume `json:"volumes"`
}

// CheckScratchVolumesResult is the verdict: Problem is empty when every
// volume is as it must be, else the first thing wrong, in one line.
type CheckScratchVolumesResult struct {
	Problem string `json:"problem,omitempty"`
}

// CheckScratchVolumes checks each restored volume as EC2 describes it: it
// exists, is available, in the zone, made from its snapshot, and as large
// as the snapshot's volume was.
func (a *EBS) CheckScratchVolumes(ctx context.Context, in CheckScratchVolumesInput) (*CheckScratchVolumesResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	ids := make([]string, len(in.Volumes))
	for i, v := range in.Volumes {
		ids[i] = v.VolumeID
	}
	found := map[string]types.Volume{}
	if len(ids) > 0 {
		if err := eachVolume(ctx, a.EC2(in.Region), []types.Filter{ec2Filter("volume-id", ids...)}, func(v types.Volume) { found[aws.ToString(v.VolumeId)] = v }); err != nil {
			return nil, err
		}
	}
	for _, want := range in.Volumes {
		v, ok := found[want.VolumeID]
		got := func(f string, args ...any) *CheckScratchVolumesResult {
			return &CheckScratchVolumesResult{Problem: fmt.Sprintf("volume %s restored from %s (%s) %s", want.VolumeID, want.SnapshotID, want.Device, fmt.Sprintf(f, args...))}
		}
		switch {
		case !ok:
			return got("is missing"), nil
		case v.State != types.VolumeStateAvailable:
			return got("is %s, not available", v.State), nil
		case aws.ToString(v.SnapshotId) != want.SnapshotID:
			return got("was made from snapshot %q", aws.ToString(v.SnapshotId)), nil
		case aws.ToInt32(v.Size) != want.SizeGiB:
			return got("holds %d GiB, the snapshot %d GiB", aws.ToInt32(v.Size), want.SizeGiB), nil
		case aws.ToString(v.AvailabilityZone) != in.AvailabilityZone:
			return got("is in %s, not %s", aws.ToString(v.AvailabilityZone), in.AvailabilityZone), nil
		}
	}
	return &CheckScratchVolumesResult{}, nil
}

// DeleteScratchVolumesInput names a restore test (its workflow id).
type DeleteScratchVolumesInput struct {
	Region        string `json:"region"`
	RestoreTestID string `json:"restoreTestId"`
}

// DeleteScratchVolumesResult lists the volumes deleted.
type DeleteScratchVolumesResult struct {
	Deleted []string `json:"deleted,omitempty"`
}

// errVolumeBusy says a scratch volume cannot be deleted yet.
var errVolumeBusy = errors.New("scratch volume not deletable yet")

// DeleteScratchVolumes deletes every volume tagged as this restore test's
// (lifeboat:restore-test=<id>), and only those: found by the tag, so a
// volume whose create answer was lost goes too, and no other volume is
// ever touched. A volume still being created, or attached by someone, is
// waited for (the activity retries); one already deleting is done.
func (a *EBS) DeleteScratchVolumes(ctx context.Context, in DeleteScratchVolumesInput) (*DeleteScratchVolumesResult, error) {
	if strings.TrimSpace(in.RestoreTestID) == "" {
		return nil, invalidf("no restore test id: nothing is deleted")
	}
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	var vols []types.Volume
	err := eachVolume(ctx, api, []types.Filter{ec2TagFilter(ebstags.RestoreTest, in.RestoreTestID)}, func(v types.Volume) { vols = append(vols, v) })
	if err != nil {
		return nil, err
	}
	res := &DeleteScratchVolumesResult{}
	var busy []string
	for _, v := range vols {
		id := aws.ToString(v.VolumeId)
		if TagMap(v.Tags)[ebstags.RestoreTest] != in.RestoreTestID { // the filter's word, checked again
			continue
		}
		switch {
		case v.State == types.VolumeStateDeleting || v.State == types.VolumeStateDeleted:
			res.Deleted = append(res.Deleted, id)
			continue
		case v.State == types.VolumeStateCreating || len(v.Attachments) > 0:
			busy = append(busy, fmt.Sprintf("%s (%s, %d attachments)", id, v.State, len(v.Attachments)))
			continue
		}
		if _, err := api.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)}); err != nil && !ec2NotFound(err) {
			if ec2Code(err) == "IncorrectState" || ec2Code(err) == "VolumeInUse" {
				busy = append(busy, id+" ("+ec2Code(err)+")")
				continue
			}
			return nil, classifyEC2(err, "delete scratch volume %s", id)
		}
		res.Deleted = append(res.Deleted, id)
		hb.Record(res)
	}
	if len(busy) > 0 {
		return nil, fmt.Errorf("%w: %s", errVolumeBusy, strings.Join(busy, ", "))
	}
	return res, nil
}

// TagRestoreTestedInput is the outcome to tag on a group's snapshots.
type TagRestoreTestedInput struct {
	Region      string        `json:"region"`
	SnapshotIDs []string      `json:"snapshotIds"`
	At          time.Time     `json:"at"`
	OK          bool          `json:"ok"`
	RTO         time.Duration `json:"rto"`
}

// TagRestoreTestedResult is the tag written.
type TagRestoreTestedResult struct {
	Value string `json:"value"`
}

// TagRestoreTested tags the group's snapshots with
// lifeboat:restore-tested=<time>:<ok|failed>:<RTO seconds>.
func (a *EBS) TagRestoreTested(ctx context.Context, in TagRestoreTestedInput) (*TagRestoreTestedResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	value := ebstags.FormatRestoreTested(in.At, in.OK, in.RTO)
	tag := ec2Tags(map[string]string{ebstags.RestoreTested: value})
	for _, chunk := range ec2Chunks(in.SnapshotIDs, ec2FilterChunk) {
		err := a.retryNotFound(ctx, func() error {
			_, err := a.EC2(in.Region).CreateTags(ctx, &ec2.CreateTagsInput{Resources: chunk, Tags: tag})
			return err
		}, "tag %d snapshot(s) in %s with %s", len(chunk), in.Region, ebstags.RestoreTested)
		if err != nil {
			return nil, err
		}
	}
	return &TagRestoreTestedResult{Value: value}, nil
}
