package ebs

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// TestIntegrationSnapshotsCopyToAnotherAccount: an instance tagged
// Copy_Dest=ACCOUNT:REGION has its snapshots shared with that account
// (createVolumePermission) and copied there by the worker's --ebs-copy-role
// assumed in that account, with the primary's tags and Source_SnapshotId;
// a second run finds the copy by that tag and copies nothing again. A
// malformed account and the source itself are reported, never copied to.
func TestIntegrationSnapshotsCopyToAnotherAccount(t *testing.T) {
	e := shared(t)
	ctx := testenv.Context(t, 5*time.Minute)
	const src, dstRegion, account = "eu-south-1", "eu-south-2", testenv.BackupAccount
	dest := account + ":" + dstRegion
	e.CreateBackupRole(t, account, testenv.EBSCopyRoleName, testenv.EBSCopyExternalID)
	today := ebstags.Day(time.Now())
	base := e.Snapshots(t, src)
	inst := e.RunInstance(t, src, src+"a", map[string]string{"Backup": "Yes", "Name": "xacct-1",
		"Copy_Dest": dest + ",12345:" + dstRegion + "," + testenv.LifeboatAccount + ":" + src}, "/dev/sdf")

	lb := e.Client()
	run := func() *ebs.ChainResult {
		t.Helper()
		r, err := lb.StartSnapshotRun(ctx, ebs.RunInput{Regions: []string{src}, Options: ebs.Options{AsOf: day(today, 0)}})
		if err != nil {
			t.Fatalf("start run: %v", err)
		}
		res, err := lb.WaitSnapshotRun(ctx, r.ID, nil)
		if err != nil || len(res.Regions) != 1 || res.Regions[0].Status != ebs.OutcomeOK {
			t.Fatalf("run %s: %v (%+v)", r.ID, err, res)
		}
		return res.Regions[0].Chain
	}
	a := run()
	problems := strings.Join(func() []string {
		var ps []string
		for _, p := range a.Create.Problems {
			ps = append(ps, p.InstanceID+" "+p.Problem)
		}
		return ps
	}(), "\n")
	for _, want := range []string{`"12345" is not an AWS account id (12 digits)`, "own region in its own account"} {
		if !strings.Contains(problems, inst+" Copy_Dest: ") || !strings.Contains(problems, want) {
			t.Errorf("create problems lack %q:\n%s", want, problems)
		}
	}
	if a.Copy == nil || len(a.Copy.Destinations) != 1 || a.Copy.Destinations[0].Destination != dest || a.Copy.Destinations[0].Started != 2 {
		t.Fatalf("copy: %+v, want 2 copies started into %s", a.Copy, dest)
	}

	// The primaries: shared with the account, each with one copy there.
	primaries := e.Snapshots(t, src)
	maps.DeleteFunc(primaries, func(id string, _ testenv.Snapshot) bool { _, ok := base[id]; return ok })
	if len(primaries) != 2 {
		t.Fatalf("%d primaries in %s, want 2 (root and /dev/sdf)", len(primaries), src)
	}
	other := e.EC2InAccount(account, dstRegion)
	copies, err := other.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []types.Filter{{Name: aws.String("tag-key"), Values: []string{ebstags.SourceSnapshotID}}}})
	if err != nil {
		t.Fatal(err)
	}
	bySource := map[string]types.Snapshot{}
	for _, c := range copies.Snapshots {
		tags := map[string]string{}
		for _, tg := range c.Tags {
			tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		if _, twice := bySource[tags[ebstags.SourceSnapshotID]]; twice {
			t.Errorf("two copies of %s in %s", tags[ebstags.SourceSnapshotID], dest)
		}
		bySource[tags[ebstags.SourceSnapshotID]] = c
		if tags[ebstags.SourceRegion] != src || tags[ebstags.GroupID] == "" {
			t.Errorf("copy %s tags %v", aws.ToString(c.SnapshotId), tags)
		}
	}
	for id := range primaries {
		if _, ok := bySource[id]; !ok {
			t.Errorf("no copy of %s in %s", id, dest)
		}
		attr, err := e.EC2(src).DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission})
		if err != nil {
			t.Fatal(err)
		}
		if len(attr.CreateVolumePermissions) != 1 || aws.ToString(attr.CreateVolumePermissions[0].UserId) != account {
			t.Errorf("%s shared with %+v, want account %s", id, attr.CreateVolumePermissions, account)
		}
	}
	if len(bySource) != 2 {
		t.Errorf("%d copies in %s, want 2", len(bySource), dest)
	}

	// A second run copies nothing again: the copies are found by Source_SnapshotId.
	b := run()
	if b.Copy == nil || len(b.Copy.Destinations) != 1 || b.Copy.Destinations[0].Started != 0 || b.Copy.Destinations[0].AlreadyCopied != 2 {
		t.Errorf("second run copy: %+v, want the 2 copies found", b.Copy)
	}
}
