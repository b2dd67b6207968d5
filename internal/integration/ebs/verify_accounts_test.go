package ebs

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
)

// TestIntegrationSnapshotsVerifyInAnotherAccount: `snapshots verify` of a
// group whose Copy_Dest names ACCOUNT:REGION reads its copies there
// through the worker's --ebs-copy-role: a group copied there is sound (and
// its copies there are tagged lifeboat:verified=...:ok); once a copy there
// is deleted, the group fails with one line naming the snapshot and
// account:region. A worker without a copy role says so in the verdict
// instead of passing the group unchecked.
func TestIntegrationSnapshotsVerifyInAnotherAccount(t *testing.T) {
	e := shared(t)
	const src, dstRegion, account = "me-south-1", "af-south-1", testenv.BackupAccount
	dest := account + ":" + dstRegion
	e.CreateBackupRole(t, account, testenv.EBSCopyRoleName, testenv.EBSCopyExternalID)
	e.UseForCLI(t, src)
	ctx := testenv.Context(t, 5*time.Minute)
	lifeboat := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue)
		code := cli.Main(ctx, args, &out, &errOut)
		t.Logf("lifeboat %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}
	lastLine := func(s string) string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return lines[len(lines)-1]
	}
	today := ebstags.Day(time.Now())
	insts := e.RunInstances(t, src, src+"a", 2, map[string]string{"Backup": "Yes", "Copy_Dest": dest, "Name": "verify-xacct"}, "/dev/sdf")
	sort.Strings(insts)
	sound, broken := insts[0], insts[1]
	group := func(inst string) string { return ebstags.GroupIDFor(inst, today) }
	if _, err := runChain(ctx, t, e, src, today, 0); err != nil {
		t.Fatalf("chain in %s: %v", src, err)
	}
	// copies lists a group's copies in the other account, by device.
	copies := func(g string) map[string]map[string]string {
		out := map[string]map[string]string{}
		for id, s := range copiesIn(ctx, t, e, account, dstRegion) {
			if tags := tagsOf(s); tags[ebstags.GroupID] == g {
				tags["id"] = id
				out[tags[ebstags.Device]] = tags
			}
		}
		return out
	}
	for _, inst := range insts {
		if c := copies(group(inst)); len(c) != 2 {
			t.Fatalf("instance %s: %d copies in %s, want 2", inst, len(c), dest)
		}
	}

	// Sound: the copies in the other account are found, counted and tagged.
	start := time.Now().UTC().Truncate(time.Second)
	code, out, _ := lifeboat("snapshots", "verify", "--region", src, "--group-id", group(sound))
	if code != 0 || !strings.Contains(out, "is sound: 2 snapshot(s) completed, 2/2 copies in "+dest) {
		t.Errorf("verify of a group copied into %s: exit %d, %q", dest, code, out)
	}
	for dev, c := range copies(group(sound)) {
		at, outcome, err := ebstags.ParseVerified(c[ebstags.Verified])
		if err != nil || outcome != ebstags.VerifiedOK || at.Before(start) {
			t.Errorf("copy %s (%s) in %s: %s=%q (%v), want ok at or after %s", c["id"], dev, dest, ebstags.Verified, c[ebstags.Verified], err, start)
		}
	}

	// A copy deleted in the other account: named with its account and region.
	cp := copies(group(broken))["/dev/sdf"]
	if _, err := e.EC2InAccount(account, dstRegion).DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(cp["id"])}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := lifeboat("snapshots", "verify", "--region", src, "--group-id", group(broken))
	want := "no copy of snapshot " + cp[ebstags.SourceSnapshotID] + " (/dev/sdf) in " + dest + ", which Copy_Dest names"
	if msg := lastLine(stderr); code != 1 || !strings.HasPrefix(msg, "lifeboat: ") || !strings.Contains(msg, want) {
		t.Errorf("verify of a group missing a copy in %s: exit %d, %q; want 1 and %q", dest, code, msg, want)
	}
	for dev, c := range copies(group(broken)) {
		if !strings.HasSuffix(c[ebstags.Verified], ":failed") {
			t.Errorf("copy %s (%s) in %s of a group that failed: %s=%q", c["id"], dev, dest, ebstags.Verified, c[ebstags.Verified])
		}
	}

	// A worker without --ebs-copy-role cannot read the other account: the
	// verdict says so rather than passing the group unchecked.
	noRole := &ebsact.EBS{EC2: func(region string) ebsact.EC2API { return e.EC2(region) }}
	res, err := noRole.VerifySnapshotGroup(ctx, ebsact.VerifySnapshotGroupInput{Region: src, GroupID: group(sound), At: time.Now().UTC()})
	if err != nil || !strings.Contains(res.Problem, "names "+dest+" in another account, and this worker has no --ebs-copy-role") {
		t.Errorf("verify without a copy role: %+v, %v; want the problem naming %s", res, err, dest)
	}
}
