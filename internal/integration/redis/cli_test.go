package redis

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
)

// TestIntegrationRedisCLI drives the lifeboat CLI as a user would:
// register a cluster, back it up and wait, list its backups, change data,
// restore and wait; and checks the exit codes of bad requests.
func TestIntegrationRedisCLI(t *testing.T) {
	e := shared(t)
	// The CLI reads AWS settings from the environment: no t.Parallel.
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "cli", clusterOptions{unregistered: true})
	name := c.name
	loc := e.NewBackupLocation(t)
	for _, n := range c.nodes {
		n.fill(t, "cli", 40)
	}
	want := c.dump(t)

	lifeboat := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		all := append([]string{
			"--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue, "--control-table", e.Config.ControlTable,
		}, args...)
		code := cli.Main(ctx, all, &out, &errOut)
		t.Logf("lifeboat %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}

	args := []string{"redis", "cluster", "register", "--cluster", name}
	for _, n := range c.nodes {
		args = append(args, "--node", n.id+"="+n.addr)
	}
	if code, out, _ := lifeboat(args...); code != 0 || !strings.Contains(out, "registered with 3 nodes") {
		t.Fatalf("register: exit %d", code)
	}
	if code, out, _ := lifeboat(args...); code != 0 || !strings.Contains(out, "already registered") {
		t.Errorf("registering again: exit %d, %q", code, out)
	}
	// Node ids name the sidecars' task queues: unique across clusters.
	if code, _, stderr := lifeboat("redis", "cluster", "register", "--cluster", name+"-2", "--node", c.nodes[0].id+"="+c.nodes[0].addr); code != 2 ||
		!strings.Contains(stderr, `is taken by cluster "`+name+`"`) {
		t.Errorf("registering a node id taken by another cluster: exit %d, %q", code, stderr)
	}
	if code, _, stderr := lifeboat("redis", "cluster", "register", "--cluster", name, "--node", c.nodes[0].id+"="+c.nodes[0].addr); code != 2 ||
		!strings.Contains(stderr, "--replace") {
		t.Errorf("registering other nodes without --replace: exit %d, %q", code, stderr)
	}
	if code, out, _ := lifeboat("redis", "cluster", "list"); code != 0 || !strings.Contains(out, name) || !strings.Contains(out, c.nodes[2].addr) {
		t.Errorf("list: exit %d, %q", code, out)
	}

	code, out, _ := lifeboat("redis", "backup", "--cluster", name, "--backup-location", loc, "--wait")
	if code != 0 {
		t.Fatalf("backup: exit %d", code)
	}
	id := regexp.MustCompile(`backup (\d{8}T\d{6}\.\d{3}Z) of`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("backup printed no backup id: %q", out)
	}
	if code, out, _ := lifeboat("redis", "backups", "--cluster", name, "--backup-location", loc); code != 0 ||
		!strings.Contains(out, id[1]) || !strings.Contains(out, "rdb") || !strings.Contains(out, c.nodes[0].id+","+c.nodes[1].id) {
		t.Errorf("backups: exit %d, %q", code, out)
	}

	for _, n := range c.nodes {
		n.change(t)
	}
	if code, out, _ := lifeboat("redis", "restore", "--cluster", name, "--date", time.Now().UTC().Format("2006-01-02"),
		"--backup-location", loc, "--wait"); code != 0 || !strings.Contains(out, "restored "+name+" from "+name+" backup "+id[1]) {
		t.Fatalf("restore: exit %d, %q", code, out)
	}
	for _, n := range c.nodes {
		requireSame(t, "node "+n.id+" after the CLI restore", want[n.id], n.dump(t))
	}

	for _, bad := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"redis", "backup", "--cluster", name}, 2, "--backup-location is required"},
		{[]string{"redis", "backup", "--cluster", name, "--backup-location", loc, "--format", "zip"}, 2, "unknown format"},
		{[]string{"redis", "backup", "--cluster", "nope", "--backup-location", loc}, 2, `Redis cluster "nope" is not registered`},
		{[]string{"redis", "restore", "--cluster", name, "--backup-location", loc, "--date", "yesterday"}, 2, "invalid date"},
		{[]string{"redis", "restore", "--cluster", name, "--backup-location", loc, "--date", "2021-01-01", "--backup-id", id[1]}, 2, "not both"},
		{[]string{"redis", "restore", "--cluster", name, "--backup-location", loc, "--date", "2001-01-01"}, 2, "no complete backup"},
		{[]string{"redis", "restore", "--cluster", name, "--backup-location", "s3:/x"}, 2, "invalid backup location"},
		{[]string{"redis", "cluster", "register", "--cluster", "x", "--node", "n1"}, 2, "want id=host:port"},
	} {
		code, _, stderr := lifeboat(bad.args...)
		if code != bad.code || !strings.Contains(stderr, bad.says) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("lifeboat %s: exit %d, stderr %q; want exit %d, one line saying %q", strings.Join(bad.args, " "), code, stderr, bad.code, bad.says)
		}
	}
}
