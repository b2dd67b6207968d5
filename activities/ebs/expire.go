package ebs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// FindCopyDestinationsInput names a source region.
type FindCopyDestinationsInput struct {
	Region string `json:"region"`
}

// FindCopyDestinationsResult lists the destinations the source region
// copies to: regions of its own account, and account:region (ebstags.Dest)
// when the worker has a copy role for other accounts.
type FindCopyDestinationsResult struct {
	Destinations []string `json:"destinations"`
}

// FindCopyDestinations collects the destinations a region's snapshots are
// copied to: the Copy_Dest tags of its instances and of its primary
// snapshots (an instance may have changed its tag, or be gone, while
// copies remain; a primary keeps the tag it was taken with, so its
// destinations are expired until the primary itself is gone, and its
// copies share its DeleteOn). Destinations in other accounts are listed
// only when the worker can act there (--ebs-copy-role), as for copying.
func (a *EBS) FindCopyDestinations(ctx context.Context, in FindCopyDestinationsInput) (*FindCopyDestinationsResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	var account string // the worker's, to tell "own-account:region" from another account
	var err error
	if a.EC2In != nil {
		if account, err = a.account(ctx); err != nil {
			return nil, err
		}
	}
	set := map[string]bool{}
	add := func(v string) {
		dests, _ := ebstags.ParseCopyDestinations(v, account, in.Region)
		for _, d := range dests {
			if !d.CrossAccount() || a.EC2In != nil {
				set[d.String()] = true
			}
		}
	}
	err = eachInstance(ctx, api, []types.Filter{ec2Filter("tag-key", ebstags.CopyDest)}, func(i types.Instance) {
		add(TagMap(i.Tags)[ebstags.CopyDest])
	})
	if err != nil {
		return nil, err
	}
	err = eachSnapshot(ctx, api, []types.Filter{ec2Filter("tag-key", ebstags.CopyDest), ec2TagFilter(ebstags.Type, ebstags.TypeAutomated)}, func(s types.Snapshot) {
		if t := TagMap(s.Tags); !ebstags.IsCopy(t) {
			add(t[ebstags.CopyDest])
		}
	})
	if err != nil {
		return nil, err
	}
	res := &FindCopyDestinationsResult{Destinations: []string{}}
	for d := range set {
		res.Destinations = append(res.Destinations, d)
	}
	sort.Strings(res.Destinations)
	return res, nil
}

// CarryKeepForeverInput names a source region and one of its destinations.
type CarryKeepForeverInput struct {
	SourceRegion string `json:"sourceRegion"`
	Destination  string `json:"destination"`
	DryRun       bool   `json:"dryRun,omitempty"`
}

// CarryKeepForeverResult lists the copies given KeepForever.
type CarryKeepForeverResult struct {
	Carried []string `json:"carried,omitempty"`
}

// CarryKeepForever tags with KeepForever every copy, in the destination, of
// a source-region snapshot that has KeepForever (set by an operator after
// the copy was made), so the copy is kept as well.
func (a *EBS) CarryKeepForever(ctx context.Context, in CarryKeepForeverInput) (*CarryKeepForeverResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	keep, err := keepForeverPrimaries(ctx, a.EC2(in.SourceRegion))
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(keep))
	for id := range keep {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	dst, _, err := a.destEC2(in.Destination)
	if err != nil {
		return nil, activities.Invalid(err)
	}
	copies, err := copiesOf(ctx, dst, ids)
	if err != nil {
		return nil, fmt.Errorf("look for copies in %s: %w", in.Destination, err)
	}
	res := &CarryKeepForeverResult{}
	for _, id := range ids {
		for _, c := range copies[id] {
			if ebstags.HasKeepForever(TagMap(c.Tags)) {
				continue
			}
			cid := aws.ToString(c.SnapshotId)
			if !in.DryRun {
				// A copy just listed may be new: NotFound is retried for a
				// while; a copy that stays unknown was deleted meanwhile.
				err := a.retryNotFound(ctx, func() error {
					_, err := dst.CreateTags(ctx, &ec2.CreateTagsInput{
						Resources: []string{cid}, Tags: ec2Tags(map[string]string{ebstags.KeepForever: keep[id]}),
					})
					return err
				}, "tag copy %s in %s with KeepForever", cid, in.Destination)
				if err != nil && errors.Is(err, errStillNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
			}
			res.Carried = capAppend(res.Carried, cid)
		}
	}
	return res, nil
}

// keepForeverPrimaries maps a region's primary snapshots with KeepForever to
// the tag's value.
func keepForeverPrimaries(ctx context.Context, api EC2API) (map[string]string, error) {
	keep := map[string]string{}
	err := eachSnapshot(ctx, api, []types.Filter{ec2Filter("tag-key", ebstags.KeepForever)}, func(s types.Snapshot) {
		if t := TagMap(s.Tags); !ebstags.IsCopy(t) {
			keep[aws.ToString(s.SnapshotId)] = t[ebstags.KeepForever]
		}
	})
	return keep, err
}

// ExpireSnapshotsInput asks for one region's expiry on behalf of an owner
// region: the region itself, or one of the owner's copy destinations.
type ExpireSnapshotsInput struct {
	Region string `json:"region"`
	Owner  string `json:"owner"`
	// Today is the run's UTC date (or --as-of): DeleteOn <= Today expires.
	Today  time.Time `json:"today"`
	DryRun bool      `json:"dryRun,omitempty"`
}

// ExpiredSnapshot is a snapshot deleted (or, in a dry run, to be deleted).
type ExpiredSnapshot struct {
	SnapshotID  string `json:"snapshotId"`
	Region      string `json:"region"`
	DeleteOn    string `json:"deleteOn"`
	GroupID     string `json:"groupId,omitempty"`
	Description string `json:"description,omitempty"`
}

// ExpireSnapshotsResult is one region's expiry.
type ExpireSnapshotsResult struct {
	Region       string            `json:"region"`
	Deleted      []ExpiredSnapshot `json:"deleted,omitempty"`
	DeletedCount int               `json:"deletedCount"`
	// Kept counts the automated snapshots kept, by reason (KeepForever, not due, ...).
	Kept map[string]int `json:"kept,omitempty"`
	// Problems are snapshots kept for a bad DeleteOn: reported, for a person to fix.
	Problems []SnapshotFailure `json:"problems,omitempty"`
	// Failed are snapshots whose deletion EC2 refused (an AMI uses them).
	Failed []SnapshotFailure `json:"failed,omitempty"`
}

// ExpireSnapshots deletes the region's snapshots tagged Type=Automated whose
// DeleteOn is on or before Today, never one with KeepForever, never one
// without Type=Automated (see ebstags.Expiry). The seed's snapshots are
// expired by the same rule: it wrote those tags. In a destination region it
// deletes only the owner's copies (Lifeboat's by Source_Region, the seed's
// by the source region their Description names), and keeps those whose primary has
// KeepForever even if that tag has not been carried over yet. A snapshot
// already gone counts as deleted, so a retry resumes where it stopped. In a
// dry run it only lists.
func (a *EBS) ExpireSnapshots(ctx context.Context, in ExpireSnapshotsInput) (*ExpireSnapshotsResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	filters := []types.Filter{ec2TagFilter(ebstags.Type, ebstags.TypeAutomated)}
	var keepPrimary map[string]string
	// In another account (Region is account:region), only Lifeboat's copies
	// carrying this account as Source_Account go.
	var ownerAccount string
	if in.Region != in.Owner {
		dst, dest, err := a.destEC2(in.Region)
		if err != nil {
			return nil, activities.Invalid(err)
		}
		api = dst
		if dest.CrossAccount() {
			if ownerAccount, err = a.account(ctx); err != nil {
				return nil, err
			}
			if ownerAccount == "" {
				return nil, activities.Invalid(fmt.Errorf("expire copies in %s: the worker does not know its own account", in.Region))
			}
		}
		// Every copy here: the seed's copies carry no Source_Region, so
		// ebstags.Expiry tells the owner's copies from others'.
		filters = append(filters, ec2Filter("tag-key", ebstags.SourceSnapshotID))
		if keepPrimary, err = keepForeverPrimaries(ctx, a.EC2(in.Owner)); err != nil {
			return nil, fmt.Errorf("list KeepForever snapshots in %s: %w", in.Owner, err)
		}
	}
	res := &ExpireSnapshotsResult{Region: in.Region, Kept: map[string]int{}}
	var due []types.Snapshot
	err := eachSnapshot(ctx, api, filters, func(s types.Snapshot) {
		t := TagMap(s.Tags)
		v := ebstags.Expiry(t, in.Region, in.Owner, in.Today)
		if ownerAccount != "" {
			v = ebstags.ExpiryInAccount(t, ownerAccount, in.Owner, in.Today)
		}
		if v.Delete {
			if _, ok := keepPrimary[t[ebstags.SourceSnapshotID]]; ok {
				v = ebstags.Verdict{Reason: ebstags.KeepForeverSet}
			}
		}
		if !v.Delete {
			res.Kept[v.Reason]++
			if v.Reason == ebstags.KeepBadDeleteOn {
				res.Problems = capAppend(res.Problems, snapshotFailure(s, in.Region, fmt.Sprintf("DeleteOn %q is not a date: kept", t[ebstags.DeleteOn])))
			}
			return
		}
		due = append(due, s)
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(due, func(i, j int) bool { return aws.ToString(due[i].SnapshotId) < aws.ToString(due[j].SnapshotId) })
	for i, s := range due {
		t := TagMap(s.Tags)
		id := aws.ToString(s.SnapshotId)
		hb.Record(map[string]int{"deleted": res.DeletedCount, "due": len(due), "at": i})
		if !in.DryRun {
			_, err := api.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
			switch {
			case err == nil, ec2NotFound(err):
			case ec2Rejected(ec2Code(err)):
				// E.g. InvalidSnapshot.InUse: an AMI uses it. Reported, kept.
				res.Failed = capAppend(res.Failed, snapshotFailure(s, in.Region, fmt.Sprintf("delete: %v", err)))
				continue
			default:
				return nil, fmt.Errorf("delete snapshot %s in %s: %w", id, in.Region, err)
			}
			logInfo(ctx, "Snapshot expired", "snapshot", id, "region", in.Region, "deleteOn", t[ebstags.DeleteOn])
		}
		res.DeletedCount++
		res.Deleted = capAppend(res.Deleted, ExpiredSnapshot{
			SnapshotID: id, Region: in.Region, DeleteOn: t[ebstags.DeleteOn], GroupID: t[ebstags.GroupID], Description: t[ebstags.Description],
		})
	}
	return res, nil
}

// account is the worker's account id, "" when the worker cannot tell
// (EBS.Account nil).
func (a *EBS) account(ctx context.Context) (string, error) {
	if a.Account == nil {
		return "", nil
	}
	id, err := a.Account(ctx)
	if err != nil {
		return "", fmt.Errorf("find the worker's account: %w", err)
	}
	return id, nil
}
