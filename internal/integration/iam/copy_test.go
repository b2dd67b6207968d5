package iam

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// copyFixture is a backup in the workers' account copied to a bucket of
// the backup account through the writer role there.
type copyFixture struct {
	e       *testenv.Env
	u       *users
	loc     string // primary, in the workers' account
	copyLoc string // in the backup account
	access  backupstore.Access
	role    string      // the writer role's name
	backup  *iam.Client // the backup account's IAM, enforcement off only
	writer  policy      // the writer role's full policy
}

// setWriterPolicy replaces the writer role's policy. The administrator is
// a user of the workers' account, so the backup account's IAM is changed
// with enforcement off for the while (no worker runs then).
func (f *copyFixture) setWriterPolicy(t *testing.T, p policy) {
	t.Helper()
	ctx := context.Background()
	if err := f.e.Emulator().EnforceIAM(ctx, false); err != nil {
		t.Fatal(err)
	}
	_, err := f.backup.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(f.role), PolicyName: aws.String("writer"), PolicyDocument: aws.String(p.json(t))})
	if err := errors.Join(err, f.e.Emulator().EnforceIAM(ctx, true)); err != nil {
		t.Fatalf("set the writer role's policy: %v", err)
	}
}

// backupWithCopy backs a dataset up to the primary location with a copy
// to the backup account. The backup itself must succeed (a failed copy
// leaves it standing); the copy's failure is returned.
func (f *copyFixture) backupWithCopy(t *testing.T) (env string, res *dataset.BackupResult, copyErr error) {
	t.Helper()
	ctx := testenv.Context(t, 2*time.Minute)
	env, ds := f.e.ID("iamcopy"), "orders"
	f.e.CreateEnvDataset(t, env, ds)
	f.e.Load(t, env, ds, "item", 20)
	lb := f.e.Client()
	run, err := lb.StartBackup(ctx, dataset.BackupInput{Datasets: []dataset.BackupDataset{{
		EnvID: env, DatasetID: ds, BackupLocation: f.loc,
		CopyTo: []dataset.CopyDestination{{Location: f.copyLoc, Access: f.access}},
	}}})
	if err != nil {
		// Copy destinations are checked with their role before anything is
		// paused: a permission the check needs refuses the backup itself.
		return env, nil, err
	}
	res, err = lb.WaitBackup(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("backup (its copy aside) failed: %v", err)
	}
	if n := len(res.Datasets[0].Copies); n != 1 {
		t.Fatalf("%d copies reported, want 1", n)
	}
	if c := res.Datasets[0].Copies[0]; !c.OK {
		return env, res, errors.New(c.Error)
	}
	return env, res, nil
}

// TestIntegrationWorkerPolicyCopyToAnotherAccount runs workers holding only
// worker-policy.json and worker-assume-role-policy.json, with the backup
// account's writer role holding only backup-writer-role-policy.json and
// assume-role-trust-policy.json: a dataset backup with a copy to that
// account completes and the dataset is restored from the copy item for
// item. Then each statement the copy needs is removed in turn (from the
// workers' or the role's policy): the backup is refused before anything is
// paused (what the up-front check of copy destinations needs) or the copy
// fails while the backup stands, in one line naming the denied action, and
// nothing is left paused.
func TestIntegrationWorkerPolicyCopyToAnotherAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e, u := start(t)
	f, full := newCopyFixture(t, e, u)

	// The workers keep an assumed role's credentials until they near
	// expiry: the statement letting them assume it is removed before they
	// ever did.
	assumeSid := "AssumeBackupWriterRole"
	t.Run("without "+assumeSid, func(t *testing.T) {
		u.setWorkerPolicy(t, full.without(assumeSid))
		defer u.setWorkerPolicy(t, full)
		env, _, err := f.backupWithCopy(t)
		defer e.RequireRunning(t, env)
		checkDenied(t, err, full.only(assumeSid))
	})

	t.Run("full policies", func(t *testing.T) {
		env, res, err := f.backupWithCopy(t)
		if err != nil {
			t.Fatalf("copy: %v", err)
		}
		e.RequireRunning(t, env)
		want := e.ReadBackupItems(t, res.Datasets[0].ManifestURL)
		ctx := testenv.Context(t, 2*time.Minute)
		lb := e.Client()
		run, err := lb.StartRestore(ctx, dataset.RestoreInput{Datasets: []dataset.RestoreDataset{{EnvID: env, DatasetID: "orders", BackupLocation: f.copyLoc, Access: f.access}}})
		if err != nil {
			t.Fatal(err)
		}
		rres, err := lb.WaitRestore(ctx, run.ID, nil)
		if err != nil {
			t.Fatalf("restore from the copy: %v", err)
		}
		if got := e.ReadDataset(t, env, rres.StoreID, "orders"); testenv.DiffItems(want, got) != "" || len(got) != 20 {
			t.Errorf("restored %d items from the copy, differing from the backup's %d: %s", len(got), len(want), testenv.DiffItems(want, got))
		}
		e.RequireRunning(t, env)
	})
	if t.Failed() {
		return
	}

	// The copy reads the primary with the workers' statements the backup
	// itself needs (TestIntegrationWorkerPolicy removes each of those);
	// here each of the role's, which moto checks on every request.
	untestable := map[string]string{
		"WriterRetention": "a copy deletes nothing: TestIntegrationRetentionPolicies (retention_test.go) removes it",
	}
	for _, sid := range f.writer.sids() {
		if why, ok := untestable[sid]; ok {
			t.Logf("%s: not removed here: %s", sid, why)
			continue
		}
		denied := f.writer.only(sid)
		if len(denied) == 0 {
			t.Errorf("statement %s grants nothing another does not", sid)
			continue
		}
		t.Run("without "+sid, func(t *testing.T) {
			f.setWriterPolicy(t, f.writer.without(sid))
			defer f.setWriterPolicy(t, f.writer)
			env, _, err := f.backupWithCopy(t)
			defer e.RequireRunning(t, env)
			checkDenied(t, err, denied)
		})
	}
}

func bucketOf(loc string) string {
	l, err := backupstore.ParseLocation(loc)
	if err != nil {
		panic(err)
	}
	return l.Bucket
}

// newCopyFixture makes the workers' bucket, a bucket of the backup account
// and the writer role there, on backup-writer-role-policy.json and
// assume-role-trust-policy.json, and gives the workers worker-policy.json
// and worker-assume-role-policy.json: that policy is returned.
func newCopyFixture(t *testing.T, e *testenv.Env, u *users) (*copyFixture, policy) {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	bucket := e.ID("lbtest-iam")
	e.CreateBucket(t, bucket)

	// The backup account is set up with enforcement off: its
	// administrator is no user of the workers' account.
	if err := e.Emulator().EnforceIAM(ctx, false); err != nil {
		t.Fatal(err)
	}
	copyLoc := e.NewBackupLocationInAccount(t, testenv.BackupAccount)
	copyBucket := bucketOf(copyLoc)
	const role, externalID = "lifeboat-backup-writer", "s3cr3t-shared-id"
	values := map[string]string{
		"LIFEBOAT_ACCOUNT_ID":     account,
		"CONTROL_TABLE":           e.Config.ControlTable,
		"TABLE_PREFIX":            e.Config.TablePrefix,
		"BACKUP_BUCKET":           bucket,
		"BACKUP_ACCOUNT_ID":       testenv.BackupAccount,
		"BACKUP_WRITER_ROLE_NAME": role,
		"EXTERNAL_ID":             externalID,
		"WORKER_ROLE_NAME":        u.worker,
	}
	writerValues := map[string]string{}
	for k, v := range values {
		writerValues[k] = v
	}
	writerValues["BACKUP_BUCKET"] = copyBucket
	trust := loadPolicy(t, "assume-role-trust-policy.json", writerValues)
	// The trust policy names the workers' role; here they are a user.
	for i := range trust.Statement {
		trust.Statement[i].Principal = []byte(`{"AWS":"arn:aws:iam::` + account + `:user/` + u.worker + `"}`)
	}
	backupIAM := iam.NewFromConfig(e.AWS.Config, func(o *iam.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("x-moto-account-id", testenv.BackupAccount))
	})
	out, err := backupIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust.json(t))})
	if err != nil {
		t.Fatalf("create the writer role: %v", err)
	}
	if err := e.Emulator().EnforceIAM(ctx, true); err != nil {
		t.Fatal(err)
	}
	f := &copyFixture{
		e: e, u: u, loc: "s3://" + bucket + "/backups", copyLoc: copyLoc, role: role, backup: backupIAM,
		access: backupstore.Access{RoleARN: aws.ToString(out.Role.Arn), ExternalID: externalID},
		writer: forMoto(loadPolicy(t, "backup-writer-role-policy.json", writerValues)),
	}
	f.setWriterPolicy(t, f.writer)
	worker := forMoto(loadPolicy(t, "worker-policy.json", values))
	assume := forMoto(loadPolicy(t, "worker-assume-role-policy.json", values))
	full := policy{Version: worker.Version, Statement: append(append([]statement{}, worker.Statement...), assume.Statement...)}
	u.setWorkerPolicy(t, full)

	return f, full
}
