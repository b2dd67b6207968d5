package iam

import (
	"bytes"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestIntegrationBackupWriterRole checks the role workers assume to write a
// backup bucket: assume-role-trust-policy.json lets the worker assume it
// only with the external id, worker-assume-role-policy.json lets it assume
// that role only, and backup-writer-role-policy.json lets the role write
// the backup bucket and no other. moto checks a trust policy only for a
// role of the caller's own account, so the role lives in the workers'
// account here; its principal is the worker user (moto matches principals
// by exact ARN, not by account root).
func TestIntegrationBackupWriterRole(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e, u := start(t)
	ctx := testenv.Context(t, 2*time.Minute)
	bucket, other := e.ID("lbtest-writer"), e.ID("lbtest-other")
	e.CreateBucket(t, bucket)
	e.CreateBucket(t, other)
	const role, externalID = "lifeboat-backup-writer", "s3cr3t-shared-id"
	values := map[string]string{
		"LIFEBOAT_ACCOUNT_ID":     account,
		"BACKUP_ACCOUNT_ID":       account,
		"BACKUP_BUCKET":           bucket,
		"BACKUP_WRITER_ROLE_NAME": role,
		"EXTERNAL_ID":             externalID,
		// The trust policy names the workers' role; here they are a user.
		"WORKER_ROLE_NAME": "lifeboat-worker",
	}
	trust := loadPolicy(t, "assume-role-trust-policy.json", values)
	for i := range trust.Statement {
		trust.Statement[i].Principal = []byte(`{"AWS":"arn:aws:iam::` + account + `:user/` + u.worker + `"}`)
	}
	if _, err := u.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust.json(t))}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("writer"),
		PolicyDocument: aws.String(forMoto(loadPolicy(t, "backup-writer-role-policy.json", values)).json(t))}); err != nil {
		t.Fatal(err)
	}
	u.setWorkerPolicy(t, loadPolicy(t, "worker-assume-role-policy.json", values))

	workerCfg := e.AWS.Config.Copy()
	workerCfg.Credentials = u.workerCreds
	api := sts.NewFromConfig(workerCfg)
	roleARN := "arn:aws:iam::" + account + ":role/" + role
	assume := func(id string) (*sts.AssumeRoleOutput, error) {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("lifeboat")}
		if id != "" {
			in.ExternalId = aws.String(id)
		}
		return api.AssumeRole(ctx, in)
	}
	// moto refuses a wrong external id but, unlike AWS, not a missing one
	// (a condition key absent from the request passes): docs/emulator.md.
	if _, err := assume("wrong"); err == nil {
		t.Error("assumed the writer role with a wrong external id")
	} else {
		checkDenied(t, activities.Denied(err), []string{"sts:AssumeRole"})
	}
	if _, err := api.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + account + ":role/lifeboat-test-other"), RoleSessionName: aws.String("x"), ExternalId: aws.String(externalID)}); err == nil {
		t.Error("the worker assumed a role other than the writer role")
	}
	out, err := assume(externalID)
	if err != nil {
		t.Fatalf("assume the writer role with the external id: %v", err)
	}

	roleCfg := e.AWS.Config.Copy()
	c := out.Credentials
	roleCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	writer := awsx.New(roleCfg).Buckets
	put := func(b string) error {
		_, err := writer.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("backups/probe"), Body: bytes.NewReader([]byte("x"))})
		return err
	}
	if err := put(bucket); err != nil {
		t.Errorf("the writer role cannot write the backup bucket: %v", err)
	}
	if _, err := writer.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("backups/probe")}); err != nil {
		t.Errorf("the writer role cannot read the backup bucket: %v", err)
	}
	if err := put(other); err == nil {
		t.Error("the writer role wrote another bucket")
	} else {
		// Refused at the bucket's region lookup (HeadBucket) already.
		checkDenied(t, activities.Denied(err), []string{"s3:ListBucket", "s3:PutObject"})
	}
}
