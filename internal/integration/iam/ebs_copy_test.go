package iam

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// ebsCopyFixture is a region whose instance copies its snapshots, one of
// them encrypted with a customer managed key, into the backup account.
type ebsCopyFixture struct {
	e        *testenv.Env
	src, dst string
	dest     string      // account:region
	backup   *iam.Client // the backup account's IAM, enforcement off only
	role     policy      // the copy role's full policy
}

// setRolePolicy replaces the copy role's policy (enforcement off meanwhile:
// the administrator is no user of the backup account).
func (f *ebsCopyFixture) setRolePolicy(t *testing.T, p policy) {
	t.Helper()
	ctx := context.Background()
	if err := f.e.Emulator().EnforceIAM(ctx, false); err != nil {
		t.Fatal(err)
	}
	_, err := f.backup.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(testenv.EBSCopyRoleName), PolicyName: aws.String("copy"), PolicyDocument: aws.String(p.json(t))})
	if err := errors.Join(err, f.e.Emulator().EnforceIAM(ctx, true)); err != nil {
		t.Fatalf("set the copy role's policy: %v", err)
	}
}

// dueCopy puts, in the backup account, a copy as Lifeboat makes them, due
// yesterday, for the chain's expiry to delete (enforcement off meanwhile).
func (f *ebsCopyFixture) dueCopy(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	if err := f.e.Emulator().EnforceIAM(ctx, false); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.e.Emulator().EnforceIAM(ctx, true); err != nil {
			t.Fatal(err)
		}
	}()
	api := f.e.EC2InAccount(testenv.BackupAccount, f.dst)
	v, err := api.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(f.dst + "a"), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: v.VolumeId, TagSpecifications: []ec2types.TagSpecification{{
		ResourceType: ec2types.ResourceTypeSnapshot, Tags: testenv.Tags(map[string]string{
			ebstags.Type: ebstags.TypeAutomated, ebstags.DeleteOn: ebstags.FormatDate(time.Now().UTC().AddDate(0, 0, -1)),
			ebstags.ManagedBy: ebstags.ManagedByLifeboat, ebstags.SourceSnapshotID: "snap-0123456789abcdef0",
			ebstags.SourceRegion: f.src, ebstags.SourceAccount: account,
		})}}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(s.SnapshotId)
}

// chain runs the source region's chain on a new instance (its root volume
// and one encrypted with key) and returns its failure, if any.
func (f *ebsCopyFixture) chain(t *testing.T, key string) error {
	t.Helper()
	ctx := testenv.Context(t, 2*time.Minute)
	inst := f.e.RunInstance(t, f.src, f.src+"a", map[string]string{"Backup": "Yes", "Copy_Dest": f.dest, "Name": f.e.ID("xacct")})
	v, err := f.e.EC2(f.src).CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(f.src + "a"), Size: aws.Int32(1), Encrypted: aws.Bool(true), KmsKeyId: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.EC2(f.src).AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: v.VolumeId, InstanceId: aws.String(inst), Device: aws.String("/dev/sdf")}); err != nil {
		t.Fatal(err)
	}
	lb := f.e.Client()
	run, err := lb.StartSnapshotRun(ctx, ebs.RunInput{Regions: []string{f.src}})
	if err != nil {
		return err
	}
	res, err := lb.WaitSnapshotRun(ctx, run.ID, nil)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(res)
	c := res.Regions[0].Chain
	// Snapshots an earlier denied run left uncopied are copied too.
	if d := c.Copy.Destinations; len(d) != 1 || d[0].Started < 2 || d[0].FailedCount != 0 {
		return errors.New("copy: want this instance's 2 copies started; result " + string(b))
	}
	return nil
}

// TestIntegrationWorkerPolicyEBSCopyToAnotherAccount runs workers holding
// only worker-policy.json and worker-ebs-copy-policy.json, the copy role in
// the backup account holding only ebs-copy-role-policy.json: a chain whose
// instance copies into that account (one snapshot encrypted with a
// customer managed key) completes, its copies there and a due copy
// expired. Then each statement is removed in turn: the chain fails with a
// line naming the denied action.
func TestIntegrationWorkerPolicyEBSCopyToAnotherAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e, u := start(t)
	ctx := testenv.Context(t, time.Minute)
	f := &ebsCopyFixture{e: e, src: "ap-northeast-3", dst: "ap-southeast-5"}
	f.dest = testenv.BackupAccount + ":" + f.dst
	values := map[string]string{
		"LIFEBOAT_ACCOUNT_ID": account, "CONTROL_TABLE": e.Config.ControlTable, "TABLE_PREFIX": e.Config.TablePrefix,
		"BACKUP_BUCKET": "unused", "EBS_COPY_ROLE_NAME": testenv.EBSCopyRoleName, "WORKER_ROLE_NAME": u.worker,
		"EXTERNAL_ID": testenv.EBSCopyExternalID,
	}
	if err := e.Emulator().EnforceIAM(ctx, false); err != nil {
		t.Fatal(err)
	}
	trust := loadPolicy(t, "assume-role-trust-policy.json", values)
	for i := range trust.Statement {
		trust.Statement[i].Principal = []byte(`{"AWS":"arn:aws:iam::` + account + `:user/` + u.worker + `"}`)
	}
	f.backup = iam.NewFromConfig(e.AWS.Config, func(o *iam.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("x-moto-account-id", testenv.BackupAccount))
	})
	if _, err := f.backup.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(testenv.EBSCopyRoleName), AssumeRolePolicyDocument: aws.String(trust.json(t))}); err != nil {
		t.Fatalf("create the copy role: %v", err)
	}
	if err := e.Emulator().EnforceIAM(ctx, true); err != nil {
		t.Fatal(err)
	}
	key, err := kms.NewFromConfig(e.AWS.Config, func(o *kms.Options) { o.Region = f.src }).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	f.role = forMoto(loadPolicy(t, "ebs-copy-role-policy.json", values))
	f.setRolePolicy(t, f.role)
	worker := forMoto(loadPolicy(t, "worker-policy.json", values))
	copier := forMoto(loadPolicy(t, "worker-ebs-copy-policy.json", values))
	full := policy{Version: worker.Version, Statement: append(append([]statement{}, worker.Statement...), copier.Statement...)}
	u.setWorkerPolicy(t, full)

	// The workers keep an assumed role's credentials until they near
	// expiry: the statement letting them assume it is removed before they
	// ever did.
	assumeSid := "AssumeEbsCopyRole"
	t.Run("without "+assumeSid, func(t *testing.T) {
		u.setWorkerPolicy(t, full.without(assumeSid))
		defer u.setWorkerPolicy(t, full)
		checkDenied(t, f.chain(t, keyARN), full.only(assumeSid))
	})

	t.Run("full policies", func(t *testing.T) {
		due := f.dueCopy(t)
		if err := f.chain(t, keyARN); err != nil {
			t.Fatalf("chain: %v", err)
		}
		if err := e.Emulator().EnforceIAM(ctx, false); err != nil {
			t.Fatal(err)
		}
		_, err := e.EC2InAccount(testenv.BackupAccount, f.dst).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{due}})
		if err := errors.Join(e.Emulator().EnforceIAM(ctx, true)); err != nil {
			t.Fatal(err)
		}
		if err == nil {
			t.Errorf("due copy %s in %s not expired", due, f.dest)
		}
	})
	if t.Failed() {
		return
	}
	// moto's EC2 never calls KMS on the role's behalf: its KMS statements
	// are what AWS's CopySnapshot needs, unchecked here.
	untestable := map[string]string{
		"EbsCopySourceKey": "moto's CopySnapshot does not call KMS as the caller",
		"EbsCopyOwnKey":    "moto's CopySnapshot does not call KMS as the caller",
	}
	for _, sid := range copier.sids() {
		if sid == assumeSid {
			continue
		}
		t.Run("without "+sid, func(t *testing.T) {
			u.setWorkerPolicy(t, full.without(sid))
			defer u.setWorkerPolicy(t, full)
			f.dueCopy(t)
			checkDenied(t, f.chain(t, keyARN), full.only(sid))
		})
	}
	for _, sid := range f.role.sids() {
		if why, ok := untestable[sid]; ok {
			t.Logf("%s: not removed here: %s", sid, why)
			continue
		}
		t.Run("without "+sid, func(t *testing.T) {
			f.setRolePolicy(t, f.role.without(sid))
			defer f.setRolePolicy(t, f.role)
			f.dueCopy(t)
			checkDenied(t, f.chain(t, keyARN), f.role.only(sid))
		})
	}
}
