package ebs

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// volumeState is every volume of a region: its state, attachments, size,
// snapshot and tags, by id.
func volumeState(t *testing.T, e *testenv.Env, region string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := ec2.NewDescribeVolumesPaginator(e.EC2(region), &ec2.DescribeVolumesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("describe volumes in %s: %v", region, err)
		}
		for _, v := range page.Volumes {
			if v.State == types.VolumeStateDeleting || v.State == types.VolumeStateDeleted {
				continue
			}
			s := string(v.State) + " " + aws.ToString(v.SnapshotId) + " " + aws.ToString(v.AvailabilityZone)
			for _, a := range v.Attachments {
				s += " attached:" + aws.ToString(a.InstanceId) + "@" + aws.ToString(a.Device) + ":" + string(a.State)
			}
			for _, tag := range v.Tags {
				s += " " + aws.ToString(tag.Key) + "=" + aws.ToString(tag.Value)
			}
			out[aws.ToString(v.VolumeId)] = s
		}
	}
	return out
}

// A snapshots restore test makes one volume per snapshot of the instance's
// newest complete group in the chosen zone, measures the RTO, checks them,
// tags the group lifeboat:restore-tested, and deletes exactly the volumes
// it made: every other volume of the region, the source instance's
// included, is as it was. A failing check command fails the test with its
// output, tags the failure and still deletes the volumes.
func TestIntegrationSnapshotsRestoreTest(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 5*time.Minute)
	lb := e.Client()
	const region = "eu-west-2"
	source := e.RunInstance(t, region, region+"a", map[string]string{"Backup": "Yes", "Name": "rt"}, "/dev/sdf")
	create, err := lb.StartSnapshotStep(ctx, client.SnapshotStepCreate, region, ebs.Options{})
	if err != nil {
		t.Fatalf("start create: %v", err)
	}
	if res, err := lb.WaitSnapshotCreate(ctx, create.ID, nil); err != nil || res.GroupsCreated != 1 {
		t.Fatalf("create: %v %+v", err, res)
	}
	group := ebstags.GroupIDFor(source, ebstags.Day(time.Now()))
	snaps := map[string]testenv.Snapshot{}
	for id, s := range e.Snapshots(t, region) {
		if s.Tags[ebstags.GroupID] == group {
			snaps[id] = s
		}
	}
	if len(snaps) != 2 {
		t.Fatalf("group %s has %d snapshots, want 2", group, len(snaps))
	}
	devicesBefore := e.InstanceDevices(t, region, source)
	volumesBefore := volumeState(t, e, region)

	requireNothingLeft := func(testID string) {
		t.Helper()
		if got := e.InstanceDevices(t, region, source); !reflect.DeepEqual(got, devicesBefore) {
			t.Errorf("source instance's volumes changed: %v, was %v", got, devicesBefore)
		}
		if got := volumeState(t, e, region); !reflect.DeepEqual(got, volumesBefore) {
			t.Errorf("volumes of %s after restore test %s:\n%v\nwant as before:\n%v", region, testID, got, volumesBefore)
		}
	}
	requireTag := func(outcome string) {
		t.Helper()
		for id := range snaps {
			s := e.Snapshots(t, region)[id]
			_, got, rto, err := ebstags.ParseRestoreTested(s.Tags[ebstags.RestoreTested])
			if err != nil || got != outcome || rto <= 0 {
				t.Errorf("snapshot %s: %s=%q (%v), want %s with an RTO", id, ebstags.RestoreTested, s.Tags[ebstags.RestoreTested], err, outcome)
			}
		}
	}

	run, err := lb.StartSnapshotsRestoreTest(ctx, ebs.RestoreTestInput{Region: region, InstanceID: source, AvailabilityZone: region + "b",
		CheckCommand: `test -n "$LIFEBOAT_SCRATCH_VOLUME_IDS" && echo "checked $LIFEBOAT_SCRATCH_VOLUMES"`})
	if err != nil {
		t.Fatalf("start restore test: %v", err)
	}
	res, err := lb.WaitSnapshotsRestoreTest(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("restore test %s: %v", run.ID, err)
	}
	if res.GroupID != group || len(res.Volumes) != 2 || res.RTOSeconds <= 0 || len(res.Deleted) != 2 {
		t.Errorf("result %+v: want group %s, 2 volumes made and deleted, an RTO", res, group)
	}
	for _, v := range res.Volumes {
		if _, ok := snaps[v.SnapshotID]; !ok || !strings.Contains(res.CheckOutput, v.Device+"="+v.VolumeID) {
			t.Errorf("volume %+v: not from the group, or not named to the check command (%q)", v, res.CheckOutput)
		}
	}
	requireTag(ebstags.VerifiedOK)
	requireNothingLeft(run.ID)

	run, err = lb.StartSnapshotsRestoreTest(ctx, ebs.RestoreTestInput{Region: region, GroupID: group, AvailabilityZone: region + "a",
		CheckCommand: `echo "no filesystem on $LIFEBOAT_SCRATCH_VOLUME_IDS"; exit 2`})
	if err == nil {
		_, err = lb.WaitSnapshotsRestoreTest(ctx, run.ID, nil)
	}
	var failed *client.WorkflowFailedError
	if !errors.As(err, &failed) || failed.Type != activities.ErrCheckCommand || !strings.Contains(failed.Msg, "exited 2") ||
		!strings.Contains(failed.Msg, "no filesystem on vol-") {
		t.Fatalf("restore test with a failing check command: %v, want %s with the command's output", err, activities.ErrCheckCommand)
	}
	requireTag(ebstags.VerifiedFailed)
	requireNothingLeft(run.ID)
}
