package ebs

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// attachEncrypted attaches a new volume encrypted with key (the region's
// default EBS key, alias aws/ebs, when key is "") to an instance.
func attachEncrypted(t *testing.T, e *testenv.Env, region, zone, instance, device, key string) string {
	t.Helper()
	ctx := context.Background()
	in := &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(1), Encrypted: aws.Bool(true)}
	if key != "" {
		in.KmsKeyId = aws.String(key)
	}
	v, err := e.EC2(region).CreateVolume(ctx, in)
	if err != nil {
		t.Fatalf("create encrypted volume: %v", err)
	}
	if _, err := e.EC2(region).AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: v.VolumeId, InstanceId: aws.String(instance), Device: aws.String(device)}); err != nil {
		t.Fatalf("attach %s: %v", aws.ToString(v.VolumeId), err)
	}
	return aws.ToString(v.VolumeId)
}

// runChain runs one region's chain as of today+offset and returns it,
// failed or not.
func runChain(ctx context.Context, t *testing.T, e *testenv.Env, region string, today time.Time, offset int) (*ebs.ChainResult, error) {
	t.Helper()
	lb := e.Client()
	r, err := lb.StartSnapshotRun(ctx, ebs.RunInput{Regions: []string{region}, Options: ebs.Options{AsOf: day(today, offset)}})
	if err != nil {
		t.Fatalf("start run: %v", err)
	}
	res, err := lb.WaitSnapshotRun(ctx, r.ID, nil)
	if res == nil || len(res.Regions) != 1 || res.Regions[0].Chain == nil {
		t.Fatalf("run %s: %v (%+v)", r.ID, err, res)
	}
	return res.Regions[0].Chain, err
}

// copiesIn lists the copies (Source_SnapshotId) in a region of account.
func copiesIn(ctx context.Context, t *testing.T, e *testenv.Env, account, region string) map[string]types.Snapshot {
	t.Helper()
	out, err := e.EC2InAccount(account, region).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []types.Filter{{Name: aws.String("tag-key"), Values: []string{ebstags.SourceSnapshotID}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]types.Snapshot{}
	for _, s := range out.Snapshots {
		m[aws.ToString(s.SnapshotId)] = s
	}
	return m
}

func tagsOf(s types.Snapshot) map[string]string {
	m := map[string]string{}
	for _, tg := range s.Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// TestIntegrationEncryptedSnapshotsCopyToAnotherAccount: a snapshot
// encrypted with a customer managed key is copied into another account
// after its key is granted (one grant, named, kept single when the copy is
// made again) to the destination's copy role; the copy there is
// re-encrypted with that account's default EBS key and carries
// Source_Account. On its DeleteOn the source region's chain expires the
// copies in the other account through the copy role, keeping one with
// KeepForever and a snapshot Lifeboat did not make; a run after that
// copies and expires nothing more.
func TestIntegrationEncryptedSnapshotsCopyToAnotherAccount(t *testing.T) {
	e := shared(t)
	ctx := testenv.Context(t, 8*time.Minute)
	const src, dstRegion, account = "ap-south-2", "ap-southeast-3", testenv.BackupAccount
	dest := account + ":" + dstRegion
	role := e.CreateBackupRole(t, account, testenv.EBSCopyRoleName, testenv.EBSCopyExternalID)
	km := kms.NewFromConfig(e.AWS.Config, func(o *kms.Options) { o.Region = src })
	key, err := km.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("lifeboat test: customer managed key")})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	today := ebstags.Day(time.Now())
	inst := e.RunInstance(t, src, src+"a", map[string]string{"Backup": "Yes", "Name": "xacct-cmk", "Retention": "1", "Copy_Dest": dest})
	attachEncrypted(t, e, src, src+"a", inst, "/dev/sdf", keyARN)

	a, err := runChain(ctx, t, e, src, today, 0)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if a.Copy == nil || len(a.Copy.Destinations) != 1 || a.Copy.Destinations[0].Started != 2 || a.Copy.Destinations[0].FailedCount != 0 {
		t.Fatalf("copy: %+v, want 2 copies started into %s", a.Copy, dest)
	}
	grants := func() []string {
		t.Helper()
		out, err := km.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(keyARN)})
		if err != nil {
			t.Fatal(err)
		}
		var gs []string
		for _, g := range out.Grants {
			if aws.ToString(g.GranteePrincipal) != role || aws.ToString(g.Name) != ebsact.CopyGrantName(account) {
				t.Errorf("grant %+v, want %s to %s", g, ebsact.CopyGrantName(account), role)
			}
			gs = append(gs, aws.ToString(g.GrantId))
		}
		return gs
	}
	if g := grants(); len(g) != 1 {
		t.Fatalf("grants on the key: %v, want one", g)
	}
	copies := copiesIn(ctx, t, e, account, dstRegion)
	var encrypted []string
	for id, c := range copies {
		tg := tagsOf(c)
		if tg[ebstags.SourceAccount] != testenv.LifeboatAccount || tg[ebstags.SourceRegion] != src || tg[ebstags.DeleteOn] != day(today, 1) {
			t.Errorf("copy %s tags %v", id, tg)
		}
		if aws.ToBool(c.Encrypted) {
			encrypted = append(encrypted, id)
			if k := aws.ToString(c.KmsKeyId); k == "" || k == keyARN || !strings.Contains(k, ":"+account+":") {
				t.Errorf("encrypted copy %s has key %q, want a key of account %s", id, k, account)
			}
		}
	}
	if len(copies) != 2 || len(encrypted) != 1 {
		t.Fatalf("copies in %s: %d (%d encrypted), want 2 (1)", dest, len(copies), len(encrypted))
	}

	// The encrypted copy is lost: the next run copies it again, granting
	// the key again: still one grant, one copy.
	if _, err := e.EC2InAccount(account, dstRegion).DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(encrypted[0])}); err != nil {
		t.Fatal(err)
	}
	b, err := runChain(ctx, t, e, src, today, 0)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if d := b.Copy.Destinations; len(d) != 1 || d[0].Started != 1 || d[0].AlreadyCopied != 1 {
		t.Errorf("second run copy: %+v, want the lost copy made again", b.Copy)
	}
	if g := grants(); len(g) != 1 {
		t.Errorf("grants after the second run: %v, want still one", g)
	}
	copies = copiesIn(ctx, t, e, account, dstRegion)
	if len(copies) != 2 {
		t.Fatalf("%d copies in %s after the second run, want 2", len(copies), dest)
	}

	// Day +1 (Retention 1): the copies are due. One has KeepForever; a
	// snapshot of the account's own, tagged like a due copy but not
	// Lifeboat's, is there too.
	other := e.EC2InAccount(account, dstRegion)
	var keep, due string
	for id := range copies {
		if keep == "" {
			keep = id
		} else {
			due = id
		}
	}
	if _, err := other.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{keep}, Tags: []types.Tag{{Key: aws.String(ebstags.KeepForever), Value: aws.String("yes")}}}); err != nil {
		t.Fatal(err)
	}
	v, err := other.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(dstRegion + "a"), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // the emulator's EC2 settle time
	foreign, err := other.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: v.VolumeId, TagSpecifications: []types.TagSpecification{{
		ResourceType: types.ResourceTypeSnapshot, Tags: testenv.Tags(map[string]string{
			ebstags.Type: ebstags.TypeAutomated, ebstags.DeleteOn: day(today, -1), ebstags.SourceSnapshotID: "snap-0123456789abcdef0",
			ebstags.SourceRegion: src, ebstags.ManagedBy: ebstags.ManagedByLifeboat,
		})}}})
	if err != nil {
		t.Fatal(err)
	}

	expiredIn := func(c *ebs.ChainResult) []string {
		t.Helper()
		if c.Expire == nil {
			t.Fatalf("no expire result: %+v", c)
		}
		for _, r := range c.Expire.Regions {
			if r.Region == dest {
				if r.Error != "" {
					t.Errorf("expire in %s: %s", dest, r.Error)
				}
				var ids []string
				for _, d := range r.Deleted {
					ids = append(ids, d.SnapshotID)
				}
				return ids
			}
		}
		t.Fatalf("expire did not visit %s: %+v", dest, c.Expire.Regions)
		return nil
	}
	c, err := runChain(ctx, t, e, src, today, 1)
	if err != nil {
		t.Fatalf("day+1 run: %v", err)
	}
	if got := expiredIn(c); !slices.Equal(got, []string{due}) {
		t.Errorf("expired in %s: %v, want only %s (kept: KeepForever %s, foreign %s)", dest, got, due, keep, aws.ToString(foreign.SnapshotId))
	}
	left := copiesIn(ctx, t, e, account, dstRegion)
	for _, id := range []string{keep, aws.ToString(foreign.SnapshotId)} {
		if _, ok := left[id]; !ok {
			t.Errorf("%s was deleted", id)
		}
	}
	if _, ok := left[due]; ok {
		t.Errorf("due copy %s still there", due)
	}

	d, err := runChain(ctx, t, e, src, today, 1)
	if err != nil {
		t.Fatalf("second day+1 run: %v", err)
	}
	if got := expiredIn(d); len(got) != 0 {
		t.Errorf("second day+1 run expired %v in %s", got, dest)
	}
	if s := d.Copy.Destinations; len(s) != 1 || s[0].Started != 0 {
		t.Errorf("second day+1 run copied: %+v", d.Copy)
	}
}

// TestIntegrationAWSManagedKeySnapshotNotShared: a snapshot encrypted with
// the AWS managed key aws/ebs cannot be shared with another account: its
// copy there is refused with one line saying why, in the copy step's
// result; it is never shared; the instance's other snapshot is copied.
func TestIntegrationAWSManagedKeySnapshotNotShared(t *testing.T) {
	e := shared(t)
	ctx := testenv.Context(t, 5*time.Minute)
	const src, dstRegion, account = "me-central-1", "il-central-1", testenv.BackupAccount
	dest := account + ":" + dstRegion
	e.CreateBackupRole(t, account, testenv.EBSCopyRoleName, testenv.EBSCopyExternalID)
	today := ebstags.Day(time.Now())
	inst := e.RunInstance(t, src, src+"a", map[string]string{"Backup": "Yes", "Name": "xacct-awskey", "Copy_Dest": dest})
	vol := attachEncrypted(t, e, src, src+"a", inst, "/dev/sdf", "")

	a, err := runChain(ctx, t, e, src, today, 0)
	if err == nil {
		t.Fatalf("run succeeded, want the copy step failed: %+v", a.Copy)
	}
	const why = "encrypted with the AWS managed key"
	if a.Copy == nil || len(a.Copy.Destinations) != 1 || a.Copy.Destinations[0].Started != 1 || a.Copy.Destinations[0].FailedCount != 1 {
		t.Fatalf("copy: %+v, want 1 started, 1 failed", a.Copy)
	}
	f := a.Copy.Destinations[0].Failed[0]
	if !strings.Contains(f.Message, why) || !strings.Contains(f.Message, "aws/ebs") || strings.Contains(f.Message, "\n") {
		t.Errorf("failure %+v, want one line saying %q", f, why)
	}
	var step string
	for _, s := range a.Steps {
		if s.Step == "copy" {
			step = s.Error
		}
	}
	if !strings.Contains(step, why) {
		t.Errorf("copy step error %q does not say %q", step, why)
	}
	for id, s := range e.Snapshots(t, src) {
		if s.VolumeID != vol {
			continue
		}
		attr, err := e.EC2(src).DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission})
		if err != nil {
			t.Fatal(err)
		}
		if len(attr.CreateVolumePermissions) != 0 {
			t.Errorf("%s shared with %+v", id, attr.CreateVolumePermissions)
		}
		if id != f.SnapshotID {
			t.Errorf("refused %s, want %s (the encrypted volume's)", f.SnapshotID, id)
		}
	}
	if c := copiesIn(ctx, t, e, account, dstRegion); len(c) != 1 {
		t.Errorf("%d copies in %s, want 1 (the root volume's)", len(c), dest)
	}
}
