package ebs

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
)

// TestIntegrationSnapshotsCLI drives the snapshot commands as a user would:
// dry run, create, copy, list, expire --dry-run --as-of, and bad input.
func TestIntegrationSnapshotsCLI(t *testing.T) {
	e := shared(t)
	const src, dst = "eu-central-1", "eu-north-1"
	e.UseForCLI(t, src)
	lifeboat := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue)
		code := cli.Main(context.Background(), args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := lifeboat(args...)
		if code != 0 {
			t.Fatalf("lifeboat %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	today := ebstags.Day(time.Now())
	inst := e.RunInstance(t, src, src+"a", map[string]string{"Backup": "Yes", "Copy_Dest": dst, "Retention": "2", "Name": "cli"}, "/dev/sdf")
	group := ebstags.GroupIDFor(inst, today)

	out := must("snapshots", "create", "--region", src, "--dry-run")
	for _, want := range []string{"1 groups to create (2 snapshots)", group, "would create"} {
		if !strings.Contains(out, want) {
			t.Errorf("create --dry-run output lacks %q:\n%s", want, out)
		}
	}
	if groups := groupsOf(e.Snapshots(t, src)); len(groups) != 0 {
		t.Fatalf("a dry run took groups: %v", groups)
	}

	out = must("snapshots", "create", "--region", src, "--wait")
	row := regexp.MustCompile(regexp.QuoteMeta(inst) + `\s+` + group + `\s+0\s+2\s+` + day(today, 2) + `\s+created`)
	if !strings.Contains(out, "1 groups created (2 snapshots)") || !row.MatchString(out) {
		t.Errorf("create output:\n%s", out)
	}
	out = must("snapshots", "copy", "--region", src, "--wait")
	if !strings.Contains(out, src+" -> "+dst+": 2 started, 2 completed, 0 already copied, 0 still in progress, 0 left for the next run, 0 failed") {
		t.Errorf("copy output:\n%s", out)
	}
	out = must("snapshots", "list", "--region", src, "--instance-id", inst)
	if !strings.Contains(out, group) || !strings.Contains(out, "completed") || !strings.Contains(out, dst+" 2/2") {
		t.Errorf("list output:\n%s", out)
	}
	out = must("snapshots", "list", "--region", dst, "--group-id", group)
	if !strings.Contains(out, "copy from "+src) {
		t.Errorf("list of the destination:\n%s", out)
	}

	before := len(e.Snapshots(t, src)) + len(e.Snapshots(t, dst))
	out = must("snapshots", "expire", "--region", src, "--dry-run", "--as-of", day(today, 2))
	if !strings.Contains(out, "4 snapshots would be deleted") || strings.Count(out, group) != 4 {
		t.Errorf("expire --dry-run output:\n%s", out)
	}
	if after := len(e.Snapshots(t, src)) + len(e.Snapshots(t, dst)); after != before {
		t.Errorf("a dry run deleted %d snapshots", before-after)
	}

	for _, args := range [][]string{
		{"snapshots", "run", "--regions", "us-east-1,mars"},
		{"snapshots", "run"},
		{"snapshots", "expire", "--region", src, "--as-of", "2026-13-01"},
		{"snapshots", "create", "--region", "Frankfurt"},
		{"snapshots", "restore", "--region", src, "--group-id", group},
		{"snapshots", "restore", "--region", src, "--group-id", group, "--target-instance-id", inst, "--availability-zone", "us-east-1a"},
		{"snapshots", "restore", "--region", src, "--group-id", "lbg-none", "--target-instance-id", inst, "--availability-zone", src + "a"},
	} {
		code, out, errOut := lifeboat(args...)
		if code != cli.ExitInvalid || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("lifeboat %s: exit %d, stderr %q, stdout %q; want exit %d and one line", strings.Join(args, " "), code, errOut, out, cli.ExitInvalid)
		}
	}
}
