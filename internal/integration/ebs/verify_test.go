package ebs

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
)

// TestIntegrationSnapshotsVerify drives `lifeboat snapshots verify` on
// groups taken and copied by the real workflows: a sound group exits 0 and
// tags its snapshots and copies lifeboat:verified=<time>:ok (shown by
// snapshots list); a group with a deleted snapshot, one with a deleted
// copy and one with an inconsistent tag each exit 1 with one line naming
// the snapshot or the region; a group that does not exist exits 2.
func TestIntegrationSnapshotsVerify(t *testing.T) {
	e := shared(t)
	const src, dst = "us-west-1", "us-west-2"
	e.UseForCLI(t, src)
	ctx := testenv.Context(t, 3*time.Minute)
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
	tags := map[string]string{"Backup": "Yes", "Copy_Dest": dst, "Name": "verify"}
	insts := e.RunInstances(t, src, src+"a", 4, tags, "/dev/sdf")
	sort.Strings(insts)
	sound, deleted, uncopied, mistagged := insts[0], insts[1], insts[2], insts[3]
	group := func(inst string) string { return ebstags.GroupIDFor(inst, today) }
	for _, args := range [][]string{{"snapshots", "create", "--region", src, "--wait"}, {"snapshots", "copy", "--region", src, "--wait"}} {
		if code, _, _ := lifeboat(args...); code != 0 {
			t.Fatalf("lifeboat %s: exit %d", strings.Join(args, " "), code)
		}
	}
	// members lists a group's snapshots in a region, by device.
	members := func(region, g string) map[string]testenv.Snapshot {
		out := map[string]testenv.Snapshot{}
		for _, s := range e.Snapshots(t, region) {
			if s.Tags[ebstags.GroupID] == g {
				out[s.Tags[ebstags.Device]] = s
			}
		}
		return out
	}
	for _, inst := range insts {
		if p, c := members(src, group(inst)), members(dst, group(inst)); len(p) != 2 || len(c) != 2 {
			t.Fatalf("instance %s: %d snapshots and %d copies, want 2 and 2", inst, len(p), len(c))
		}
	}

	// Sound: exit 0, every snapshot and copy tagged ok.
	start := time.Now().UTC().Truncate(time.Second)
	code, out, _ := lifeboat("snapshots", "verify", "--region", src, "--group-id", group(sound))
	if code != 0 || !strings.Contains(out, "group "+group(sound)) || !strings.Contains(out, "is sound: 2 snapshot(s) completed, 2/2 copies in "+dst) {
		t.Fatalf("verify of a sound group: exit %d, %q", code, out)
	}
	for _, region := range []string{src, dst} {
		for dev, s := range members(region, group(sound)) {
			at, outcome, err := ebstags.ParseVerified(s.Tags[ebstags.Verified])
			if err != nil || outcome != ebstags.VerifiedOK || at.Before(start) {
				t.Errorf("%s %s (%s): %s=%q (%v), want ok at or after %s", region, s.ID, dev, ebstags.Verified, s.Tags[ebstags.Verified], err, start)
			}
		}
	}
	code, out, _ = lifeboat("snapshots", "list", "--region", src, "--group-id", group(sound), "--output", "json")
	var listed []struct {
		Verified string `json:"verified"`
	}
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || len(listed) != 1 || !strings.HasSuffix(listed[0].Verified, ":ok") {
		t.Errorf("snapshots list json after verify: exit %d, %v, %q", code, err, out)
	}

	// A deleted snapshot: named, from its copy that remains.
	gone := members(src, group(deleted))["/dev/sdf"]
	if _, err := e.EC2(src).DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(gone.ID)}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := lifeboat("snapshots", "verify", "--region", src, "--group-id", group(deleted))
	if msg := lastLine(stderr); code != 1 || !strings.HasPrefix(msg, "lifeboat: ") || !strings.Contains(msg, "snapshot "+gone.ID+" (/dev/sdf) is missing") {
		t.Errorf("verify of a group with a deleted snapshot: exit %d, %q; want 1 naming %s", code, msg, gone.ID)
	}
	for _, s := range members(src, group(deleted)) {
		if !strings.HasSuffix(s.Tags[ebstags.Verified], ":failed") {
			t.Errorf("%s of a group that failed verification: %s=%q", s.ID, ebstags.Verified, s.Tags[ebstags.Verified])
		}
	}

	// A deleted copy: the destination region is named.
	cp := members(dst, group(uncopied))["/dev/sda1"]
	if _, err := e.EC2(dst).DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(cp.ID)}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = lifeboat("snapshots", "verify", "--region", src, "--group-id", group(uncopied))
	if msg := lastLine(stderr); code != 1 || !strings.Contains(msg, "no copy of snapshot "+cp.Tags[ebstags.SourceSnapshotID]+" (/dev/sda1) in "+dst) {
		t.Errorf("verify of a group with a missing copy: exit %d, %q; want 1 naming %s", code, msg, dst)
	}

	// An inconsistent lineage tag.
	odd := members(src, group(mistagged))["/dev/sdf"]
	_, err := e.EC2(src).CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{odd.ID},
		Tags: []types.Tag{{Key: aws.String(ebstags.Generation), Value: aws.String("7")}}})
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = lifeboat("snapshots", "verify", "--region", src, "--group-id", group(mistagged))
	if msg := lastLine(stderr); code != 1 || !strings.Contains(msg, "tags inconsistent") || !strings.Contains(msg, odd.ID) ||
		!strings.Contains(msg, ebstags.Generation) {
		t.Errorf("verify of a group with an inconsistent tag: exit %d, %q; want 1 naming %s", code, msg, odd.ID)
	}

	// No such group: bad input.
	if code, _, stderr := lifeboat("snapshots", "verify", "--region", src, "--group-id", "lbg-none"); code != 2 ||
		!strings.Contains(stderr, "no snapshot group lbg-none in "+src) {
		t.Errorf("verify of no group: exit %d, %q; want 2", code, stderr)
	}
}
