package registry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// A scratch environment is deleted with its datasets' records (and tables)
// only by the restore test that made it: a real environment, or another
// test's scratch environment, is refused and left whole, whatever id is
// passed.
func TestDeleteScratchEnvironmentOnlyDeletesItsOwn(t *testing.T) {
	emu := pkgEmulator.Get(t)
	reg := &registry.Registry{DB: emu.AWS.DynamoDB, Table: control, TablePrefix: "st"}
	ctx := context.Background()
	n := seq.Add(1)
	real, scratch := fmt.Sprintf("real%d", n), registry.ScratchEnvID(fmt.Sprintf("real%d", n), "abcdef12")

	if _, err := reg.CreateEnvironment(ctx, real, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateDataset(ctx, real, "orders", time.Now()); err != nil {
		t.Fatal(err)
	}
	var ns *registry.NotScratchError
	if err := reg.DeleteScratchEnvironment(ctx, emu.AWS.DynamoDB, real, "wf-1", nil); !errors.As(err, &ns) {
		t.Fatalf("delete of a real environment as scratch: %v, want NotScratchError", err)
	}
	if _, err := reg.GetDataset(ctx, real, "orders"); err != nil {
		t.Fatalf("real dataset after a refused delete: %v", err)
	}
	if !emuTableExists(t, emu, reg.TableName(real, registry.InitialStoreID, "orders")) {
		t.Fatal("real table deleted")
	}

	if _, err := reg.CreateScratchEnvironment(ctx, scratch, real, "wf-1", []string{"orders"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A retry of the same test finds its own records; another test's id is taken.
	if _, err := reg.CreateScratchEnvironment(ctx, scratch, real, "wf-1", []string{"orders"}, time.Now()); err != nil {
		t.Fatalf("retried create: %v", err)
	}
	var exists *registry.AlreadyExistsError
	if _, err := reg.CreateScratchEnvironment(ctx, scratch, real, "wf-2", nil, time.Now()); !errors.As(err, &exists) {
		t.Fatalf("create over another test's scratch environment: %v, want AlreadyExistsError", err)
	}
	if _, err := reg.CreateScratchEnvironment(ctx, real, real, "wf-1", nil, time.Now()); !errors.As(err, &exists) {
		t.Fatalf("create over a real environment: %v, want AlreadyExistsError", err)
	}
	if err := reg.DeleteScratchEnvironment(ctx, emu.AWS.DynamoDB, scratch, "wf-2", nil); !errors.As(err, &ns) {
		t.Fatalf("delete by another test: %v, want NotScratchError", err)
	}
	if e, err := reg.GetEnvironment(ctx, scratch); err != nil || !e.IsScratch() || e.ScratchFor != real {
		t.Fatalf("scratch environment: %+v, %v", e, err)
	}
	if err := reg.DeleteScratchEnvironment(ctx, emu.AWS.DynamoDB, scratch, "wf-1", nil); err != nil {
		t.Fatalf("delete by its own test: %v", err)
	}
	var nf *registry.NotFoundError
	if _, err := reg.GetEnvironment(ctx, scratch); !errors.As(err, &nf) {
		t.Errorf("scratch environment after delete: %v", err)
	}
	if ds, err := reg.ListDatasets(ctx, scratch); err != nil || len(ds) != 0 {
		t.Errorf("scratch datasets after delete: %v, %v", ds, err)
	}
	if err := reg.DeleteScratchEnvironment(ctx, emu.AWS.DynamoDB, scratch, "wf-1", nil); err != nil {
		t.Errorf("second delete: %v, want done", err)
	}
	if _, err := reg.GetEnvironment(ctx, real); err != nil {
		t.Errorf("real environment: %v", err)
	}
}

func TestScratchEnvID(t *testing.T) {
	t.Parallel()
	long := "e23456789012345678901234567890123456789012345678901234567890123"
	for _, c := range []struct{ env, suffix, want string }{
		{"prod", "1f0c2a9b", "prod-rt-1f0c2a9b"},
		{long, "1f0c2a9b", long[:47] + "-rt-1f0c2a9b"},
	} {
		if got := registry.ScratchEnvID(c.env, c.suffix); got != c.want || len(got) > 63 {
			t.Errorf("ScratchEnvID(%q, %q) = %q, want %q", c.env, c.suffix, got, c.want)
		}
	}
}

func emuTableExists(t *testing.T, emu *testenv.Emulator, table string) bool {
	t.Helper()
	_, err := emu.AWS.DynamoDB.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
