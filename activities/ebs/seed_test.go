package ebs

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// seedTags are the tags the seed's creator (and, with Source_SnapshotId,
// its copier) writes: no Lifeboat lineage.
func seedTags(deleteOn string, kv ...string) map[string]string {
	m := map[string]string{ebstags.Type: ebstags.TypeAutomated, ebstags.DeleteOn: deleteOn,
		ebstags.Description: "web-1 (i-0123) - vol-0456 (/dev/sdf) - us-east-1"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// The copier plans no seed primary, copied already or not, and refuses one
// asked for directly; Lifeboat's own primary beside them is copied.
func TestCopierLeavesSeedPrimaries(t *testing.T) {
	t.Parallel()
	const a, b = "us-east-1", "us-west-2"
	w := newFakeWorld(a, b)
	copied := w[a].add(seedTags("2026-11-29", ebstags.CopyDest, b), types.SnapshotStateCompleted)
	w[b].add(seedTags("2026-11-29", ebstags.CopyDest, b, ebstags.SourceSnapshotID, copied), types.SnapshotStateCompleted)
	uncopied := w[a].add(seedTags("2026-11-29", ebstags.CopyDest, b), types.SnapshotStateCompleted)
	ours := w[a].add(map[string]string{ebstags.Type: ebstags.TypeAutomated, ebstags.DeleteOn: "2026-11-29", ebstags.CopyDest: b,
		ebstags.ManagedBy: ebstags.ManagedByLifeboat, ebstags.GroupID: "lbg-i-1-20261122", ebstags.Device: "/dev/sdf"}, types.SnapshotStateCompleted)
	e := fakeEBS(w)
	ctx := context.Background()

	plan, err := e.PlanSnapshotCopies(ctx, PlanSnapshotCopiesInput{Region: a})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Destinations) != 1 || !slices.Equal(plan.Destinations[0].ToCopy, []string{ours}) || plan.Destinations[0].AlreadyCopied != 0 || plan.SeedSkipped != 2 {
		t.Fatalf("plan %+v, want only %s to copy and 2 seed primaries skipped", plan, ours)
	}
	res, err := e.CopySnapshotsToRegion(ctx, CopySnapshotsToRegionInput{SourceRegion: a, Destination: b, SnapshotIDs: []string{copied, uncopied}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Started) != 0 || len(res.Existing) != 0 || len(res.Failed) != 2 || w[b].calls["CopySnapshot"] != 0 {
		t.Fatalf("copying seed primaries directly: %+v (%d CopySnapshot calls), want both refused", res, w[b].calls["CopySnapshot"])
	}
}

// The source region's run expires the seed's due copies in a destination
// (they name no Source_Region: their Description names the source), never
// a KeepForever one, nor one whose primary has KeepForever; the
// destination's own run leaves them to it.
func TestExpireSeedCopiesInDestination(t *testing.T) {
	t.Parallel()
	const a, b = "us-east-1", "us-west-2"
	w := newFakeWorld(a, b)
	kept := w[a].add(seedTags("2026-11-01", ebstags.CopyDest, b, ebstags.KeepForever, "Yes"), types.SnapshotStateCompleted)
	due := w[b].add(seedTags("2026-11-22", ebstags.SourceSnapshotID, "snap-gone"), types.SnapshotStateCompleted)
	later := w[b].add(seedTags("2026-11-23", ebstags.SourceSnapshotID, "snap-gone"), types.SnapshotStateCompleted)
	forever := w[b].add(seedTags("2026-11-01", ebstags.SourceSnapshotID, "snap-gone", ebstags.KeepForever, ""), types.SnapshotStateCompleted)
	ofKept := w[b].add(seedTags("2026-11-01", ebstags.SourceSnapshotID, kept), types.SnapshotStateCompleted)
	e := fakeEBS(w)
	ctx := context.Background()

	home, err := e.ExpireSnapshots(ctx, ExpireSnapshotsInput{Region: b, Owner: b, Today: ebsTestDay})
	if err != nil || home.DeletedCount != 0 || home.Kept[ebstags.KeepOtherOwner] != 3 {
		t.Fatalf("%s's own run: %+v %v, want the seed copies left to %s", b, home, err, a)
	}
	res, err := e.ExpireSnapshots(ctx, ExpireSnapshotsInput{Region: b, Owner: a, Today: ebsTestDay})
	if err != nil || res.DeletedCount != 1 || res.Deleted[0].SnapshotID != due {
		t.Fatalf("%s's run in %s: %+v %v, want only %s deleted", a, b, res, err, due)
	}
	for _, id := range []string{later, forever, ofKept} {
		if _, ok := w[b].snaps[id]; !ok {
			t.Errorf("%s was deleted", id)
		}
	}
}
