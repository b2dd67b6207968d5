// Package ebsgroups reads Lifeboat's EBS snapshot groups from EC2 tags:
// every snapshot taken together of one instance, with its copies in other
// regions. The EBS activities (expire, restore) and the CLI's
// `snapshots list` both read groups through it.
package ebsgroups

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// API is the part of the EC2 client reading groups needs.
type API interface {
	ec2.DescribeSnapshotsAPIClient
}

// TagMap turns EC2 tags into a map.
func TagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// TagFilter filters on a tag's values.
func TagFilter(key string, values ...string) types.Filter {
	return types.Filter{Name: aws.String("tag:" + key), Values: values}
}

// EachSnapshot calls fn for every snapshot of this account matching the
// filters. Errors read "describe snapshots: <EC2's error>".
func EachSnapshot(ctx context.Context, api API, filters []types.Filter, fn func(types.Snapshot)) error {
	p := ec2.NewDescribeSnapshotsPaginator(api, &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"}, Filters: filters, MaxResults: aws.Int32(1000),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe snapshots: %w", err)
		}
		for _, s := range page.Snapshots {
			fn(s)
		}
	}
	return nil
}

// Snapshot is one snapshot of a group.
type Snapshot struct {
	SnapshotID string `json:"snapshotId"`
	VolumeID   string `json:"volumeId"`
	Device     string `json:"device"`
	State      string `json:"state"`
}

// Group is the snapshots of one group found in one region: the primaries,
// or (in a destination) their copies.
type Group struct {
	ID           string
	InstanceID   string
	Generation   int
	Size         int // the group-size tag; 0 when absent
	CreatedAt    time.Time
	DeleteOn     string
	KeepForever  bool
	SourceRegion string // set when the group is made of copies
	CopyDest     string
	// Verified is the newest lifeboat:verified tag of its snapshots
	// ("<RFC3339>:<ok|failed>"), empty when never verified.
	Verified string
	// RestoreTested is the newest lifeboat:restore-tested tag of its
	// snapshots ("<RFC3339>:<ok|failed>:<RTO seconds>"), empty when never
	// restore-tested.
	RestoreTested string
	Members       []types.Snapshot
}

// Load reads the Lifeboat snapshot groups of a region matching the filters.
func Load(ctx context.Context, api API, filters []types.Filter) (map[string]*Group, error) {
	groups := map[string]*Group{}
	fs := append([]types.Filter{TagFilter(ebstags.ManagedBy, ebstags.ManagedByLifeboat)}, filters...)
	err := EachSnapshot(ctx, api, fs, func(s types.Snapshot) {
		t := TagMap(s.Tags)
		id := t[ebstags.GroupID]
		if id == "" {
			return
		}
		g := groups[id]
		if g == nil {
			g = &Group{ID: id, InstanceID: t[ebstags.SourceInstanceID], DeleteOn: t[ebstags.DeleteOn], SourceRegion: t[ebstags.SourceRegion], CopyDest: t[ebstags.CopyDest]}
			g.Generation, _ = ebstags.ParseGeneration(t[ebstags.Generation])
			groups[id] = g
		}
		if n, err := strconv.Atoi(t[ebstags.GroupSize]); err == nil && n > g.Size {
			g.Size = n
		}
		at := aws.ToTime(s.StartTime)
		if v, err := time.Parse(time.RFC3339, t[ebstags.CreatedAt]); err == nil {
			at = v // copies have their own StartTime; the tag is the original's
		}
		if g.CreatedAt.IsZero() || at.Before(g.CreatedAt) {
			g.CreatedAt = at
		}
		if ebstags.HasKeepForever(t) {
			g.KeepForever = true
		}
		if v := t[ebstags.Verified]; v > g.Verified { // same UTC layout: sorts by time
			g.Verified = v
		}
		if v := t[ebstags.RestoreTested]; v > g.RestoreTested {
			g.RestoreTested = v
		}
		g.Members = append(g.Members, s)
	})
	return groups, err
}

// ByDevice keeps one snapshot per device, preferring a completed one (a
// destination may hold a failed copy beside a good one).
func (g *Group) ByDevice() map[string]types.Snapshot {
	out := map[string]types.Snapshot{}
	sorted := append([]types.Snapshot(nil), g.Members...)
	sort.Slice(sorted, func(i, j int) bool { return aws.ToString(sorted[i].SnapshotId) < aws.ToString(sorted[j].SnapshotId) })
	for _, s := range sorted {
		dev := TagMap(s.Tags)[ebstags.Device]
		if cur, ok := out[dev]; !ok || (cur.State != types.SnapshotStateCompleted && s.State == types.SnapshotStateCompleted) {
			out[dev] = s
		}
	}
	return out
}

// State is the group's state: completed, pending, error or incomplete.
func (g *Group) State() string {
	devs := g.ByDevice()
	if g.Size == 0 || len(devs) < g.Size {
		return fmt.Sprintf("incomplete (%d/%d)", len(devs), g.Size)
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

// ListInput filters the groups of a region.
type ListInput struct {
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

// Kinds of listed rows.
const (
	KindGroup = "group" // a Lifeboat group
	KindSeed  = "seed"  // one snapshot made by the seed's creator or copier
)

// Info describes one group as found in a region.
type Info struct {
	GroupID string `json:"groupId"`
	// Kind is KindGroup, or KindSeed for a snapshot of the seed's jobs
	// (its GroupID is "seed:<snapshot id>"): expired on its DeleteOn,
	// never copied by Lifeboat.
	Kind        string    `json:"kind"`
	InstanceID  string    `json:"instanceId"`
	Generation  int       `json:"generation"`
	CreatedAt   time.Time `json:"createdAt"`
	Size        int       `json:"size"`
	State       string    `json:"state"`
	DeleteOn    string    `json:"deleteOn"`
	KeepForever bool      `json:"keepForever"`
	// SourceRegion is set when the group here is made of copies.
	SourceRegion string `json:"sourceRegion,omitempty"`
	// Verified is the group's last verification, "<RFC3339>:<ok|failed>"
	// (the lifeboat:verified tag SnapshotsVerify writes).
	Verified string `json:"verified,omitempty"`
	// RestoreTested is the group's last restore test,
	// "<RFC3339>:<ok|failed>:<RTO seconds>" (the lifeboat:restore-tested
	// tag SnapshotsRestoreTest writes).
	RestoreTested string `json:"restoreTested,omitempty"`
	// SourceSnapshotID is, on a seed copy, the primary it was copied from.
	SourceSnapshotID string `json:"sourceSnapshotId,omitempty"`
	// ExpiredBy is, on a seed row, the region whose chain expires it
	// (ebstags.OwnerRegion).
	ExpiredBy string        `json:"expiredBy,omitempty"`
	Copies    []GroupCopies `json:"copies,omitempty"`
	Snapshots []Snapshot    `json:"snapshots"`
}

// ListResult lists groups, by instance, newest first.
type ListResult struct {
	Groups []Info `json:"groups"`
}

// List lists a region's Lifeboat snapshot groups (primaries,
// and copies made from other regions) with their generation, state,
// DeleteOn and, for primaries, their copies in each destination.
func List(ctx context.Context, ec2For func(region string) API, in ListInput) (*ListResult, error) {
	var filters []types.Filter
	if in.InstanceID != "" {
		filters = append(filters, TagFilter(ebstags.SourceInstanceID, in.InstanceID))
	}
	if in.GroupID != "" {
		filters = append(filters, TagFilter(ebstags.GroupID, in.GroupID))
	}
	groups, err := Load(ctx, ec2For(in.Region), filters)
	if err != nil {
		return nil, err
	}
	dests := map[string]bool{}
	for _, g := range groups {
		if g.SourceRegion == "" {
			ds, _ := ebstags.ParseCopyDest(g.CopyDest, in.Region)
			for _, d := range ds {
				dests[d] = true
			}
		}
	}
	copies := map[string]map[string]*GroupCopies{} // group -> region -> counts
	for _, d := range sortedRegions(dests) {
		fs := append([]types.Filter{TagFilter(ebstags.SourceRegion, in.Region)}, filters...)
		err := EachSnapshot(ctx, ec2For(d), fs, func(s types.Snapshot) {
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
	res := &ListResult{Groups: []Info{}}
	for _, g := range groups {
		info := Info{
			GroupID: g.ID, Kind: KindGroup, InstanceID: g.InstanceID, Generation: g.Generation, CreatedAt: g.CreatedAt, Size: g.Size,
			State: g.State(), DeleteOn: g.DeleteOn, KeepForever: g.KeepForever, SourceRegion: g.SourceRegion, Verified: g.Verified,
			RestoreTested: g.RestoreTested,
		}
		for _, d := range sortedRegions(dests) {
			if c := copies[g.ID][d]; c != nil {
				info.Copies = append(info.Copies, *c)
			}
		}
		for dev, s := range g.ByDevice() {
			t := TagMap(s.Tags)
			info.Snapshots = append(info.Snapshots, Snapshot{
				SnapshotID: aws.ToString(s.SnapshotId), VolumeID: t[ebstags.SourceVolumeID], Device: dev, State: string(s.State),
			})
		}
		sort.Slice(info.Snapshots, func(i, j int) bool { return info.Snapshots[i].Device < info.Snapshots[j].Device })
		res.Groups = append(res.Groups, info)
	}
	if in.GroupID == "" || strings.HasPrefix(in.GroupID, ebstags.SeedGroupPrefix) {
		seeds, err := listSeed(ctx, ec2For, in)
		if err != nil {
			return nil, err
		}
		res.Groups = append(res.Groups, seeds...)
	}
	sort.Slice(res.Groups, func(i, j int) bool {
		a, b := res.Groups[i], res.Groups[j]
		if a.Kind != b.Kind {
			return a.Kind == KindGroup // Lifeboat's groups first, then the seed's
		}
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

// listSeed lists, one row each, a region's snapshots made by the seed's
// creator and copier (ebstags.IsSeed), so an operator sees what Lifeboat
// will expire and when; for a seed primary, its copies in its Copy_Dest
// regions (found by Source_SnapshotId, as the seed's copier looks).
func listSeed(ctx context.Context, ec2For func(region string) API, in ListInput) ([]Info, error) {
	var rows []Info
	copyDest := map[string][]string{} // destination -> primaries naming it
	err := EachSnapshot(ctx, ec2For(in.Region), []types.Filter{TagFilter(ebstags.Type, ebstags.TypeAutomated)}, func(s types.Snapshot) {
		t := TagMap(s.Tags)
		id := aws.ToString(s.SnapshotId)
		if !ebstags.IsSeed(t) || (in.GroupID != "" && in.GroupID != ebstags.SeedGroupPrefix+id) {
			return
		}
		inst, vol, dev, _ := ebstags.ParseDescription(t[ebstags.Description])
		if in.InstanceID != "" && inst != in.InstanceID {
			return
		}
		if vol == "" {
			vol = aws.ToString(s.VolumeId)
		}
		info := Info{
			GroupID: ebstags.SeedGroupPrefix + id, Kind: KindSeed, InstanceID: inst, CreatedAt: aws.ToTime(s.StartTime), Size: 1,
			State: string(s.State), DeleteOn: t[ebstags.DeleteOn], KeepForever: ebstags.HasKeepForever(t),
			SourceRegion: ebstags.CopySourceRegion(t), SourceSnapshotID: t[ebstags.SourceSnapshotID],
			ExpiredBy: ebstags.OwnerRegion(t, in.Region),
			Snapshots: []Snapshot{{SnapshotID: id, VolumeID: vol, Device: dev, State: string(s.State)}},
		}
		if !ebstags.IsCopy(t) {
			ds, _ := ebstags.ParseCopyDest(t[ebstags.CopyDest], in.Region)
			for _, d := range ds {
				copyDest[d] = append(copyDest[d], id)
			}
		}
		rows = append(rows, info)
	})
	if err != nil {
		return nil, err
	}
	copies := map[string][]GroupCopies{} // primary -> its copies, by destination
	for _, d := range sortedRegions(mapKeys(copyDest)) {
		wanted := map[string]bool{}
		for _, id := range copyDest[d] {
			wanted[id] = true
		}
		counts := map[string]*GroupCopies{}
		err := EachSnapshot(ctx, ec2For(d), []types.Filter{{Name: aws.String("tag-key"), Values: []string{ebstags.SourceSnapshotID}}}, func(s types.Snapshot) {
			src := TagMap(s.Tags)[ebstags.SourceSnapshotID]
			if !wanted[src] {
				return
			}
			c := counts[src]
			if c == nil {
				c = &GroupCopies{Region: d}
				counts[src] = c
			}
			c.Total++
			if s.State == types.SnapshotStateCompleted {
				c.Completed++
			}
		})
		if err != nil {
			return nil, fmt.Errorf("list copies of seed snapshots in %s: %w", d, err)
		}
		for src, c := range counts {
			copies[src] = append(copies[src], *c)
		}
	}
	for i := range rows {
		rows[i].Copies = copies[rows[i].Snapshots[0].SnapshotID]
	}
	return rows, nil
}

func mapKeys(m map[string][]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func sortedRegions(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
