package gate_test

// Unit tests: the gate over memDB, an in-memory DynamoDB that enforces the
// condition checks the gate sends, so they run under -short (and under
// `make mutation`). gate_test.go checks the same guarantees against the
// emulator.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

type record = map[string]types.AttributeValue

// memDB holds tables of records by key. TransactWriteItems evaluates every
// condition (of the form `name = :value`) before applying any write, and on a
// failure cancels the whole transaction the way DynamoDB does: one reason per
// action, the old record with a failed check that asks for it.
type memDB struct {
	mu     sync.Mutex
	tables map[string]map[string]record
	n      int // TransactWriteItems calls
	// before(n) runs ahead of the n-th transaction (from 1), after(n) once
	// it is decided, before the gate has the answer; both unlocked.
	before, after func(n int)
	// fail, if set, answers the n-th transaction instead of evaluating it.
	fail func(n int) error
	// getErr fails GetItem on the named table.
	getErr map[string]error
}

const unitControl = "unit-control"

// newMemDB has environment env (active store "initial") with dataset
// "orders" RUNNING, and that store's table.
func newMemDB(t *testing.T, env string) (*memDB, *gate.Gate) {
	t.Helper()
	db := &memDB{tables: map[string]map[string]record{unitControl: {}}}
	db.createTable(dataTable(env, registry.InitialStoreID))
	db.putRecord(t, registry.EnvironmentKey(env), registry.Environment{ID: env, ActiveStore: registry.InitialStoreID})
	db.setDataset(t, env, "orders", registry.StatusRunning, "")
	return db, gate.New(db, gate.Options{ControlTable: unitControl, TablePrefix: tablePrefix})
}

func dataTable(env, store string) string { return ids.TableName(tablePrefix, env, store, "orders") }

func keyString(key record) string {
	var parts []string
	for name, v := range key {
		s, _ := v.(*types.AttributeValueMemberS)
		if s == nil {
			return "" // not a key the tables hold
		}
		parts = append(parts, name+"="+s.Value)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (d *memDB) createTable(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tables[name] = map[string]record{}
}

func (d *memDB) putRecord(t *testing.T, key record, v any) {
	t.Helper()
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range key {
		item[k] = v
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tables[unitControl][keyString(key)] = item
}

func (d *memDB) setDataset(t *testing.T, env, ds, status, holder string) {
	t.Helper()
	d.putRecord(t, registry.DatasetKey(env, ds), registry.Dataset{EnvID: env, ID: ds, Status: status, HeldBy: holder})
}

func (d *memDB) setActiveStore(t *testing.T, env, store string) {
	t.Helper()
	d.putRecord(t, registry.EnvironmentKey(env), registry.Environment{ID: env, ActiveStore: store})
}

// data is a data table's contents as key -> value.
func (d *memDB) data(table string) map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]string{}
	for _, it := range d.tables[table] {
		k, _ := it[registry.DataKeyAttribute].(*types.AttributeValueMemberS)
		v, _ := it["value"].(*types.AttributeValueMemberS)
		if k != nil && v != nil {
			out[k.Value] = v.Value
		}
	}
	return out
}

func (d *memDB) transactions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

func (d *memDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name := aws.ToString(in.TableName)
	if err := d.getErr[name]; err != nil {
		return nil, err
	}
	table, ok := d.tables[name]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no table " + name)}
	}
	if !aws.ToBool(in.ConsistentRead) {
		return nil, fmt.Errorf("eventually consistent read of %s: the gate must read consistently", name)
	}
	return &dynamodb.GetItemOutput{Item: table[keyString(in.Key)]}, nil
}

// holds evaluates `name = :value` (name may be an #alias) on item.
func holds(item record, expr string, names map[string]string, values record) (bool, error) {
	lhs, rhs, ok := strings.Cut(expr, " = ")
	want, found := values[rhs]
	if !ok || !found {
		return false, fmt.Errorf("condition %q: not name = :value", expr)
	}
	if alias, ok := names[lhs]; ok {
		lhs = alias
	}
	got, _ := item[lhs].(*types.AttributeValueMemberS)
	w, _ := want.(*types.AttributeValueMemberS)
	return got != nil && w != nil && got.Value == w.Value, nil
}

func (d *memDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.mu.Lock()
	d.n++
	n := d.n
	d.mu.Unlock()
	if d.before != nil {
		d.before(n)
	}
	if d.fail != nil {
		if err := d.fail(n); err != nil {
			return nil, err
		}
	}
	out, err := d.apply(in)
	if d.after != nil {
		d.after(n)
	}
	return out, err
}

// apply evaluates every condition of in, then applies its writes if all hold.
func (d *memDB) apply(in *dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(in.TransactItems) > 100 || aws.ToString(in.ClientRequestToken) == "" {
		return nil, fmt.Errorf("validation: %d actions, token %q", len(in.TransactItems), aws.ToString(in.ClientRequestToken))
	}
	reasons := make([]types.CancellationReason, len(in.TransactItems))
	cancelled := false
	for i, a := range in.TransactItems {
		reasons[i].Code = aws.String("None")
		c := a.ConditionCheck
		if c == nil {
			continue
		}
		table, ok := d.tables[aws.ToString(c.TableName)]
		if !ok {
			return nil, &types.ResourceNotFoundException{Message: c.TableName}
		}
		old := table[keyString(c.Key)]
		ok, err := holds(old, aws.ToString(c.ConditionExpression), c.ExpressionAttributeNames, c.ExpressionAttributeValues)
		if err != nil {
			return nil, err
		}
		if !ok {
			cancelled = true
			reasons[i].Code = aws.String("ConditionalCheckFailed")
			if c.ReturnValuesOnConditionCheckFailure == types.ReturnValuesOnConditionCheckFailureAllOld {
				reasons[i].Item = old
			}
		}
	}
	if cancelled {
		return nil, &types.TransactionCanceledException{Message: aws.String("condition failed"), CancellationReasons: reasons}
	}
	for _, a := range in.TransactItems {
		switch {
		case a.Put != nil:
			table, ok := d.tables[aws.ToString(a.Put.TableName)]
			if !ok {
				return nil, &types.ResourceNotFoundException{Message: a.Put.TableName}
			}
			table[keyString(record{registry.DataKeyAttribute: a.Put.Item[registry.DataKeyAttribute]})] = a.Put.Item
		case a.Delete != nil:
			table, ok := d.tables[aws.ToString(a.Delete.TableName)]
			if !ok {
				return nil, &types.ResourceNotFoundException{Message: a.Delete.TableName}
			}
			delete(table, keyString(a.Delete.Key))
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func requireRefused(t *testing.T, err error, env, status, holder string) {
	t.Helper()
	var paused *gate.WritesPausedError
	if !errors.As(err, &paused) || !errors.Is(err, gate.ErrWritesPaused) || errors.Is(err, gate.ErrNotFound) {
		t.Fatalf("error %T %v, want a *gate.WritesPausedError matching ErrWritesPaused only", err, err)
	}
	want := gate.WritesPausedError{Env: env, Dataset: "orders", Status: status, HeldBy: holder}
	if *paused != want {
		t.Fatalf("refused as %+v, want %+v", *paused, want)
	}
}

// The limits are DynamoDB's: an empty key or one over 2048 bytes is refused,
// 2048 bytes is not; the message says which.
func TestCheckKeyLimits(t *testing.T) {
	t.Parallel()
	if gate.MaxKeyBytes != 2048 || gate.MaxItemBytes != 400*1024 || gate.MaxBatchBytes != 4<<20 || gate.MaxBatch != 98 {
		t.Fatalf("limits %d %d %d %d are not DynamoDB's", gate.MaxKeyBytes, gate.MaxItemBytes, gate.MaxBatchBytes, gate.MaxBatch)
	}
	if err := gate.CheckKey(strings.Repeat("k", gate.MaxKeyBytes)); err != nil {
		t.Errorf("a key of MaxKeyBytes refused: %v", err)
	}
	for key, msg := range map[string]string{
		"":                                      "item key is empty",
		strings.Repeat("k", gate.MaxKeyBytes+1): "item key is 2049 bytes, at most 2048 allowed",
	} {
		var bad *gate.InvalidKeyError
		err := gate.CheckKey(key)
		if !errors.As(err, &bad) || bad.Key != key || err.Error() != msg {
			t.Errorf("key of %d bytes: %v, want %q", len(key), err, msg)
		}
		if err := gate.CheckItem(gate.Item{Key: key, Value: "v"}); !errors.As(err, &bad) {
			t.Errorf("CheckItem with a key of %d bytes: %v, want an *InvalidKeyError", len(key), err)
		}
	}
}

// An item's size is what DynamoDB counts: the attribute names ("key",
// "value") and the UTF-8 bytes of the key and value. One of exactly
// MaxItemBytes passes; one byte more is refused, naming the item.
func TestCheckItemSize(t *testing.T) {
	t.Parallel()
	if n := (gate.Item{Key: "k1", Value: "é"}).ItemBytes(); n != len("key")+2+len("value")+2 {
		t.Fatalf("ItemBytes = %d, want 12", n)
	}
	fits := gate.Item{Key: "big", Value: strings.Repeat("v", gate.MaxItemBytes-len("key")-len("big")-len("value"))}
	if fits.ItemBytes() != gate.MaxItemBytes {
		t.Fatalf("test item is %d bytes", fits.ItemBytes())
	}
	if err := gate.CheckItem(fits); err != nil {
		t.Fatalf("an item of MaxItemBytes refused: %v", err)
	}
	fits.Value += "v"
	var big *gate.ItemTooLargeError
	err := gate.CheckItem(fits)
	if !errors.As(err, &big) || *big != (gate.ItemTooLargeError{Key: "big", Bytes: gate.MaxItemBytes + 1, Limit: gate.MaxItemBytes}) {
		t.Fatalf("an item one byte over: %v, want an *ItemTooLargeError naming it", err)
	}
	if want := `item "big" is 409601 bytes, at most 409600 allowed`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	batch := &gate.ItemTooLargeError{Bytes: gate.MaxBatchBytes + 1, Limit: gate.MaxBatchBytes}
	if want := "batch is 4194305 bytes, at most 4194304 allowed in one transaction"; batch.Error() != want {
		t.Errorf("message %q, want %q", batch, want)
	}
}

func TestWritesPausedErrorSaysWhoHoldsIt(t *testing.T) {
	t.Parallel()
	for err, want := range map[*gate.WritesPausedError]string{
		{Env: "prod", Dataset: "orders", Status: "PAUSED", HeldBy: "backup-1"}: "write refused: dataset prod/orders is PAUSED (held by workflow backup-1); retry later",
		{Env: "prod", Dataset: "orders", Status: "PAUSING"}:                    "write refused: dataset prod/orders is PAUSING; retry later",
	} {
		if err.Error() != want {
			t.Errorf("%q, want %q", err, want)
		}
		if !errors.Is(fmt.Errorf("wrapped: %w", err), gate.ErrWritesPaused) || errors.Is(err, gate.ErrNotFound) {
			t.Errorf("%v does not match ErrWritesPaused alone", err)
		}
	}
}

// A batch is refused before anything is sent when it has more than MaxBatch
// items, a bad item, a key twice, or more than MaxBatchBytes in all; at
// exactly the limits it is written.
func TestBatchPutLimits(t *testing.T) {
	t.Parallel()
	db, g := newMemDB(t, "unit1")
	ctx := context.Background()
	var exact []gate.Item // 10 items of MaxItemBytes and one filling the batch to MaxBatchBytes
	for i := range 11 {
		size := gate.MaxItemBytes
		if i == 10 {
			size = gate.MaxBatchBytes - 10*gate.MaxItemBytes
		}
		key := fmt.Sprintf("h%02d", i)
		exact = append(exact, gate.Item{Key: key, Value: strings.Repeat("v", size-len("key")-len(key)-len("value"))})
	}
	over := append([]gate.Item(nil), exact...)
	over[10].Value += "v"
	var big *gate.ItemTooLargeError
	if err := g.BatchPut(ctx, "unit1", "orders", over); !errors.As(err, &big) ||
		*big != (gate.ItemTooLargeError{Bytes: gate.MaxBatchBytes + 1, Limit: gate.MaxBatchBytes}) {
		t.Errorf("a batch one byte over MaxBatchBytes: %v, want an *ItemTooLargeError for the batch", err)
	}
	refused := map[string][]gate.Item{
		"MaxBatch+1 items": items("many", gate.MaxBatch+1),
		"an empty key":     {{Key: "a", Value: "1"}, {Key: "", Value: "2"}},
		"a key twice":      {{Key: "a", Value: "1"}, {Key: "b"}, {Key: "a", Value: "2"}},
		"an item too big":  {{Key: "a", Value: strings.Repeat("v", gate.MaxItemBytes)}},
	}
	for name, batch := range refused {
		if err := g.BatchPut(ctx, "unit1", "orders", batch); err == nil {
			t.Errorf("a batch with %s accepted", name)
		}
	}
	if n := db.transactions(); n != 0 {
		t.Fatalf("refused batches sent %d transactions", n)
	}
	if err := g.BatchPut(ctx, "unit1", "orders", nil); err != nil || db.transactions() != 0 {
		t.Fatalf("an empty batch: %v, %d transactions; want nothing sent", err, db.transactions())
	}
	if err := g.BatchPut(ctx, "unit1", "orders", exact); err != nil {
		t.Fatalf("a batch of exactly MaxBatchBytes: %v", err)
	}
	if err := g.BatchPut(ctx, "unit1", "orders", items("many", gate.MaxBatch)); err != nil {
		t.Fatalf("a batch of MaxBatch items: %v", err)
	}
	if got := db.data(dataTable("unit1", registry.InitialStoreID)); len(got) != 11+gate.MaxBatch {
		t.Fatalf("%d items stored, want %d", len(got), 11+gate.MaxBatch)
	}
}

// Puts, deletes and reads while the dataset runs; writes refused, naming the
// holder, and reads going on while it is paused.
func TestGateOverMemDB(t *testing.T) {
	t.Parallel()
	db, g := newMemDB(t, "unit2")
	ctx := context.Background()
	table := dataTable("unit2", registry.InitialStoreID)
	if err := g.BatchPut(ctx, "unit2", "orders", []gate.Item{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := g.Delete(ctx, "unit2", "orders", "a"); err != nil {
		t.Fatal(err)
	}
	if got := db.data(table); len(got) != 1 || got["b"] != "2" {
		t.Fatalf("stored %v, want b=2", got)
	}
	if it, ok, err := g.Get(ctx, "unit2", "orders", "b"); err != nil || !ok || it != (gate.Item{Key: "b", Value: "2"}) {
		t.Fatalf("get b: %+v %v %v", it, ok, err)
	}
	if it, ok, err := g.Get(ctx, "unit2", "orders", "a"); err != nil || ok || it != (gate.Item{}) {
		t.Fatalf("get of a deleted key: %+v %v %v, want not found", it, ok, err)
	}
	var bad *gate.InvalidKeyError
	if err := g.Delete(ctx, "unit2", "orders", ""); !errors.As(err, &bad) {
		t.Errorf("delete of an empty key: %v, want an *InvalidKeyError", err)
	}
	if _, _, err := g.Get(ctx, "unit2", "orders", strings.Repeat("k", gate.MaxKeyBytes+1)); !errors.As(err, &bad) {
		t.Errorf("get of a key over MaxKeyBytes: %v, want an *InvalidKeyError", err)
	}

	db.setDataset(t, "unit2", "orders", registry.StatusPaused, "backup-wf")
	requireRefused(t, g.Put(ctx, "unit2", "orders", gate.Item{Key: "c", Value: "3"}), "unit2", registry.StatusPaused, "backup-wf")
	requireRefused(t, g.Delete(ctx, "unit2", "orders", "b"), "unit2", registry.StatusPaused, "backup-wf")
	if got := db.data(table); len(got) != 1 || got["b"] != "2" || db.transactions() != 2 {
		t.Fatalf("while paused: stored %v after %d transactions, want b=2 after 2", got, db.transactions())
	}
	if it, ok, err := g.Get(ctx, "unit2", "orders", "b"); err != nil || !ok || it.Value != "2" {
		t.Fatalf("get while paused: %+v %v %v", it, ok, err)
	}
}

// An item written without a value attribute (by another tool) reads as an
// empty value, not as missing.
func TestGetItemWithoutValue(t *testing.T) {
	t.Parallel()
	db, g := newMemDB(t, "unit3")
	db.mu.Lock()
	db.tables[dataTable("unit3", registry.InitialStoreID)]["key=bare"] = record{registry.DataKeyAttribute: &types.AttributeValueMemberS{Value: "bare"}}
	db.mu.Unlock()
	if it, ok, err := g.Get(context.Background(), "unit3", "orders", "bare"); err != nil || !ok || it != (gate.Item{Key: "bare"}) {
		t.Fatalf("get: %+v %v %v, want found with an empty value", it, ok, err)
	}
}

// A missing dataset or environment fails every call with ErrNotFound; a
// failed read fails it with the table named.
func TestGateReadFailures(t *testing.T) {
	t.Parallel()
	db, g := newMemDB(t, "unit4")
	ctx := context.Background()
	for name, env := range map[string][2]string{"dataset": {"unit4", "missing"}, "environment": {"nosuchenv", "orders"}} {
		if env[0] == "nosuchenv" {
			db.setDataset(t, "nosuchenv", "orders", registry.StatusRunning, "")
		}
		_, ok, getErr := g.Get(ctx, env[0], env[1], "k")
		for call, err := range map[string]error{
			"put":    g.Put(ctx, env[0], env[1], gate.Item{Key: "k", Value: "v"}),
			"delete": g.Delete(ctx, env[0], env[1], "k"),
			"get":    getErr,
		} {
			var nf *registry.NotFoundError
			if !errors.Is(err, gate.ErrNotFound) || !errors.As(err, &nf) || nf.Kind != name || errors.Is(err, gate.ErrWritesPaused) {
				t.Errorf("%s of a missing %s: %v, want ErrNotFound for the %s", call, name, err, name)
			}
		}
		if ok {
			t.Errorf("get of a missing %s found an item", name)
		}
	}
	throttled := errors.New("throttled")
	table := dataTable("unit4", registry.InitialStoreID)
	db.getErr = map[string]error{table: throttled}
	if _, ok, err := g.Get(ctx, "unit4", "orders", "k"); !errors.Is(err, throttled) || ok || !strings.Contains(err.Error(), table) {
		t.Errorf("get with a failing data table: %v, %v; want the error naming %s", ok, err, table)
	}
	db.getErr = map[string]error{unitControl: throttled}
	if err := g.Put(ctx, "unit4", "orders", gate.Item{Key: "k"}); !errors.Is(err, throttled) || errors.Is(err, gate.ErrNotFound) {
		t.Errorf("put with a failing control table: %v, want the read's error", err)
	}
	if db.transactions() != 0 {
		t.Errorf("%d transactions sent for calls that failed their reads", db.transactions())
	}
}

// A pause that commits between the gate's read and its transaction: the
// transaction's own check refuses it, and the refusal names the holder from
// the record DynamoDB returned with the failed check, even if that holder
// has released it and another holds the dataset by the time the gate reads
// the answer.
func TestTransactionRefusedByAPauseNamesItsHolder(t *testing.T) {
	t.Parallel()
	db, g := newMemDB(t, "unit5")
	db.before = func(n int) {
		if n == 1 {
			db.setDataset(t, "unit5", "orders", registry.StatusPausing, "first")
		}
	}
	db.after = func(n int) {
		if n == 1 {
			db.setDataset(t, "unit5", "orders", registry.StatusPausing, "second")
		}
	}
	requireRefused(t, g.Put(context.Background(), "unit5", "orders", gate.Item{Key: "k", Value: "v"}), "unit5", registry.StatusPausing, "first")
	if db.transactions() != 1 || len(db.data(dataTable("unit5", registry.InitialStoreID))) != 0 {
		t.Fatalf("%d transactions, stored %v; want 1 refused, nothing stored", db.transactions(), db.data(dataTable("unit5", registry.InitialStoreID)))
	}
}

// When the failed check comes back without the record, the gate reads the
// dataset again and refuses with what it reads.
func TestTransactionRefusedWithoutTheRecord(t *testing.T) {
	t.Parallel()
	db, g := newMemDB(t, "unit6")
	db.fail = func(n int) error {
		if n > 1 {
			return nil
		}
		db.setDataset(t, "unit6", "orders", registry.StatusPaused, "restore-wf")
		return &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
			{Code: aws.String("ConditionalCheckFailed")}, {Code: aws.String("None")}, {Code: aws.String("None")},
		}}
	}
	requireRefused(t, g.Delete(context.Background(), "unit6", "orders", "k"), "unit6", registry.StatusPaused, "restore-wf")
	if db.transactions() != 1 {
		t.Fatalf("%d transactions, want 1", db.transactions())
	}
}

// A restore switches the active store after the gate read it: the
// transaction bound to the old store is refused by its store check and the
// retry writes to the new store, so nothing lands in the one left behind.
// A cancellation without reasons is retried the same way.
func TestTransactionRetriedWhenTheActiveStoreChanged(t *testing.T) {
	t.Parallel()
	db, g := newMemDB(t, "unit7")
	db.createTable(dataTable("unit7", "restored"))
	db.before = func(n int) {
		if n == 1 {
			db.setActiveStore(t, "unit7", "restored")
		}
	}
	db.fail = func(n int) error {
		if n == 2 {
			return &types.TransactionCanceledException{Message: aws.String("transaction conflict")}
		}
		return nil
	}
	if err := g.BatchPut(context.Background(), "unit7", "orders", items("switched", 5)); err != nil {
		t.Fatal(err)
	}
	if old := db.data(dataTable("unit7", registry.InitialStoreID)); len(old) != 0 {
		t.Fatalf("the store switched away from got %v", old)
	}
	if got := db.data(dataTable("unit7", "restored")); len(got) != 5 || db.transactions() != 3 {
		t.Fatalf("the new store has %d items after %d transactions, want 5 after 3", len(got), db.transactions())
	}
}

// Any other failure of the transaction is returned at once, naming the
// dataset; a transaction that keeps losing races is given up after 9
// attempts.
func TestTransactionFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, g := newMemDB(t, "unit8")
	down := errors.New("service unavailable")
	db.fail = func(int) error { return down }
	if err := g.Put(ctx, "unit8", "orders", gate.Item{Key: "k"}); !errors.Is(err, down) || !strings.Contains(err.Error(), "write to unit8/orders") || db.transactions() != 1 {
		t.Errorf("put with DynamoDB failing: %v after %d transactions, want the error at once, naming the dataset", err, db.transactions())
	}

	db, g = newMemDB(t, "unit9")
	db.fail = func(int) error {
		return &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
			{Code: aws.String("None")}, {Code: aws.String("ConditionalCheckFailed")}, {Code: aws.String("None")},
		}}
	}
	start := time.Now()
	var cancelled *types.TransactionCanceledException
	if err := g.Put(ctx, "unit9", "orders", gate.Item{Key: "k"}); !errors.As(err, &cancelled) || db.transactions() != 9 {
		t.Errorf("put that always races: %v after %d transactions, want the cancellation after 9", err, db.transactions())
	}
	// Backing off 20 ms, doubling: 5.1 s in all.
	if d := time.Since(start); d < 5*time.Second {
		t.Errorf("gave up after %v, want the backoff between attempts", d)
	}
}
