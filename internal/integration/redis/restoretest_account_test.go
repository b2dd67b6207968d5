package redis

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// TestIntegrationRedisRestoreTestAnotherAccount: a Redis backup in a bucket
// of another account is restore-tested through the role assumed there
// (`restore-test run --kind redis --role-arn`): the worker downloads the
// node's file with the role's credentials, the test passes and its
// restore-test.json is written beside the backup in that bucket. A role
// that cannot be assumed is refused (exit 2, one line), by restore-test run
// and by schedule create restore-test. redis verify checks the same backup
// through the role.
func TestIntegrationRedisRestoreTestAnotherAccount(t *testing.T) {
	e := shared(t)
	// The CLI reads AWS settings from the environment, and the scratch
	// directories go to TMPDIR: no t.Parallel.
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 3*time.Minute)
	c := startCluster(t, e, "rtacct", clusterOptions{})
	externalID := "lifeboat-" + c.name
	role := awsx.Role{ARN: e.CreateBackupRole(t, testenv.BackupAccount, e.ID("redis-writer"), externalID), ExternalID: externalID}
	access := backupstore.Access{RoleARN: role.ARN, ExternalID: externalID}
	loc := e.NewBackupLocationInAccount(t, testenv.BackupAccount)
	for _, n := range c.nodes {
		n.fill(t, "rtacct", 40)
	}
	res := backup(ctx, t, e, redis.BackupInput{Cluster: c.name, BackupLocation: loc, Access: access})
	useScratchRoot(t)
	lc, _ := backupstore.ParseLocation(loc)
	folder := redisbackup.BackupFolder(lc, c.name, res.BackupID)

	lifeboat := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		all := append([]string{
			"--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue, "--control-table", e.Config.ControlTable,
		}, args...)
		code := cli.Main(ctx, all, &out, &errOut)
		t.Logf("lifeboat %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}
	run := []string{"restore-test", "run", "--kind", "redis", "--cluster-id", c.name, "--backup-location", loc}
	schedule := []string{"schedule", "create", "restore-test", "--kind", "redis", "--schedule-id", c.name + "-rt",
		"--cluster-id", c.name, "--backup-location", loc, "--every", "168h"}
	wrong := []string{"--role-arn", role.ARN, "--external-id", "not-" + externalID}
	for _, cmd := range [][]string{run, schedule} {
		code, _, stderr := lifeboat(append(append([]string{}, cmd...), wrong...)...)
		if code != cli.ExitInvalid || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "cannot assume role "+role.ARN) {
			t.Errorf("%s %s with the wrong external id: exit %d, %q; want exit 2 and one line saying the role cannot be assumed", cmd[0], cmd[1], code, stderr)
		}
	}
	if r, err := backupstore.ReadRestoreTest(awsx.WithRole(ctx, role), e.AWS.Buckets, lc.Bucket, folder); err != nil || r != nil {
		t.Fatalf("restore-test.json after the refusals: %+v, %v; want none", r, err)
	}

	code, out, stderr := lifeboat(append(run, "--role-arn", role.ARN, "--external-id", externalID)...)
	if code != 0 || !strings.Contains(out, "backup "+res.BackupID+" of Redis cluster "+c.name+" restores") {
		t.Fatalf("restore-test run --kind redis through the role: exit %d, %q %q", code, out, stderr)
	}
	r, err := backupstore.ReadRestoreTest(awsx.WithRole(ctx, role), e.AWS.Buckets, lc.Bucket, folder)
	if err != nil || r == nil || r.Outcome != backupstore.VerifiedOK || r.BackupID != res.BackupID {
		t.Fatalf("restore-test.json beside backup %s in account %s: %+v, %v; want outcome ok", res.BackupID, testenv.BackupAccount, r, err)
	}
	// redis verify finds and checks the same backup through the role, and
	// refuses a role it cannot assume before any workflow starts.
	verify := []string{"redis", "verify", "--cluster-id", c.name, "--backup-location", loc}
	if code, _, stderr := lifeboat(append(append([]string{}, verify...), wrong...)...); code != cli.ExitInvalid || !strings.Contains(stderr, "cannot assume role "+role.ARN) {
		t.Errorf("redis verify with the wrong external id: exit %d, %q; want exit 2 saying the role cannot be assumed", code, stderr)
	}
	if code, out, stderr := lifeboat(append(verify, "--role-arn", role.ARN, "--external-id", externalID)...); code != 0 || !strings.Contains(out, "backup "+res.BackupID+" of Redis cluster "+c.name+" is sound") {
		t.Fatalf("redis verify through the role: exit %d, %q %q", code, out, stderr)
	}
	v, err := backupstore.ReadVerification(awsx.WithRole(ctx, role), e.AWS.Buckets, lc.Bucket, folder)
	if err != nil || v == nil || v.Outcome != backupstore.VerifiedOK {
		t.Fatalf("verified.json beside backup %s in account %s: %+v, %v; want outcome ok", res.BackupID, testenv.BackupAccount, v, err)
	}
	if code, _, stderr := lifeboat(append(schedule, "--role-arn", role.ARN, "--external-id", externalID)...); code != 0 {
		t.Fatalf("schedule create restore-test --kind redis through the role: exit %d, %q", code, stderr)
	}
	if code, _, stderr := lifeboat("schedule", "delete", "--schedule-id", c.name+"-rt"); code != 0 {
		t.Errorf("schedule delete: exit %d, %q", code, stderr)
	}
}
