package ebs

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// A copy carries its primary's tags, Copy_Dest included: the copy made in
// us-west-2 of a us-east-1 primary tagged Copy_Dest=us-west-2,eu-west-1
// itself says eu-west-1. The us-west-2 copier must not copy it there (the
// seed's copier: "does not copy non-primary snapshots ... infinitely
// copying loops"); the primary's own copier is what copies to eu-west-1.
func TestPlanSnapshotCopiesNeverCopiesACopyToAThirdRegion(t *testing.T) {
	t.Parallel()
	const a, b, c = "us-east-1", "us-west-2", "eu-west-1"
	w := newFakeWorld(a, b, c)
	primaryTags := map[string]string{ebstags.Type: ebstags.TypeAutomated, ebstags.DeleteOn: "2026-11-29",
		ebstags.ManagedBy: ebstags.ManagedByLifeboat, ebstags.GroupID: "lbg-i-1-20261122", ebstags.Device: "/dev/sdf",
		ebstags.Description: "web (i-1) - vol-1 (/dev/sdf) - us-east-1", ebstags.CopyDest: b + "," + c}
	primary := w[a].add(primaryTags, types.SnapshotStateCompleted)
	copyInB := w[b].add(ebstags.CopyTags(primaryTags, primary, a), types.SnapshotStateCompleted)
	if got := w[b].tags(copyInB)[ebstags.CopyDest]; got != b+","+c {
		t.Fatalf("the copy's inherited Copy_Dest is %q: the test needs it to name %s", got, c)
	}
	ebs := fakeEBS(w)
	ctx := context.Background()

	// The copier of region B finds nothing to copy anywhere.
	plan, err := ebs.PlanSnapshotCopies(ctx, PlanSnapshotCopiesInput{Region: b})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range plan.Destinations {
		if len(d.ToCopy) > 0 {
			t.Errorf("region %s plans to copy %v to %s: a copy would be copied again", b, d.ToCopy, d.Destination)
		}
	}
	if plan.SourcePending != 0 || plan.SourceErrored != 0 {
		t.Errorf("region %s counts the copy as a source: %+v", b, plan)
	}
	// Even asked directly, it refuses to copy the copy.
	res, err := ebs.CopySnapshotsToRegion(ctx, CopySnapshotsToRegionInput{SourceRegion: b, Destination: c, SnapshotIDs: []string{copyInB}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Started) != 0 || len(res.Failed) != 1 {
		t.Errorf("copying the copy %s to %s: %+v, want it refused", copyInB, c, res)
	}
	if n := w[c].calls["CopySnapshot"]; n != 0 || len(w[c].snaps) != 0 {
		t.Fatalf("%s got %d CopySnapshot calls and holds %d snapshots, want none", c, n, len(w[c].snaps))
	}

	// The primary's region plans the one missing copy, to C, from the primary.
	plan, err = ebs.PlanSnapshotCopies(ctx, PlanSnapshotCopiesInput{Region: a})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]CopyPlan{b: {Destination: b, AlreadyCopied: 1}, c: {Destination: c, ToCopy: []string{primary}}}
	if len(plan.Destinations) != len(want) {
		t.Fatalf("region %s plans %+v, want %+v", a, plan.Destinations, want)
	}
	for _, d := range plan.Destinations {
		w := want[d.Destination]
		if d.AlreadyCopied != w.AlreadyCopied || len(d.ToCopy) != len(w.ToCopy) || (len(w.ToCopy) == 1 && d.ToCopy[0] != w.ToCopy[0]) {
			t.Errorf("region %s plans %+v for %s, want %+v", a, d, d.Destination, w)
		}
	}
}

// A destination in another account is planned only when the worker can act
// there (--ebs-copy-role, EBS.EC2In); otherwise it is reported and nothing
// is copied anywhere for it, not even into the same-named region here.
func TestPlanSnapshotCopiesAnotherAccountNeedsTheCopyRole(t *testing.T) {
	t.Parallel()
	const a, b, other = "us-east-1", "us-west-2", "222233334444"
	w := newFakeWorld(a, b)
	w[a].add(map[string]string{ebstags.Type: ebstags.TypeAutomated, ebstags.DeleteOn: "2026-11-29",
		ebstags.ManagedBy: ebstags.ManagedByLifeboat, ebstags.GroupID: "lbg-i-1-20261122", ebstags.Device: "/dev/sdf",
		ebstags.CopyDest: other + ":" + b}, types.SnapshotStateCompleted)
	ebs := fakeEBS(w)
	plan, err := ebs.PlanSnapshotCopies(context.Background(), PlanSnapshotCopiesInput{Region: a})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Destinations) != 0 || len(plan.Problems) != 1 || !strings.Contains(plan.Problems[0], other+":"+b+" is in another account and the worker has no --ebs-copy-role") {
		t.Errorf("plan without a copy role: %+v", plan)
	}
	// With the role, the destination is planned and looked up in that account.
	var asked []string
	ebs.EC2In = func(account, region string) (EC2API, error) {
		asked = append(asked, account+":"+region)
		return w[region], nil
	}
	plan, err = ebs.PlanSnapshotCopies(context.Background(), PlanSnapshotCopiesInput{Region: a})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Destinations) != 1 || plan.Destinations[0].Destination != other+":"+b || len(plan.Destinations[0].ToCopy) != 1 || len(asked) == 0 || asked[0] != other+":"+b {
		t.Errorf("plan with a copy role: %+v (clients asked for %v)", plan, asked)
	}
}
