package activities

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// snapshotGroup is the snapshots of one group found in one region: the
// primaries, or (in a destination) their copies.
type snapshotGroup struct {
	id           string
	instanceID   string
	generation   int
	size         int // the group-size tag; 0 when absent
	createdAt    time.Time
	deleteOn     string
	keepForever  bool
	sourceRegion string // set when the group is made of copies
	copyDest     string
	members      []types.Snapshot
}

// loadGroups reads the Lifeboat snapshot groups of a region matching the filters.
func loadGroups(ctx context.Context, api EC2API, filters []types.Filter) (map[string]*snapshotGroup, error) {
	groups := map[string]*snapshotGroup{}
	fs := append([]types.Filter{ec2TagFilter(ebstags.ManagedBy, ebstags.ManagedByLifeboat)}, filters...)
	err := eachSnapshot(ctx, api, fs, func(s types.Snapshot) {
		t := TagMap(s.Tags)
		id := t[ebstags.GroupID]
		if id == "" {
			return
		}
		g := groups[id]
		if g == nil {
			g = &snapshotGroup{id: id, instanceID: t[ebstags.SourceInstanceID], deleteOn: t[ebstags.DeleteOn], sourceRegion: t[ebstags.SourceRegion], copyDest: t[ebstags.CopyDest]}
			g.generation, _ = ebstags.ParseGeneration(t[ebstags.Generation])
			groups[id] = g
		}
		if n, err := strconv.Atoi(t[ebstags.GroupSize]); err == nil && n > g.size {
			g.size = n
		}
		at := aws.ToTime(s.StartTime)
		if v, err := time.Parse(time.RFC3339, t[ebstags.CreatedAt]); err == nil {
			at = v // copies have their own StartTime; the tag is the original's
		}
		if g.createdAt.IsZero() || at.Before(g.createdAt) {
			g.createdAt = at
		}
		if ebstags.HasKeepForever(t) {
			g.keepForever = true
		}
		g.members = append(g.members, s)
	})
	return groups, err
}

// byDevice keeps one snapshot per device, preferring a completed one (a
// destination may hold a failed copy beside a good one).
func (g *snapshotGroup) byDevice() map[string]types.Snapshot {
	out := map[string]types.Snapshot{}
	sorted := append([]types.Snapshot(nil), g.members...)
	sort.Slice(sorted, func(i, j int) bool { return aws.ToString(sorted[i].SnapshotId) < aws.ToString(sorted[j].SnapshotId) })
	for _, s := range sorted {
		dev := TagMap(s.Tags)[ebstags.Device]
		if cur, ok := out[dev]; !ok || (cur.State != types.SnapshotStateCompleted && s.State == types.SnapshotStateCompleted) {
			out[dev] = s
		}
	}
	return out
}

// state is the group's state: completed, pending, error or incomplete.
func (g *snapshotGroup) state() string {
	devs := g.byDevice()
	if g.size == 0 || len(devs) < g.size {
		return fmt.Sprintf("incomplete (%d/%d)", len(devs), g.size)
	}
	st := string(types.SnapshotStateCompleted)
	for _, s := range devs {
		switch s.State {
		case types.SnapshotStateError:
			return string(types.SnapshotStateError)
		case types.SnapshotStateCompleted:
		default:
			st = string(types.SnapshotStatePending)
		}
	}
	return st
}

// ListSnapshotGroupsInput filters the groups of a region.
type ListSnapshotGroupsInput struct {
	Region     string `json:"region"`
	InstanceID string `json:"instanceId,omitempty"`
	GroupID    string `json:"groupId,omitempty"`
}

// GroupCopies counts a group's copies in one destination.
type GroupCopies struct {
	Region    string `json:"region"`
	Completed int    `json:"completed"`
	Total     int    `json:"total"`
}

// SnapshotGroupInfo describes one group as found in a region.
type SnapshotGroupInfo struct {
	GroupID     string    `json:"groupId"`
	InstanceID  string    `json:"instanceId"`
	Generation  int       `json:"generation"`
	CreatedAt   time.Time `json:"createdAt"`
	Size        int       `json:"size"`
	State       string    `json:"state"`
	DeleteOn    string    `json:"deleteOn"`
	KeepForever bool      `json:"keepForever"`
	// SourceRegion is set when the group here is made of copies.
	SourceRegion string          `json:"sourceRegion,omitempty"`
	Copies       []GroupCopies   `json:"copies,omitempty"`
	Snapshots    []GroupSnapshot `json:"snapshots"`
}

// ListSnapshotGroupsResult lists groups, by instance, newest first.
type ListSnapshotGroupsResult struct {
	Groups []SnapshotGroupInfo `json:"groups"`
}

// ListSnapshotGroups lists a region's Lifeboat snapshot groups (primaries,
// and copies made from other regions) with their generation, state,
// DeleteOn and, for primaries, their copies in each destination.
func (a *EBS) ListSnapshotGroups(ctx context.Context, in ListSnapshotGroupsInput) (*ListSnapshotGroupsResult, error) {
	_, stop := keepAlive(ctx)
	defer stop()
	var filters []types.Filter
	if in.InstanceID != "" {
		filters = append(filters, ec2TagFilter(ebstags.SourceInstanceID, in.InstanceID))
	}
	if in.GroupID != "" {
		filters = append(filters, ec2TagFilter(ebstags.GroupID, in.GroupID))
	}
	groups, err := loadGroups(ctx, a.EC2(in.Region), filters)
	if err != nil {
		return nil, err
	}
	dests := map[string]bool{}
	for _, g := range groups {
		if g.sourceRegion == "" {
			ds, _ := ebstags.ParseCopyDest(g.copyDest, in.Region)
			for _, d := range ds {
				dests[d] = true
			}
		}
	}
	copies := map[string]map[string]*GroupCopies{} // group -> region -> counts
	for _, d := range sortedRegions(dests) {
		fs := append([]types.Filter{ec2TagFilter(ebstags.SourceRegion, in.Region)}, filters...)
		err := eachSnapshot(ctx, a.EC2(d), fs, func(s types.Snapshot) {
			gid := TagMap(s.Tags)[ebstags.GroupID]
			if copies[gid] == nil {
				copies[gid] = map[string]*GroupCopies{}
			}
			c := copies[gid][d]
			if c == nil {
				c = &GroupCopies{Region: d}
				copies[gid][d] = c
			}
			c.Total++
			if s.State == types.SnapshotStateCompleted {
				c.Completed++
			}
		})
		if err != nil {
			return nil, fmt.Errorf("list copies in %s: %w", d, err)
		}
	}
	res := &ListSnapshotGroupsResult{Groups: []SnapshotGroupInfo{}}
	for _, g := range groups {
		info := SnapshotGroupInfo{
			GroupID: g.id, InstanceID: g.instanceID, Generation: g.generation, CreatedAt: g.createdAt, Size: g.size,
			State: g.state(), DeleteOn: g.deleteOn, KeepForever: g.keepForever, SourceRegion: g.sourceRegion,
		}
		for _, d := range sortedRegions(dests) {
			if c := copies[g.id][d]; c != nil {
				info.Copies = append(info.Copies, *c)
			}
		}
		for dev, s := range g.byDevice() {
			t := TagMap(s.Tags)
			info.Snapshots = append(info.Snapshots, GroupSnapshot{
				SnapshotID: aws.ToString(s.SnapshotId), VolumeID: t[ebstags.SourceVolumeID], Device: dev, State: string(s.State),
			})
		}
		sort.Slice(info.Snapshots, func(i, j int) bool { return info.Snapshots[i].Device < info.Snapshots[j].Device })
		res.Groups = append(res.Groups, info)
	}
	sort.Slice(res.Groups, func(i, j int) bool {
		a, b := res.Groups[i], res.Groups[j]
		if a.InstanceID != b.InstanceID {
			return a.InstanceID < b.InstanceID
		}
		if a.Generation != b.Generation {
			return a.Generation > b.Generation
		}
		return a.GroupID < b.GroupID
	})
	return res, nil
}

func sortedRegions(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
