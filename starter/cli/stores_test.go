package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

func TestStoreFlagsRefused(t *testing.T) {
	t.Parallel()
	requireRefused(t, [][]string{
		{"store", "delete"},
		{"store", "delete", "--env-id", "e"},
		{"store", "delete", "--inactive"},
		{"store", "delete", "--table", "t", "--env-id", "e", "--inactive"},
		{"store", "delete", "--env-id", "bad.id", "--inactive"},
		{"store", "list", "--output", "yaml"},
		{"store", "list", "--env-id", "bad id"},
	})
}

// TestStoreCommands runs `store list` and `store delete` against the
// emulator, on an environment as a restore leaves it: the initial store
// INACTIVE, r1 ACTIVE, r2 CREATING (a restore under way).
func TestStoreCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulator: skipped with -short")
	}
	emu := testenv.StartEmulator(t, testenv.EmulatorOptions{Profile: "fast"})
	t.Setenv("AWS_ENDPOINT_URL", emu.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	ctx := context.Background()
	reg := &registry.Registry{DB: emu.AWS.DynamoDB, Table: "cli-stores-control", TablePrefix: "clist"}
	db := emu.AWS.DynamoDB
	const env = "prod"
	now := time.Now()
	mustDo(t, reg.EnsureControlTable(ctx))
	mustDo(t, func() error { _, err := reg.CreateEnvironment(ctx, env, now); return err }())
	mustDo(t, func() error { _, err := reg.CreateDataset(ctx, env, "orders", now); return err }())
	mustDo(t, reg.CreateStore(ctx, env, "r1", "restore-r1", now.Add(time.Second)))
	mustDo(t, reg.EnsureDataTable(ctx, reg.TableName(env, "r1", "orders")))
	mustDo(t, reg.SwitchStore(ctx, env, registry.InitialStoreID, "r1"))
	mustDo(t, reg.CreateStore(ctx, env, "r2", "restore-r2", now.Add(2*time.Second)))
	mustDo(t, reg.EnsureDataTable(ctx, reg.TableName(env, "r2", "orders")))
	inactive, active, creating := reg.TableName(env, registry.InitialStoreID, "orders"), reg.TableName(env, "r1", "orders"), reg.TableName(env, "r2", "orders")
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("unrelated"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	mustDo(t, err)

	run := func(in io.Reader, args ...string) (int, string, string) {
		t.Helper()
		confirmInput = func() io.Reader { return in }
		var out, errOut bytes.Buffer
		code := Main(ctx, append([]string{"--control-table", reg.Table, "--table-prefix", reg.TablePrefix}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	t.Cleanup(func() { confirmInput = func() io.Reader { return nil } })
	exists := func(table string) bool {
		_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return false
		}
		mustDo(t, err)
		return true
	}
	states := func() map[string]string {
		t.Helper()
		code, out, errOut := run(nil, "store", "list", "--env-id", env, "--output", "json")
		if code != 0 {
			t.Fatalf("store list: exit %d: %s", code, errOut)
		}
		var rows []registry.StoreTable
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("store list --output json: %v\n%s", err, out)
		}
		m := map[string]string{}
		for _, r := range rows {
			m[r.Table] = r.State
		}
		return m
	}
	want := map[string]string{inactive: "INACTIVE", active: "ACTIVE", creating: "CREATING"}
	if got := states(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("store list: %v, want %v", got, want)
	}
	if code, out, _ := run(nil, "store", "list"); code != 0 || !strings.Contains(out, "ENV") || !strings.Contains(out, inactive) {
		t.Errorf("store list as a table: exit %d\n%s", code, out)
	}

	// Refused, exit 2, one line naming why; nothing deleted.
	for _, c := range []struct {
		table, says string
	}{
		{active, `store "r1", the active store of environment "prod"`},
		{creating, "restore workflow restore-r2 is populating"},
		{"unrelated", "not a Lifeboat store table"},
	} {
		code, _, errOut := run(strings.NewReader("y\n"), "store", "delete", "--table", c.table, "--yes")
		if code != ExitInvalid || !strings.Contains(errOut, c.says) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("delete --table %s: exit %d, stderr %q; want exit 2 saying %q", c.table, code, errOut, c.says)
		}
		if !exists(c.table) {
			t.Fatalf("%s was deleted", c.table)
		}
	}

	// --dry-run lists and changes nothing.
	code, out, errOut := run(nil, "store", "delete", "--env-id", env, "--inactive", "--dry-run")
	if code != 0 || !strings.Contains(out, "would delete (dry run) 1 table") || !strings.Contains(out, inactive) || strings.Contains(out, active) {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	// No terminal and no --yes: refused. A terminal answering no: nothing deleted.
	if code, _, errOut := run(nil, "store", "delete", "--env-id", env, "--inactive"); code != ExitInvalid || !strings.Contains(errOut, "--yes") {
		t.Errorf("no terminal, no --yes: exit %d, %q", code, errOut)
	}
	if code, _, errOut := run(strings.NewReader("n\n"), "store", "delete", "--env-id", env, "--inactive"); code != ExitFailure || !strings.Contains(errOut, "not confirmed") {
		t.Errorf("answered no: exit %d, %q", code, errOut)
	}
	if !exists(inactive) {
		t.Fatal("the inactive table went without confirmation")
	}

	// Confirmed on the terminal: only the inactive store's table goes.
	code, out, errOut = run(strings.NewReader("y\n"), "store", "delete", "--env-id", env, "--inactive")
	if code != 0 || !strings.Contains(out, "deleted "+inactive) || !strings.Contains(out, "store initial of environment prod has no table left: marked DELETED") {
		t.Fatalf("delete: exit %d\n%s%s", code, out, errOut)
	}
	if exists(inactive) || !exists(active) || !exists(creating) {
		t.Errorf("after delete: inactive %t active %t creating %t, want false true true", exists(inactive), exists(active), exists(creating))
	}
	if got, want := states(), map[string]string{active: "ACTIVE", creating: "CREATING"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("store list after delete: %v, want %v", got, want)
	}
	if code, out, _ := run(nil, "store", "delete", "--env-id", env, "--inactive", "--yes"); code != 0 || !strings.Contains(out, "nothing to delete") {
		t.Errorf("nothing left: exit %d\n%s", code, out)
	}
	e, err := reg.GetEnvironment(ctx, env)
	mustDo(t, err)
	if e.Stores[registry.InitialStoreID].Status != registry.StoreDeleted || e.ActiveStore != "r1" {
		t.Errorf("environment record after delete: %+v", e)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
