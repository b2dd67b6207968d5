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
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// backupAccount is the second account of the cross-account tests; the
// workers' credentials are moto's default account (123456789012). moto
// keeps S3 buckets per account and, as the emulator runs it, refuses
// another account's bucket (AccessDenied), as S3 does without a bucket
// policy granting it; AssumeRole into a role of another account returns
// credentials of that account.
const backupAccount = "222233334444"

// accountClients are IAM and S3 clients acting as an account's
// administrator: moto takes the account from the x-moto-account-id header.
func accountClients(e *testenv.Env, account string) (*iam.Client, *s3.Client) {
	header := smithyhttp.AddHeaderValue("x-moto-account-id", account)
	i := iam.NewFromConfig(e.AWS.Config, func(o *iam.Options) { o.APIOptions = append(o.APIOptions, header) })
	s := s3.NewFromConfig(e.AWS.Config, func(o *s3.Options) {
		o.UsePathStyle = true
		o.APIOptions = append(o.APIOptions, header)
	})
	return i, s
}

// createBackupRole creates, in account, a role the Lifeboat account may
// assume with externalID (as deploy/iam/assume-role-trust-policy.json).
func createBackupRole(ctx context.Context, t *testing.T, e *testenv.Env, account, name, externalID string) string {
	t.Helper()
	trust, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]string{"AWS": "arn:aws:iam::123456789012:root"},
			"Action":    "sts:AssumeRole",
			"Condition": map[string]any{"StringEquals": map[string]string{"sts:ExternalId": externalID}},
		}},
	})
	ic, _ := accountClients(e, account)
	out, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(string(trust))})
	if err != nil {
		t.Fatalf("create role %s in account %s: %v", name, account, err)
	}
	return aws.ToString(out.Role.Arn)
}

// createAccountBucket creates a versioned bucket owned by account and
// returns s3://<bucket>/backups.
func createAccountBucket(ctx context.Context, t *testing.T, e *testenv.Env, account string) (string, string) {
	t.Helper()
	_, sc := accountClients(e, account)
	bucket := e.ID("lbtest-acct")
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s in account %s: %v", bucket, account, err)
	}
	if _, err := sc.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatalf("enable versioning on %s: %v", bucket, err)
	}
	return bucket, "s3://" + bucket + "/backups"
}

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
	roleARN := createBackupRole(ctx, t, e, backupAccount, e.ID("backup-writer"), externalID)
	bucket, loc := createAccountBucket(ctx, t, e, backupAccount)
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
	roleARN := createBackupRole(ctx, t, e, backupAccount, e.ID("backup-writer"), externalID)
	_, loc := createAccountBucket(ctx, t, e, backupAccount)
	missing := fmt.Sprintf("arn:aws:iam::%s:role/%s", backupAccount, e.ID("no-such-role"))

	_, err := e.Client().StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{{
		EnvID: env, DatasetID: ds, BackupLocation: loc, Access: backupstore.Access{RoleARN: missing},
	}}})
	requireInvalid(t, err, "cannot assume role "+missing)
	if d := e.Dataset(t, env, ds); d.Status != registry.StatusRunning || d.HeldBy != "" {
		t.Fatalf("after the refusal the dataset is %s held by %q, want RUNNING and not held", d.Status, d.HeldBy)
	}

	// A third account's bucket: the role assumes fine but may not use it.
	_, foreign := createAccountBucket(ctx, t, e, "333344445555")
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
	roleARN := createBackupRole(ctx, t, e, backupAccount, e.ID("backup-writer"), externalID)
	_, loc := createAccountBucket(ctx, t, e, backupAccount)

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
