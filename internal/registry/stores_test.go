package registry_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// Store listing and deletion act on real tables and conditional writes, so
// these tests run against the emulator (started once for the package).
const control = "lifeboat-control-stores"

var (
	pkgEmulator = testenv.PackageEmulator{Options: testenv.EmulatorOptions{Profile: "fast"}, ControlTable: control}
	seq         atomic.Int64
)

func TestMain(m *testing.M) { os.Exit(pkgEmulator.Main(m)) }

type fixture struct {
	reg *registry.Registry
	db  *dynamodb.Client
	env string
}

// newStores registers an environment with datasets orders and users as a
// restore leaves it: store "initial" INACTIVE, "r1" ACTIVE (every dataset
// has a table in both), plus "r2" CREATING (a restore under way, workflow
// restore-r2) and "r3" FAILED, each with an orders table.
func newStores(t *testing.T) *fixture {
	t.Helper()
	emu := pkgEmulator.Get(t)
	f := &fixture{
		reg: &registry.Registry{DB: emu.AWS.DynamoDB, Table: control, TablePrefix: "st"},
		db:  emu.AWS.DynamoDB,
		env: fmt.Sprintf("env%d", seq.Add(1)),
	}
	ctx := context.Background()
	now := time.Now()
	must(t, func() error { _, err := f.reg.CreateEnvironment(ctx, f.env, now); return err }())
	for _, d := range []string{"orders", "users"} {
		must(t, func() error { _, err := f.reg.CreateDataset(ctx, f.env, d, now); return err }())
	}
	f.put(t, registry.InitialStoreID, "orders", 3)
	must(t, f.reg.CreateStore(ctx, f.env, "r1", "restore-r1", now.Add(time.Second)))
	for _, d := range []string{"orders", "users"} {
		must(t, f.reg.EnsureDataTable(ctx, f.reg.TableName(f.env, "r1", d)))
	}
	must(t, f.reg.SwitchStore(ctx, f.env, registry.InitialStoreID, "r1"))
	f.put(t, "r1", "orders", 5)
	must(t, f.reg.CreateStore(ctx, f.env, "r2", "restore-r2", now.Add(2*time.Second)))
	must(t, f.reg.EnsureDataTable(ctx, f.reg.TableName(f.env, "r2", "orders")))
	must(t, f.reg.CreateStore(ctx, f.env, "r3", "restore-r3", now.Add(3*time.Second)))
	must(t, f.reg.EnsureDataTable(ctx, f.reg.TableName(f.env, "r3", "orders")))
	must(t, f.reg.FailStore(ctx, f.env, "r3"))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) put(t *testing.T, store, dataset string, n int) {
	t.Helper()
	for i := range n {
		_, err := f.db.PutItem(context.Background(), &dynamodb.PutItemInput{
			TableName: aws.String(f.reg.TableName(f.env, store, dataset)),
			Item:      map[string]types.AttributeValue{"key": &types.AttributeValueMemberS{Value: fmt.Sprint(i)}},
		})
		must(t, err)
	}
}

func (f *fixture) exists(t *testing.T, table string) bool {
	t.Helper()
	out, err := f.db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return false
	}
	must(t, err)
	return out.Table.TableStatus != types.TableStatusDeleting
}

func (f *fixture) list(t *testing.T, filter registry.StoreFilter) []string {
	t.Helper()
	ts, err := f.reg.ListStoreTables(context.Background(), filter)
	must(t, err)
	var out []string
	for _, x := range ts {
		out = append(out, fmt.Sprintf("%s %s %s %d", x.StoreID, x.DatasetID, x.State, x.ItemCount))
	}
	return out
}

func TestListStoreTables(t *testing.T) {
	t.Parallel()
	f := newStores(t)
	want := []string{
		"initial orders INACTIVE 3", "initial users INACTIVE 0",
		"r1 orders ACTIVE 5", "r1 users ACTIVE 0",
		"r2 orders CREATING 0",
		"r3 orders FAILED 0",
	}
	if got := f.list(t, registry.StoreFilter{EnvID: f.env}); !slices.Equal(got, want) {
		t.Errorf("stores of %s:\n got %q\nwant %q", f.env, got, want)
	}
	if got := f.list(t, registry.StoreFilter{EnvID: f.env, DatasetID: "users"}); !slices.Equal(got, []string{"initial users INACTIVE 0", "r1 users ACTIVE 0"}) {
		t.Errorf("stores of %s/users: %q", f.env, got)
	}
	// Without an environment: every environment's tables, this one's among them.
	all, err := f.reg.ListStoreTables(context.Background(), registry.StoreFilter{})
	must(t, err)
	n := 0
	for _, x := range all {
		if x.EnvID == f.env {
			n++
		}
	}
	if n != len(want) {
		t.Errorf("listing of every environment has %d tables of %s, want %d", n, f.env, len(want))
	}
	_, err = f.reg.ListStoreTables(context.Background(), registry.StoreFilter{EnvID: f.env, DatasetID: "nope"})
	var nf *registry.NotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("unknown dataset: got %v, want NotFoundError", err)
	}
}

func TestResolveStoreTableRefusesOthers(t *testing.T) {
	t.Parallel()
	f := newStores(t)
	ctx := context.Background()
	// An unrelated table in the same account is not Lifeboat's to delete.
	_, err := f.db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("someone-elses-" + f.env), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	must(t, err)
	for _, name := range []string{
		"someone-elses-" + f.env,
		"st." + f.env + ".initial",                // too few parts
		"st.nobody.initial.orders",                // no such environment
		"st." + f.env + ".nostore.orders",         // no such store
		"st." + f.env + ".initial.nodataset",      // no such dataset
		"other." + f.env + ".initial.orders",      // another prefix
		"st." + f.env + ".initial.orders.extra.x", // too many parts
	} {
		_, err := f.reg.ResolveStoreTable(ctx, name)
		var not *registry.NotStoreTableError
		if !errors.As(err, &not) {
			t.Errorf("ResolveStoreTable(%q) = %v, want NotStoreTableError", name, err)
		}
	}
	for store, want := range map[string]string{"r1": registry.StoreActive, "r2": registry.StoreCreating} {
		st, err := f.reg.ResolveStoreTable(ctx, f.reg.TableName(f.env, store, "orders"))
		must(t, err)
		var inUse *registry.StoreInUseError
		if err := registry.CheckDeletable(st); !errors.As(err, &inUse) || inUse.Status != want {
			t.Errorf("store %s: CheckDeletable = %v, want StoreInUseError %s", store, err, want)
		}
		// DeleteStoreTable refuses too, and leaves the table.
		if err := f.reg.DeleteStoreTable(ctx, f.db, st, time.Now()); !errors.As(err, &inUse) {
			t.Errorf("store %s: DeleteStoreTable = %v, want StoreInUseError", store, err)
		}
		if !f.exists(t, st.Table) {
			t.Errorf("store %s: table %s deleted", store, st.Table)
		}
	}
	st, err := f.reg.ResolveStoreTable(ctx, f.reg.TableName(f.env, "r2", "orders"))
	must(t, err)
	if err := registry.CheckDeletable(st); err == nil || !strings.Contains(err.Error(), "restore-r2") {
		t.Errorf("a restore's store: refusal %v does not name the restore workflow", err)
	}
}

func TestDeleteStoreTable(t *testing.T) {
	t.Parallel()
	f := newStores(t)
	ctx := context.Background()
	orders, users := f.reg.TableName(f.env, registry.InitialStoreID, "orders"), f.reg.TableName(f.env, registry.InitialStoreID, "users")

	st, err := f.reg.ResolveStoreTable(ctx, orders)
	must(t, err)
	must(t, f.reg.DeleteStoreTable(ctx, f.db, st, time.Now()))
	if f.exists(t, orders) {
		t.Fatalf("%s still exists", orders)
	}
	e, err := f.reg.GetEnvironment(ctx, f.env)
	must(t, err)
	if s := e.Stores[registry.InitialStoreID]; s.Status != registry.StoreInactive || !slices.Equal(s.DeletedTables, []string{orders}) {
		t.Errorf("after one of two tables: store %+v, want INACTIVE with deletedTables [%s]", s, orders)
	}
	// Again (a retry after an interruption): no error, nothing more recorded.
	must(t, f.reg.DeleteStoreTable(ctx, f.db, st, time.Now()))

	st, err = f.reg.ResolveStoreTable(ctx, users)
	must(t, err)
	must(t, f.reg.DeleteStoreTable(ctx, f.db, st, time.Now()))
	e, err = f.reg.GetEnvironment(ctx, f.env)
	must(t, err)
	s := e.Stores[registry.InitialStoreID]
	if s.Status != registry.StoreDeleted || s.DeletedAt.IsZero() || !slices.Equal(s.DeletedTables, []string{orders, users}) {
		t.Errorf("after both tables: store %+v, want DELETED, deletedAt set, deletedTables [%s %s]", s, orders, users)
	}
	if e.ActiveStore != "r1" || e.Stores["r1"].Status != registry.StoreActive {
		t.Errorf("active store changed: %s %+v", e.ActiveStore, e.Stores["r1"])
	}
	for _, d := range []string{"orders", "users"} {
		if !f.exists(t, f.reg.TableName(f.env, "r1", d)) {
			t.Errorf("active table of %s deleted", d)
		}
	}
	want := []string{"r1 orders ACTIVE 5", "r1 users ACTIVE 0", "r2 orders CREATING 0", "r3 orders FAILED 0"}
	if got := f.list(t, registry.StoreFilter{EnvID: f.env}); !slices.Equal(got, want) {
		t.Errorf("after deletion:\n got %q\nwant %q", got, want)
	}
	// A FAILED store's table goes too, and the store with it.
	st, err = f.reg.ResolveStoreTable(ctx, f.reg.TableName(f.env, "r3", "orders"))
	must(t, err)
	must(t, f.reg.DeleteStoreTable(ctx, f.db, st, time.Now()))
	e, err = f.reg.GetEnvironment(ctx, f.env)
	must(t, err)
	if e.Stores["r3"].Status != registry.StoreDeleted {
		t.Errorf("failed store after deleting its table: %+v", e.Stores["r3"])
	}
}

// TestDeleteStoreTableStaleListing: a listing that still shows a store as
// INACTIVE cannot delete it once it is active (the conditional write is
// the guard, not the listing).
func TestDeleteStoreTableStaleListing(t *testing.T) {
	t.Parallel()
	f := newStores(t)
	ctx := context.Background()
	st, err := f.reg.ResolveStoreTable(ctx, f.reg.TableName(f.env, "r1", "orders"))
	must(t, err)
	st.State = registry.StoreInactive // as a listing from before the switch would say
	err = f.reg.DeleteStoreTable(ctx, f.db, st, time.Now())
	var inUse *registry.StoreInUseError
	if !errors.As(err, &inUse) || inUse.Status != registry.StoreActive {
		t.Fatalf("stale listing: got %v, want StoreInUseError ACTIVE", err)
	}
	if !f.exists(t, st.Table) {
		t.Fatal("the active store's table was deleted")
	}
	e, err := f.reg.GetEnvironment(ctx, f.env)
	must(t, err)
	if len(e.Stores["r1"].DeletedTables) != 0 {
		t.Errorf("refused deletion recorded: %+v", e.Stores["r1"])
	}
}
