package integration

import (
	"bytes"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestIntegrationRestoreTestAnotherAccount: a dataset backup in a bucket of
// a second account (which the workers' own credentials may not touch) is
// restore-tested through the role assumed there: restore-test run --kind
// dataset --role-arn passes and writes its restore-test.json beside the
// backup in that bucket. With a role that cannot be assumed, restore-test
// run and schedule create restore-test refuse it (exit 2, one line);
// without the role they refuse it too (the workers' identity denied
// s3:ListBucket: exit 1 for run, as for a backup; the CLI's own check, exit
// 2, for schedule create), and nothing is made. It sets the process's AWS environment,
// so it does not run in parallel.
func TestIntegrationRestoreTestAnotherAccount(t *testing.T) {
	e := shared(t)
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 5*time.Minute)
	env, ds := e.ID("rtacct"), "orders"
	e.CreateEnvDataset(t, env, ds)
	e.Load(t, env, ds, "item", 25)
	externalID := "lifeboat-" + env
	roleARN := e.CreateBackupRole(t, backupAccount, e.ID("backup-writer"), externalID)
	role := awsx.Role{ARN: roleARN, ExternalID: externalID}
	loc := e.NewBackupLocationInAccount(t, backupAccount)
	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{
		{EnvID: env, DatasetID: ds, BackupLocation: loc, Access: backupstore.Access{RoleARN: roleARN, ExternalID: externalID}},
	}})
	manifestURL := bres.Datasets[0].ManifestURL

	lifeboat := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue)
		code := cli.Main(ctx, args, &out, &errOut)
		t.Logf("$ lifeboat %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}
	run := []string{"restore-test", "run", "--kind", "dataset", "--env-id", env, "--backup-location", loc, "--sample-size", "5"}
	schedule := []string{"schedule", "create", "restore-test", "--schedule-id", env + "-rt", "--kind", "dataset",
		"--env-id", env, "--backup-location", loc, "--every", "168h"}
	missing := "arn:aws:iam::" + backupAccount + ":role/" + e.ID("no-such-role")
	for _, c := range []struct {
		name string
		args []string
		// run is the worker's verdict, schedule the CLI's own check.
		runCode, scheduleCode int
		runWant, scheduleWant string
	}{
		// The workers' own identity refused: Lifeboat's grants or a missing
		// --role-arn, told as the refused action (exit 1, as for a backup).
		{"without the role", nil, cli.ExitFailure, cli.ExitInvalid,
			"AWS refused s3:ListBucket to Lifeboat's identity", "credentials may not use bucket"},
		{"a role that cannot be assumed", []string{"--role-arn", missing}, cli.ExitInvalid, cli.ExitInvalid,
			"cannot assume role " + missing, "cannot assume role " + missing},
		{"the wrong external id", []string{"--role-arn", roleARN, "--external-id", "not-" + externalID}, cli.ExitInvalid, cli.ExitInvalid,
			"cannot assume role " + roleARN, "cannot assume role " + roleARN},
	} {
		for _, cmd := range []struct {
			args []string
			code int
			want string
		}{{run, c.runCode, c.runWant}, {schedule, c.scheduleCode, c.scheduleWant}} {
			code, _, stderr := lifeboat(append(append([]string{}, cmd.args...), c.args...)...)
			if code != cmd.code || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, cmd.want) ||
				strings.Count(stderr, "AccessDenied: AWS refused") > 1 {
				t.Errorf("%s %s, %s: exit %d, %q; want exit %d and one line containing %q", cmd.args[0], cmd.args[1], c.name, code, stderr, cmd.code, cmd.want)
			}
		}
	}
	requireScratchGone(t, e, env)
	if _, err := e.Client().DescribeSchedule(ctx, env+"-rt"); err == nil {
		t.Errorf("schedule %s-rt was created for a location its role cannot reach", env)
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(manifestURL, "s3://"), "/")
	if r, err := backupstore.ReadRestoreTest(awsx.WithRole(ctx, role), e.AWS.Buckets, bucket, path.Dir(key)); err != nil || r != nil {
		t.Fatalf("restore-test.json after the refusals: %+v, %v; want none", r, err)
	}

	code, out, stderr := lifeboat(append(run, "--role-arn", roleARN, "--external-id", externalID)...)
	if code != 0 || !strings.Contains(out, "restore test passed") || !strings.Contains(out, "25 items, 5 sampled items match the backup") {
		t.Fatalf("restore-test run through the role: exit %d, %q %q; want it to pass with 25 items, 5 sampled", code, out, stderr)
	}
	r, err := backupstore.ReadRestoreTest(awsx.WithRole(ctx, role), e.AWS.Buckets, bucket, path.Dir(key))
	if err != nil || r == nil {
		t.Fatalf("restore-test.json beside %s in account %s: %+v, %v", manifestURL, backupAccount, r, err)
	}
	if r.Outcome != backupstore.VerifiedOK || r.BackupID != bres.Datasets[0].BackupID || r.RTOSeconds <= 0 {
		t.Errorf("restore-test.json: %+v, want outcome ok for backup %s with an RTO", r, bres.Datasets[0].BackupID)
	}
	requireScratchGone(t, e, env)

	code, _, stderr = lifeboat(append(schedule, "--role-arn", roleARN, "--external-id", externalID)...)
	if code != 0 {
		t.Fatalf("schedule create restore-test through the role: exit %d, %q", code, stderr)
	}
	if code, _, stderr = lifeboat("schedule", "delete", "--schedule-id", env+"-rt"); code != 0 {
		t.Errorf("schedule delete: exit %d, %q", code, stderr)
	}
}
