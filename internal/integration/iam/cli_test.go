package iam

import (
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestIntegrationCLIPolicy runs the CLI's direct AWS calls as a user
// holding only cli-policy.json: register an environment and a dataset
// (which creates its table with point-in-time recovery), list them, check
// the backup bucket and list its backups, list snapshots.
func TestIntegrationCLIPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e, u := start(t)
	ctx := testenv.Context(t, 2*time.Minute)
	bucket := e.ID("lbtest-cli")
	e.CreateBucket(t, bucket)
	p := forMoto(loadPolicy(t, "cli-policy.json", map[string]string{
		"LIFEBOAT_ACCOUNT_ID": account,
		"CONTROL_TABLE":       e.Config.ControlTable,
		"TABLE_PREFIX":        e.Config.TablePrefix,
		"BACKUP_BUCKET":       bucket,
	}))
	cli, err := newUser(ctx, u.iam, "lifeboat-cli", "lifeboat-cli", p.json(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.AWS.Config.Copy()
	cfg.Credentials = cli
	c := awsx.New(cfg)
	reg := &registry.Registry{DB: c.DynamoDB, Table: e.Config.ControlTable, TablePrefix: e.Config.TablePrefix}
	env := e.ID("cli")
	if err := reg.EnsureControlTable(ctx); err != nil {
		t.Errorf("ensure control table: %v", err)
	}
	if _, err := reg.CreateEnvironment(ctx, env, time.Now()); err != nil {
		t.Fatalf("create environment: %v", err)
	}
	if _, err := reg.CreateDataset(ctx, env, "orders", time.Now()); err != nil {
		t.Fatalf("create dataset: %v", err)
	}
	if ds, err := reg.ListDatasets(ctx, env); err != nil || len(ds) != 1 {
		t.Errorf("list datasets: %v, %v", ds, err)
	}
	loc, err := backupstore.ParseLocation("s3://" + bucket + "/backups")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backupstore.CheckBucket(ctx, c.Buckets, loc); err != nil {
		t.Errorf("check bucket: %v", err)
	}
	if _, err := backupstore.ListBackups(ctx, c.Buckets, loc, env, "orders"); err != nil {
		t.Errorf("list backups: %v", err)
	}
	if _, err := c.EC2("us-east-1").DescribeSnapshots(ctx, nil); err != nil {
		t.Errorf("describe snapshots: %v", err)
	}
	// And nothing the CLI does not need: it starts backups through
	// Temporal, it does not export.
	if _, err := c.DynamoDB.ListTables(ctx, nil); err == nil {
		t.Error("the CLI's policy allows dynamodb:ListTables")
	}
}
