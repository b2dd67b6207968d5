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

// VerifySnapshotGroupInput names the group a SnapshotsVerify checks.
type VerifySnapshotGroupInput struct {
	Region  string `json:"region"`
	GroupID string `json:"groupId"`
	// At is the workflow's time, written into the lifeboat:verified tag.
	At time.Time `json:"at"`
}

// VerifySnapshotGroupResult is what was found. Problem is empty when the
// group is sound; otherwise it is the first thing wrong, in one line.
type VerifySnapshotGroupResult struct {
	GroupID    string    `json:"groupId"`
	InstanceID string    `json:"instanceId"`
	Generation int       `json:"generation"`
	CreatedAt  time.Time `json:"createdAt"`
	Size       int       `json:"size"`
	Snapshots  int       `json:"snapshots"`
	// SourceRegion is set when the group in Region is made of copies.
	SourceRegion string                  `json:"sourceRegion,omitempty"`
	Copies       []ebsgroups.GroupCopies `json:"copies,omitempty"`
	Problem      string                  `json:"problem,omitempty"`
	// Tagged counts the snapshots given the lifeboat:verified tag.
	Tagged int `json:"tagged"`
}

// groupTags are the tags every snapshot of a group carries with one value
// (copies included: CopyTags replicates them).
var groupTags = []string{
	ebstags.ManagedBy, ebstags.Type, ebstags.SourceInstanceID, ebstags.Generation, ebstags.GroupSize,
	ebstags.CreatedOn, ebstags.DeleteOn, ebstags.CopyDest,
}

// VerifySnapshotGroup checks one snapshot group without changing it,
// then tags every snapshot it found (primaries and copies) with
// lifeboat:verified=<At>:<ok|failed>. Sound means: every snapshot the
// group-size tag promises is present and completed; the lineage tags agree
// (one value of each group tag; a distinct device and a source volume per
// snapshot); and for a group of primaries, each destination its Copy_Dest
// names (a region of this account, or account:region, read through the
// worker's copy role) holds a completed copy of every snapshot, with the
// same device and volume tags. A destination in another account when the
// worker has no copy role is a problem, not skipped. A group not found in
// the region is InvalidInput.
func (a *EBS) VerifySnapshotGroup(ctx context.Context, in VerifySnapshotGroupInput) (*VerifySnapshotGroupResult, error) {
	if !ebstags.ValidRegion(in.Region) || strings.TrimSpace(in.GroupID) == "" {
		return nil, activities.Invalid(fmt.Errorf("verify needs a region (like us-east-1) and a group id, got %q and %q", in.Region, in.GroupID))
	}
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	groups, err := loadGroups(ctx, api, []types.Filter{ebsgroups.TagFilter(ebstags.GroupID, in.GroupID)})
	if err != nil {
		return nil, err
	}
	g := groups[in.GroupID]
	if g == nil {
		return nil, activities.Invalid(fmt.Errorf("no snapshot group %s in %s", in.GroupID, in.Region))
	}
	res := &VerifySnapshotGroupResult{
		GroupID: g.ID, InstanceID: g.InstanceID, Generation: g.Generation, CreatedAt: g.CreatedAt, Size: g.Size,
		Snapshots: len(g.Members), SourceRegion: g.SourceRegion,
	}
	where := fmt.Sprintf("group %s in %s", g.ID, in.Region)
	toTag := map[string][]string{in.Region: snapshotIDs(g.Members)}
	problem := checkMembers(where, g)

	// The copies, read even when a primary is wrong: a copy may name a
	// primary that was deleted. Those in another account are read through
	// the copy role, as the copier made them.
	clients := map[string]EC2API{in.Region: api}
	copies := map[string][]types.Snapshot{}
	var dests, noRole []string
	if g.SourceRegion == "" {
		if dests, noRole, err = a.verifyDestinations(ctx, g.CopyDest, in.Region); err != nil {
			return nil, err
		}
	}
	for _, d := range dests {
		dst, _, err := a.destEC2(d)
		if err != nil {
			return nil, activities.Invalid(err)
		}
		clients[d] = dst
		fs := []types.Filter{ebsgroups.TagFilter(ebstags.GroupID, g.ID), ebsgroups.TagFilter(ebstags.SourceRegion, in.Region)}
		err = eachSnapshot(ctx, dst, fs, func(s types.Snapshot) { copies[d] = append(copies[d], s) })
		if err != nil {
			return nil, fmt.Errorf("list copies of %s in %s: %w", g.ID, d, err)
		}
		toTag[d] = snapshotIDs(copies[d])
		c := ebsgroups.GroupCopies{Region: d, Total: len(copies[d])}
		for _, s := range copies[d] {
			if s.State == types.SnapshotStateCompleted {
				c.Completed++
			}
		}
		res.Copies = append(res.Copies, c)
	}
	if problem == "" {
		problem = checkPresent(where, in.Region, g, copies)
	}
	if problem == "" {
		problem = checkCopies(where, g, dests, copies)
	}
	if problem == "" && len(noRole) > 0 {
		// Not skipped in silence: a copy Copy_Dest promises that nobody
		// looked at is not a verified copy.
		problem = fmt.Sprintf("%s: %s names %s in another account, and this worker has no --ebs-copy-role to read it: its copies there are not verified",
			where, ebstags.CopyDest, strings.Join(noRole, ", "))
	}
	res.Problem = problem

	tag := ec2Tags(map[string]string{ebstags.Verified: ebstags.FormatVerified(in.At, problem == "")})
	regions := make([]string, 0, len(toTag))
	for r := range toTag {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		for _, chunk := range ec2Chunks(toTag[r], ec2FilterChunk) {
			err := a.retryNotFound(ctx, func() error {
				_, err := clients[r].CreateTags(ctx, &ec2.CreateTagsInput{Resources: chunk, Tags: tag})
				return err
			}, "tag %d snapshot(s) of %s in %s with %s", len(chunk), g.ID, r, ebstags.Verified)
			if err != nil && !errors.Is(err, errStillNotFound) {
				return nil, err
			}
			if err == nil {
				res.Tagged += len(chunk)
			}
		}
	}
	return res, nil
}

// verifyDestinations reads a group's Copy_Dest: the destinations whose
// copies verify reads, "region" in the worker's account or "account:region"
// in another (ebstags.Dest.String), and, apart, those in another account
// it cannot read because the worker has no copy role.
func (a *EBS) verifyDestinations(ctx context.Context, copyDest, region string) (dests, noRole []string, err error) {
	parsed, _ := ebstags.ParseCopyDestinations(copyDest, "", region)
	for _, d := range parsed {
		if d.CrossAccount() {
			// account:region may name the worker's own account.
			account, err := a.account(ctx)
			if err != nil {
				return nil, nil, err
			}
			parsed, _ = ebstags.ParseCopyDestinations(copyDest, account, region)
			break
		}
	}
	for _, d := range parsed {
		if d.CrossAccount() && a.EC2In == nil {
			noRole = append(noRole, d.String())
		} else {
			dests = append(dests, d.String())
		}
	}
	return dests, noRole, nil
}

func snapshotIDs(list []types.Snapshot) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, aws.ToString(s.SnapshotId))
	}
	sort.Strings(out)
	return out
}

func sortedByID(list []types.Snapshot) []types.Snapshot {
	out := append([]types.Snapshot(nil), list...)
	sort.Slice(out, func(i, j int) bool { return aws.ToString(out[i].SnapshotId) < aws.ToString(out[j].SnapshotId) })
	return out
}

// checkMembers checks the lineage tags of a group's snapshots: one value
// of each group tag (the first snapshot's, by id, is the reference), and a
// distinct device and a source volume on each.
func checkMembers(where string, g *ebsgroups.Group) string {
	members := sortedByID(g.Members)
	ref := TagMap(members[0].Tags)
	if ref[ebstags.GroupSize] == "" {
		return fmt.Sprintf("%s: snapshot %s has no %s tag", where, aws.ToString(members[0].SnapshotId), ebstags.GroupSize)
	}
	devices := map[string]string{}
	for _, s := range members {
		id, t := aws.ToString(s.SnapshotId), TagMap(s.Tags)
		for _, k := range groupTags {
			if t[k] != ref[k] {
				return fmt.Sprintf("%s: tags inconsistent: snapshot %s has %s=%q, snapshot %s has %q",
					where, id, k, t[k], aws.ToString(members[0].SnapshotId), ref[k])
			}
		}
		dev := t[ebstags.Device]
		switch {
		case dev == "":
			return fmt.Sprintf("%s: tags inconsistent: snapshot %s has no %s tag", where, id, ebstags.Device)
		case t[ebstags.SourceVolumeID] == "":
			return fmt.Sprintf("%s: tags inconsistent: snapshot %s has no %s tag", where, id, ebstags.SourceVolumeID)
		case devices[dev] != "" && s.State == types.SnapshotStateCompleted:
			return fmt.Sprintf("%s: tags inconsistent: snapshots %s and %s both claim device %s", where, devices[dev], id, dev)
		}
		if s.State == types.SnapshotStateCompleted || devices[dev] == "" {
			devices[dev] = id
		}
	}
	return ""
}

// checkPresent checks that every snapshot the group-size tag promises is
// there and completed. A missing primary is named from a copy of it that
// remains in a destination, when one does.
func checkPresent(where, region string, g *ebsgroups.Group, copies map[string][]types.Snapshot) string {
	devs := g.ByDevice()
	names := make([]string, 0, len(devs))
	for dev := range devs {
		names = append(names, dev)
	}
	sort.Strings(names)
	for _, dev := range names {
		s := devs[dev]
		if s.State != types.SnapshotStateCompleted {
			return fmt.Sprintf("%s: snapshot %s (%s) is %s, not completed", where, aws.ToString(s.SnapshotId), dev, s.State)
		}
	}
	if len(devs) >= g.Size {
		return ""
	}
	present := map[string]bool{}
	for _, s := range g.Members {
		present[aws.ToString(s.SnapshotId)] = true
	}
	dests := make([]string, 0, len(copies))
	for d := range copies {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		for _, c := range sortedByID(copies[d]) {
			t := TagMap(c.Tags)
			if src := t[ebstags.SourceSnapshotID]; src != "" && !present[src] {
				return fmt.Sprintf("%s: snapshot %s (%s) is missing (deleted?): %d of %d snapshots present; its copy %s remains in %s",
					where, src, t[ebstags.Device], len(devs), g.Size, aws.ToString(c.SnapshotId), d)
			}
		}
	}
	return fmt.Sprintf("%s: %d of %d snapshots present (devices %s); the missing one is not named anywhere (no copy of it remains)",
		where, len(devs), g.Size, strings.Join(names, ", "))
}

// checkCopies checks that each destination holds a completed copy of
// every primary, with the primary's device and volume tags.
func checkCopies(where string, g *ebsgroups.Group, dests []string, copies map[string][]types.Snapshot) string {
	devs := g.ByDevice()
	names := make([]string, 0, len(devs))
	for dev := range devs {
		names = append(names, dev)
	}
	sort.Strings(names)
	for _, d := range dests {
		bySource := map[string][]types.Snapshot{}
		for _, c := range sortedByID(copies[d]) {
			src := TagMap(c.Tags)[ebstags.SourceSnapshotID]
			bySource[src] = append(bySource[src], c)
		}
		for _, dev := range names {
			p := devs[dev]
			pid, pt := aws.ToString(p.SnapshotId), TagMap(p.Tags)
			cs := bySource[pid]
			if len(cs) == 0 {
				return fmt.Sprintf("%s: no copy of snapshot %s (%s) in %s, which %s names", where, pid, dev, d, ebstags.CopyDest)
			}
			best := cs[0]
			for _, c := range cs {
				if c.State == types.SnapshotStateCompleted {
					best = c
					break
				}
			}
			cid, ct := aws.ToString(best.SnapshotId), TagMap(best.Tags)
			if best.State != types.SnapshotStateCompleted {
				return fmt.Sprintf("%s: copy %s of snapshot %s (%s) in %s is %s, not completed", where, cid, pid, dev, d, best.State)
			}
			for _, k := range []string{ebstags.Device, ebstags.SourceVolumeID, ebstags.GroupSize, ebstags.Generation} {
				if ct[k] != pt[k] {
					return fmt.Sprintf("%s: tags inconsistent: copy %s in %s has %s=%q, its source %s has %q", where, cid, d, k, ct[k], pid, pt[k])
				}
			}
		}
	}
	return ""
}
