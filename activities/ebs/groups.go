package ebs

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebsgroups"
)

// The group listing lives in internal/ebsgroups, which the CLI's
// `snapshots list` reads too.
type (
	ListSnapshotGroupsInput  = ebsgroups.ListInput
	ListSnapshotGroupsResult = ebsgroups.ListResult
	SnapshotGroupInfo        = ebsgroups.Info
	GroupCopies              = ebsgroups.GroupCopies
	GroupSnapshot            = ebsgroups.Snapshot
)

// loadGroups reads the Lifeboat snapshot groups of a region matching the
// filters; EC2's refusals are non-retryable, as everywhere.
func loadGroups(ctx context.Context, api EC2API, filters []types.Filter) (map[string]*ebsgroups.Group, error) {
	groups, err := ebsgroups.Load(ctx, api, filters)
	return groups, classifyEC2Err(err)
}

// ListSnapshotGroups lists a region's Lifeboat snapshot groups (primaries,
// and copies made from other regions) with their generation, state,
// DeleteOn and, for primaries, their copies in each destination.
func (a *EBS) ListSnapshotGroups(ctx context.Context, in ListSnapshotGroupsInput) (*ListSnapshotGroupsResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	res, err := ebsgroups.List(ctx, func(r string) ebsgroups.API { return a.EC2(r) }, in)
	return res, classifyEC2Err(err)
}
