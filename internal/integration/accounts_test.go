package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// backupAccount is the second account of the cross-account tests.
const backupAccount = testenv.BackupAccount

// readManifestAs reads a backup's manifest through a role.
func readManifestAs(ctx context.Context, t *testing.T, e *testenv.Env, role awsx.Role, manifestURL string) *backupstore.Manifest {
	t.Helper()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(manifestURL, "s3://"), "/")
	m, err := backupstore.ReadManifest(awsx.WithRole(ctx, role), e.AWS.Buckets, bucket, key)
	if err != nil {
		t.Fatalf("read manifest %s as %s: %v", manifestURL, role.ARN, err)
	}
	return m
}

// TestIntegrationBackupToAnotherAccount backs a dataset up to a versioned
// bucket owned by a second account, through a role assumed there (the
// workers' own credentials may not touch the bucket), and restores it item
// for item from there. The manifest records the bucket's account and
// region, and the export named the bucket's owner.
func TestIntegrationBackupToAnotherAccount(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("acct"), "orders"
	e.CreateEnvDataset(t, env, ds)
	externalID := "lifeboat-" + env
	roleARN := e.CreateBackupRole(t, backupAccount, e.ID("backup-writer"), externalID)
	loc := e.NewBackupLocationInAccount(t, backupAccount)
	bucket := strings.Split(loc, "/")[2]
	if _, err := e.AWS.Buckets.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); !backupstore.IsAccessDenied(err) {
		t.Fatalf("the workers' own credentials on the backup account's bucket: %v, want AccessDenied", err)
	}
	want := e.Load(t, env, ds, "item", 80)
	access := backupstore.Access{RoleARN: roleARN, ExternalID: externalID}

	_, bres := backup(ctx, t, e, dataset.BackupInput{Datasets: []dataset.BackupDataset{
		{EnvID: env, DatasetID: ds, BackupLocation: loc, Access: access},
	}})
	m := readManifestAs(ctx, t, e, awsx.Role{ARN: roleARN, ExternalID: externalID}, bres.Datasets[0].ManifestURL)
	if m.ItemCount != int64(len(want)) {
		t.Errorf("manifest counts %d items, want %d", m.ItemCount, len(want))
	}
	if m.Bucket == nil || m.Bucket.Owner != backupAccount || m.Bucket.Region != e.AWS.Config.Region || m.Bucket.Role != roleARN || !m.Bucket.Versioned() {
		t.Errorf("manifest records bucket %+v, want owner %s, region %s, role %s, versioning Enabled", m.Bucket, backupAccount, e.AWS.Config.Region, roleARN)
	}

	e.Put(t, env, ds, map[string]string{"item-000001": "changed after the backup", "later": "written after the backup"})
	_, rres := restore(ctx, t, e, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{
		{EnvID: env, DatasetID: ds, BackupLocation: loc, Access: access},
	}})
	if diff := testenv.DiffItems(want, e.ReadDataset(t, env, rres.StoreID, ds)); diff != "" {
		t.Errorf("restored table differs from the backup: %s", diff)
	}
	e.RequireRunning(t, env)
}

// TestIntegrationRoleCannotBeAssumed: a location whose role cannot be
// assumed (no such role; the wrong external id), whose ARN is malformed, or
// whose bucket the role may not use is bad input: InvalidInput from the
// workflow, exit 2 and one line from the CLI, the dataset RUNNING. It sets
// the process's AWS environment, so it does not run in parallel.
func TestIntegrationRoleCannotBeAssumed(t *testing.T) {
	e := shared(t)
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 3*time.Minute)
	env, ds := e.ID("norole"), "orders"
	e.CreateEnvDataset(t, env, ds)
	e.Load(t, env, ds, "item", 10)
	externalID := "lifeboat-" + env
	roleARN := e.CreateBackupRole(t, backupAccount, e.ID("backup-writer"), externalID)
	loc := e.NewBackupLocationInAccount(t, backupAccount)
	missing := fmt.Sprintf("arn:aws:iam::%s:role/%s", backupAccount, e.ID("no-such-role"))

	_, err := e.Client().StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{{
		EnvID: env, DatasetID: ds, BackupLocation: loc, Access: backupstore.Access{RoleARN: missing},
	}}})
	requireInvalid(t, err, "cannot assume role "+missing)
	if d := e.Dataset(t, env, ds); d.Status != registry.StatusRunning || d.HeldBy != "" {
		t.Fatalf("after the refusal the dataset is %s held by %q, want RUNNING and not held", d.Status, d.HeldBy)
	}

	// A third account's bucket: the role assumes fine but may not use it.
	foreign := e.NewBackupLocationInAccount(t, "333344445555")
	lifeboat := func(args ...string) (int, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := cli.Main(ctx, append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue), &out, &errOut)
		t.Logf("$ lifeboat %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code, errOut.String()
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong external id", []string{"--backup-location", loc, "--role-arn", roleARN, "--external-id", "not-" + externalID}, "cannot assume role " + roleARN},
		{"malformed ARN", []string{"--backup-location", loc, "--role-arn", "arn:aws:iam::12:user/x"}, "is not an IAM role ARN"},
		{"bucket the role may not use", []string{"--backup-location", foreign, "--role-arn", roleARN, "--external-id", externalID}, "role " + roleARN + " may not use bucket"},
	} {
		for _, cmd := range []string{"backup-dataset", "restore-dataset"} {
			code, stderr := lifeboat(append([]string{cmd, "--wait", "--env-id", env, "--dataset-id", ds}, c.args...)...)
			if code != cli.ExitInvalid || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, c.want) {
				t.Errorf("%s, %s: exit %d, %q; want exit 2 and one line containing %q", cmd, c.name, code, stderr, c.want)
			}
		}
		if d := e.Dataset(t, env, ds); d.Status != registry.StatusRunning || d.HeldBy != "" {
			t.Fatalf("%s: the dataset is %s held by %q, want RUNNING and not held", c.name, d.Status, d.HeldBy)
		}
	}
}

// TestIntegrationAnotherAccountCLI: the CLI's flags carry the role through
// backup-dataset, backup verify, backup list (which reads the verdict and
// shows the bucket's account) and restore-dataset. It sets the process's AWS environment, so it
// does not run in parallel.
func TestIntegrationAnotherAccountCLI(t *testing.T) {
	e := shared(t)
	e.UseForCLI(t, "us-east-1")
	ctx := testenv.Context(t, 4*time.Minute)
	env, ds := e.ID("acctcli"), "orders"
	e.CreateEnvDataset(t, env, ds)
	want := e.Load(t, env, ds, "item", 30)
	externalID := "lifeboat-" + env
	roleARN := e.CreateBackupRole(t, backupAccount, e.ID("backup-writer"), externalID)
	loc := e.NewBackupLocationInAccount(t, backupAccount)

	lifeboat := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--env-id", env, "--dataset-id", ds, "--backup-location", loc, "--role-arn", roleARN, "--external-id", externalID,
			"--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue)
		code := cli.Main(ctx, args, &out, &errOut)
		t.Logf("$ lifeboat %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		if code != 0 {
			t.Fatalf("lifeboat %s: exit %d: %s", args[0], code, errOut.String())
		}
		return out.String()
	}
	lifeboat("backup-dataset", "--wait")
	if out := lifeboat("backup", "verify"); !strings.Contains(out, "is sound") {
		t.Errorf("backup verify: %q, want a sound backup", out)
	}
	var listed []struct {
		Complete bool                `json:"complete"`
		Bucket   *backupstore.Bucket `json:"bucket"`
		Verified *struct{ OK bool }  `json:"verified"`
	}
	if err := json.Unmarshal([]byte(lifeboat("backup", "list", "--output", "json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || !listed[0].Complete || listed[0].Bucket == nil || listed[0].Bucket.Owner != backupAccount || listed[0].Verified == nil {
		t.Fatalf("backup list: %+v, want one complete, verified backup in a bucket of account %s", listed, backupAccount)
	}
	e.Put(t, env, ds, map[string]string{"later": "written after the backup"})
	lifeboat("restore-dataset", "--wait", "--new-store-id", "r2")
	if diff := testenv.DiffItems(want, e.ReadDataset(t, env, "r2", ds)); diff != "" {
		t.Errorf("restored table differs from the backup: %s", diff)
	}
}
