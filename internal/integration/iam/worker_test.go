package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// account is moto's default account: the one IAM users are created in.
const account = "123456789012"

// users are the IAM users of one Env: an administrator for the test's own
// calls and the worker, whose policy the test sets.
type users struct {
	iam         *iam.Client // as the administrator
	worker      string      // the worker's user name
	workerCreds aws.CredentialsProvider
}

// newUser creates an IAM user with an inline policy and returns its keys.
func newUser(ctx context.Context, api *iam.Client, name, policyName, doc string) (aws.CredentialsProvider, error) {
	if _, err := api.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		return nil, fmt.Errorf("create user %s: %w", name, err)
	}
	if _, err := api.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(policyName), PolicyDocument: aws.String(doc)}); err != nil {
		return nil, fmt.Errorf("policy of %s: %w", name, err)
	}
	key, err := api.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("key of %s: %w", name, err)
	}
	return credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""), nil
}

const adminPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}]}`

// denyAll is the worker's policy until the test sets the one under test.
const denyAll = `{"Version":"2012-10-17","Statement":[{"Sid":"Nothing","Effect":"Deny","Action":"*","Resource":"*"}]}`

// start starts an Env whose test clients act as an administrator and whose
// workers act as a user the test gives policies to, and switches moto's
// IAM enforcement on.
func start(t *testing.T) (*testenv.Env, *users) {
	t.Helper()
	u := &users{worker: "lifeboat-worker"}
	e, err := testenv.New(context.Background(), testenv.Options{
		Emulator: testenv.EmulatorOptions{Profile: "fast"},
		Credentials: func(ctx context.Context, emu *testenv.Emulator) (aws.CredentialsProvider, aws.CredentialsProvider, error) {
			// Before enforcement: the emulator's static credentials may
			// do anything, and create the users.
			boot := iam.NewFromConfig(emu.AWS.Config)
			admin, err := newUser(ctx, boot, "lifeboat-test-admin", "admin", adminPolicy)
			if err != nil {
				return nil, nil, err
			}
			worker, err := newUser(ctx, boot, u.worker, "lifeboat-worker", denyAll)
			if err != nil {
				return nil, nil, err
			}
			cfg := emu.AWS.Config.Copy()
			cfg.Credentials = admin
			u.iam, u.workerCreds = iam.NewFromConfig(cfg), worker
			return admin, worker, nil
		},
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			e.KeepLogs = true
			t.Logf("testenv: logs kept in %s", e.LogDir)
		}
		_ = e.Close()
	})
	if err := e.Emulator().EnforceIAM(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	return e, u
}

// setWorkerPolicy replaces the worker's policy.
func (u *users) setWorkerPolicy(t *testing.T, p policy) {
	t.Helper()
	_, err := u.iam.PutUserPolicy(context.Background(), &iam.PutUserPolicyInput{
		UserName: aws.String(u.worker), PolicyName: aws.String("lifeboat-worker"), PolicyDocument: aws.String(p.json(t)),
	})
	if err != nil {
		t.Fatalf("set the worker's policy: %v", err)
	}
}

// TestEnforcementIsOn proves the harness: with enforcement on, the static
// test credentials are refused and a user with no permission is denied.
func TestIntegrationIAMEnforcementIsOn(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e, u := start(t)
	ctx := testenv.Context(t, time.Minute)
	static := e.Emulator().AWS // the launcher's static test credentials
	if _, err := static.DynamoDB.ListTables(ctx, nil); err == nil {
		t.Error("ListTables with the static test credentials succeeded under IAM enforcement")
	}
	if _, err := e.AWS.DynamoDB.ListTables(ctx, nil); err != nil {
		t.Errorf("ListTables as the administrator: %v", err)
	}
	// A user allowed nothing is denied both what moto answers (ListTables)
	// and what the emulator answers itself (ListImports, an export).
	nobody, err := newUser(ctx, u.iam, "nobody", "nothing", denyAll)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.AWS.Config.Copy()
	cfg.Credentials = nobody
	db := dynamodb.NewFromConfig(cfg)
	_, err = db.ListTables(ctx, nil)
	checkDenied(t, activities.Denied(err), []string{"dynamodb:ListTables"})
	_, err = db.ListImports(ctx, nil)
	checkDenied(t, activities.Denied(err), []string{"dynamodb:ListImports"})
	_, err = db.ExportTableToPointInTime(ctx, &dynamodb.ExportTableToPointInTimeInput{
		TableArn: aws.String("arn:aws:dynamodb:us-east-1:" + account + ":table/" + e.Config.ControlTable), S3Bucket: aws.String("b"),
	})
	checkDenied(t, activities.Denied(err), []string{"dynamodb:ExportTableToPointInTime"})
}

// fixture is what the steps work on.
type fixture struct {
	e        *testenv.Env
	loc      string // backup location in the policy's bucket
	src, dst string // EBS regions
}

func (f *fixture) backup(t *testing.T) (*dataset.BackupResult, string, error) {
	t.Helper()
	ctx := testenv.Context(t, 2*time.Minute)
	env, ds := f.e.ID("iam"), "orders"
	f.e.CreateEnvDataset(t, env, ds)
	f.e.Load(t, env, ds, "item", 20)
	lb := f.e.Client()
	run, err := lb.StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{{EnvID: env, DatasetID: ds, BackupLocation: f.loc}}})
	if err != nil {
		return nil, env, err
	}
	res, err := lb.WaitBackup(ctx, run.ID, nil)
	return res, env, err
}

// backupAndRestore backs a dataset up and restores it; the failure of
// either is returned, with the environment to check for paused datasets.
func (f *fixture) backupAndRestore(t *testing.T) (string, error) {
	t.Helper()
	ctx := testenv.Context(t, 2*time.Minute)
	res, env, err := f.backup(t)
	if err != nil {
		return env, err
	}
	want := f.e.ReadBackupItems(t, res.Datasets[0].ManifestURL)
	lb := f.e.Client()
	run, err := lb.StartRestore(ctx, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{EnvID: env, DatasetID: "orders", BackupLocation: f.loc}}})
	if err != nil {
		return env, err
	}
	rres, err := lb.WaitRestore(ctx, run.ID, nil)
	if err != nil {
		return env, err
	}
	if got := f.e.ReadDataset(t, env, rres.StoreID, "orders"); testenv.DiffItems(want, got) != "" || len(got) != 20 {
		t.Errorf("restored %d items, differing from the backup's %d: %s", len(got), len(want), testenv.DiffItems(want, got))
	}
	return env, nil
}

// chain runs a snapshot run over one instance whose snapshots are copied
// to dst, with a seed-made snapshot due to expire; it returns the run's
// failure (the problems of each region, as the CLI prints them).
func (f *fixture) chain(t *testing.T) error {
	t.Helper()
	ctx := testenv.Context(t, 2*time.Minute)
	today := ebstags.Day(time.Now())
	inst := f.e.RunInstance(t, f.src, f.src+"a", map[string]string{"Backup": "Yes", "Copy_Dest": f.dst, "Name": f.e.ID("web")}, "/dev/sdf")
	vol := f.e.InstanceDevices(t, f.src, inst)["/dev/sdf"]
	old := f.e.CreateSnapshot(t, f.src, vol, map[string]string{"Type": "Automated", "DeleteOn": ebstags.FormatDate(today.AddDate(0, 0, -1))})
	lb := f.e.Client()
	run, err := lb.StartSnapshotRun(ctx, ebs.RunInput{Regions: []string{f.src}})
	if err != nil {
		return err
	}
	res, err := lb.WaitSnapshotRun(ctx, run.ID, nil)
	if err != nil {
		b, _ := json.Marshal(res)
		t.Logf("run result: %s", b)
		return err
	}
	// The run reports problems it survived in its result: a copy or an
	// expiry that failed leaves the run itself successful.
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), "AccessDenied") {
		return errors.New(string(b))
	}
	if _, ok := f.e.Snapshots(t, f.src)[old]; ok {
		return fmt.Errorf("the seed's snapshot %s due yesterday was not expired; result %s", old, b)
	}
	count := func(region string) int {
		n := 0
		for _, s := range f.e.Snapshots(t, region) {
			if s.Tags[ebstags.SourceInstanceID] == inst {
				n++
			}
		}
		return n
	}
	if made, copies := count(f.src), count(f.dst); made != 2 || copies != made {
		return fmt.Errorf("%d snapshots of %s's two volumes in %s and %d copies in %s, want 2 and 2; result %s", made, inst, f.src, copies, f.dst, b)
	}
	return nil
}

// TestIntegrationWorkerPolicy runs workers holding only worker-policy.json,
// then without each of its statements in turn.
func TestIntegrationWorkerPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e, u := start(t)
	bucket := e.ID("lbtest-iam")
	e.CreateBucket(t, bucket)
	f := &fixture{e: e, loc: "s3://" + bucket + "/backups", src: "us-east-2", dst: "eu-west-1"}
	full := forMoto(loadPolicy(t, "worker-policy.json", map[string]string{
		"LIFEBOAT_ACCOUNT_ID": account,
		"CONTROL_TABLE":       e.Config.ControlTable,
		"TABLE_PREFIX":        e.Config.TablePrefix,
		"BACKUP_BUCKET":       bucket,
	}))
	u.setWorkerPolicy(t, full)

	t.Run("full policy", func(t *testing.T) {
		env, err := f.backupAndRestore(t)
		if err != nil {
			t.Errorf("backup and restore: %v", err)
		}
		e.RequireRunning(t, env)
		if err := f.chain(t); err != nil {
			t.Errorf("snapshot chain: %v", err)
		}
	})
	if t.Failed() {
		return
	}

	// Each statement and the step that needs it. Statements whose every
	// action another statement also grants (as moto evaluates them: no
	// resources, no conditions) cannot fail anything here: they are listed
	// in untestable and docs/emulator.md.
	steps := map[string]string{
		"DatasetsControlTable":        "backup",
		"DatasetsTables":              "restore",
		"DatasetsExport":              "backup",
		"DatasetsImport":              "restore",
		"BackupBucketList":            "backup",
		"BackupBucketRead":            "restore",
		"BackupBucketWrite":           "backup",
		"EbsDescribe":                 "chain",
		"EbsCopySnapshot":             "chain",
		"EbsTag":                      "chain",
		"EbsExpireAutomatedSnapshots": "chain",
	}
	untestable := map[string]string{
		"DatasetsImportLogs":                 "DynamoDB's import writes CloudWatch Logs as the caller on AWS; moto's import writes none",
		"BackupBucketDelete":                 "no backup, restore or chain step deletes: TestIntegrationRetentionPolicies (retention_test.go) removes it",
		"DatasetsImportList":                 "a restore lists imports only to find the one an attempt started before its answer was lost",
		"EbsCreateSnapshotsOfInstances":      "moto checks EC2 actions on resource \"*\": EbsCreateSnapshotsTagged grants the same action",
		"EbsCreateSnapshotsTagged":           "moto checks EC2 actions on resource \"*\": EbsCreateSnapshotsOfInstances grants the same action",
		"EbsRestoreCreateVolume":             "restores of volumes are not run here",
		"EbsRestoreCreateVolumeFromSnapshot": "restores of volumes are not run here",
		"EbsRestoreAttachVolume":             "restores of volumes are not run here",
		"EbsRestoreDeleteOwnVolumes":         "restores of volumes are not run here",
	}
	for _, sid := range full.sids() {
		if why, ok := untestable[sid]; ok {
			t.Logf("%s: not removed here: %s", sid, why)
			continue
		}
		which, ok := steps[sid]
		if !ok {
			t.Errorf("statement %s has no step here and no reason why not", sid)
			continue
		}
		denied := full.only(sid)
		if len(denied) == 0 {
			t.Errorf("statement %s grants nothing another does not", sid)
			continue
		}
		t.Run("without "+sid, func(t *testing.T) {
			reduced := full.without(sid)
			defer u.setWorkerPolicy(t, full)
			var err error
			switch which {
			case "backup":
				u.setWorkerPolicy(t, reduced)
				var env string
				_, env, err = f.backup(t)
				defer e.RequireRunning(t, env)
			case "restore":
				var env string
				env, err = f.restoreOnly(t, u, full, reduced)
				defer e.RequireRunning(t, env)
			case "chain":
				u.setWorkerPolicy(t, reduced)
				err = f.chain(t)
			}
			checkDenied(t, err, denied)
		})
	}
}

// restoreOnly backs a dataset up with the full policy, then restores it
// with the reduced one.
func (f *fixture) restoreOnly(t *testing.T, u *users, full, reduced policy) (string, error) {
	t.Helper()
	ctx := testenv.Context(t, 2*time.Minute)
	u.setWorkerPolicy(t, full)
	_, env, err := f.backup(t)
	if err != nil {
		t.Fatalf("backup with the full policy: %v", err)
	}
	u.setWorkerPolicy(t, reduced)
	lb := f.e.Client()
	run, err := lb.StartRestore(ctx, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{EnvID: env, DatasetID: "orders", BackupLocation: f.loc}}})
	if err != nil {
		return env, err
	}
	_, err = lb.WaitRestore(ctx, run.ID, nil)
	return env, err
}

// checkDenied asserts err is one line saying AccessDenied and naming one
// of the denied actions.
func checkDenied(t *testing.T, err error, denied []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded without %v", denied)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("failure is not one line: %q", msg)
	}
	if !strings.Contains(msg, "AccessDenied") && !strings.Contains(msg, "UnauthorizedOperation") {
		t.Errorf("failure does not say AccessDenied or UnauthorizedOperation: %s", msg)
	}
	named := false
	for _, a := range denied {
		if deniedRE(a).MatchString(msg) {
			named = true
		}
	}
	if !named {
		t.Errorf("failure names none of %v: %s", denied, msg)
	}
	t.Logf("denied as: %s", msg)
}

// deniedRE matches action named whole (not dynamodb:GetItems for GetItem).
func deniedRE(action string) *regexp.Regexp {
	return regexp.MustCompile(regexp.QuoteMeta(action) + `\b`)
}
