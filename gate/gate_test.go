package gate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/gateload"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// The gate's guarantees hold only as DynamoDB enforces its transactions, so
// these tests run it against the emulator (one per test binary), each test
// in environments of its own.
const (
	controlTable = "lifeboat-gate-test"
	tablePrefix  = "gt-"
)

var gateOptions = gate.Options{ControlTable: controlTable, TablePrefix: tablePrefix}

// emulator starts the package's emulator on first use; -short skips.
func emulator(t *testing.T) *testenv.Emulator {
	t.Helper()
	return pkgEmulator.Get(t)
}

var pkgEmulator = testenv.PackageEmulator{Options: testenv.EmulatorOptions{Profile: "fast"}, ControlTable: controlTable}

func TestMain(m *testing.M) { os.Exit(pkgEmulator.Main(m)) }

// fixture is one environment with one dataset, and a gate over db.
type fixture struct {
	reg      *registry.Registry
	gate     *gate.Gate
	env, ds  string
	ctx      context.Context
	emulator *testenv.Emulator
}

var envSeq struct {
	sync.Mutex
	n int
}

func newFixture(t *testing.T, db gate.API) *fixture {
	t.Helper()
	m := emulator(t)
	if db == nil {
		db = m.AWS.DynamoDB
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	envSeq.Lock()
	envSeq.n++
	env := fmt.Sprintf("gate%d", envSeq.n)
	envSeq.Unlock()
	// The registry writes through the plain client: only the gate's calls
	// go through db.
	reg := &registry.Registry{DB: m.AWS.DynamoDB, Table: controlTable, TablePrefix: tablePrefix}
	if _, err := reg.CreateEnvironment(ctx, env, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateDataset(ctx, env, "orders", time.Now()); err != nil {
		t.Fatal(err)
	}
	return &fixture{reg: reg, gate: gate.New(db, gateOptions), env: env, ds: "orders", ctx: ctx, emulator: m}
}

// stored reads a store's table directly, not through the gate.
func (f *fixture) stored(t *testing.T, store string) map[string]string {
	t.Helper()
	items, err := gateload.ReadTable(f.ctx, f.emulator.AWS.DynamoDB, f.reg.TableName(f.env, store, f.ds))
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func items(prefix string, n int) []gate.Item {
	out := make([]gate.Item, n)
	for i := range out {
		out[i] = gate.Item{Key: gateload.ItemKey(prefix, i+1), Value: gateload.ItemValue(prefix, i+1)}
	}
	return out
}

// requirePaused checks err is the gate's refusal of a write to f's dataset,
// naming the status and holder.
func (f *fixture) requirePaused(t *testing.T, err error, status, holder string) {
	t.Helper()
	var paused *gate.WritesPausedError
	if !errors.As(err, &paused) {
		t.Fatalf("error %T %v, want a *gate.WritesPausedError", err, err)
	}
	if !errors.Is(err, gate.ErrWritesPaused) || errors.Is(err, gate.ErrNotFound) {
		t.Errorf("errors.Is(%v, ErrWritesPaused) = %v, ErrNotFound = %v: want true, false",
			err, errors.Is(err, gate.ErrWritesPaused), errors.Is(err, gate.ErrNotFound))
	}
	if paused.Env != f.env || paused.Dataset != f.ds {
		t.Errorf("refusal names dataset %s/%s, want %s/%s", paused.Env, paused.Dataset, f.env, f.ds)
	}
	if paused.Status != status || paused.HeldBy != holder {
		t.Fatalf("refused as %s held by %q, want %s held by %q", paused.Status, paused.HeldBy, status, holder)
	}
	for _, want := range []string{f.env + "/" + f.ds, holder, "retry later"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestGateWritesWhileRunning(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	batch := items("item", gate.MaxBatch)
	if err := f.gate.BatchPut(f.ctx, f.env, f.ds, batch); err != nil {
		t.Fatal(err)
	}
	if err := f.gate.Put(f.ctx, f.env, f.ds, gate.Item{Key: "one", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	got := f.stored(t, registry.InitialStoreID)
	if len(got) != gate.MaxBatch+1 || got["one"] != "1" || got[batch[0].Key] != batch[0].Value {
		t.Fatalf("stored %d items, want %d", len(got), gate.MaxBatch+1)
	}
	if it, ok, err := f.gate.Get(f.ctx, f.env, f.ds, "one"); err != nil || !ok || it.Value != "1" {
		t.Fatalf("get: %+v %v %v", it, ok, err)
	}
	if n, err := gateload.Count(f.ctx, f.reg, f.env, f.ds); err != nil || n != int64(gate.MaxBatch+1) {
		t.Fatalf("count: %d %v", n, err)
	}
	// Overwriting a key is a write like any other.
	if err := f.gate.Put(f.ctx, f.env, f.ds, gate.Item{Key: "one", Value: "uno"}); err != nil {
		t.Fatal(err)
	}
	if got := f.stored(t, registry.InitialStoreID)["one"]; got != "uno" {
		t.Fatalf("overwritten value %q", got)
	}
}

func TestGateRefusesBadBatchesBeforeWriting(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cases := map[string][]gate.Item{
		"too many":   items("big", gate.MaxBatch+1),
		"empty key":  {{Key: "a", Value: "1"}, {Key: "", Value: "2"}},
		"duplicates": {{Key: "a", Value: "1"}, {Key: "a", Value: "2"}},
	}
	for name, batch := range cases {
		if err := f.gate.BatchPut(f.ctx, f.env, f.ds, batch); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var bad *gate.InvalidKeyError
	if err := f.gate.Put(f.ctx, f.env, f.ds, gate.Item{Key: strings.Repeat("k", gate.MaxKeyBytes+1)}); !errors.As(err, &bad) {
		t.Errorf("a key over MaxKeyBytes: %v, want an *InvalidKeyError", err)
	}
	var big *gate.ItemTooLargeError
	over := gate.Item{Key: "big", Value: strings.Repeat("v", gate.MaxItemBytes)}
	if err := f.gate.Put(f.ctx, f.env, f.ds, over); !errors.As(err, &big) || big.Key != "big" || big.Bytes != over.ItemBytes() {
		t.Errorf("an item over MaxItemBytes: %v, want an *ItemTooLargeError naming it", err)
	}
	// Eleven items just under the item limit each: together over 4 MB.
	var heavy []gate.Item
	for i := range 11 {
		heavy = append(heavy, gate.Item{Key: fmt.Sprintf("h%02d", i), Value: strings.Repeat("v", gate.MaxItemBytes-20)})
	}
	if err := f.gate.BatchPut(f.ctx, f.env, f.ds, heavy); !errors.As(err, &big) || big.Key != "" || big.Limit != gate.MaxBatchBytes {
		t.Errorf("a batch over MaxBatchBytes: %v, want an *ItemTooLargeError for the batch", err)
	}
	if err := f.gate.Delete(f.ctx, f.env, f.ds, ""); !errors.As(err, &bad) {
		t.Errorf("delete of an empty key: %v, want an *InvalidKeyError", err)
	}
	if got := f.stored(t, registry.InitialStoreID); len(got) != 0 {
		t.Fatalf("refused batches wrote %v", testenv.SortedKeys(got))
	}
}

// Writes are refused, naming the holder, from the moment a pause commits
// (PAUSING) until the holder resumes; then they are accepted again.
func TestGateRefusesWritesWhilePaused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	const holder = "backup-wf-1"
	if err := f.reg.Pause(f.ctx, f.env, f.ds, holder, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.requirePaused(t, f.gate.BatchPut(f.ctx, f.env, f.ds, items("pausing", 3)), registry.StatusPausing, holder)
	if err := f.reg.MarkPaused(f.ctx, f.env, f.ds, holder); err != nil {
		t.Fatal(err)
	}
	f.requirePaused(t, f.gate.Put(f.ctx, f.env, f.ds, gate.Item{Key: "paused", Value: "x"}), registry.StatusPaused, holder)
	if got := f.stored(t, registry.InitialStoreID); len(got) != 0 {
		t.Fatalf("refused writes stored %v", testenv.SortedKeys(got))
	}
	if _, err := f.reg.Resume(f.ctx, f.env, f.ds, holder); err != nil {
		t.Fatal(err)
	}
	if err := f.gate.BatchPut(f.ctx, f.env, f.ds, items("resumed", 3)); err != nil {
		t.Fatalf("write after resume: %v", err)
	}
}

// interceptDB runs before(n) ahead of the n-th TransactWriteItems (from 1)
// and after(n) once it returned, and records each transaction's client
// request token.
type interceptDB struct {
	gate.API
	mu            sync.Mutex
	n             int
	tokens        []string
	before, after func(n int)
}

func (d *interceptDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.mu.Lock()
	d.n++
	n := d.n
	d.tokens = append(d.tokens, aws.ToString(in.ClientRequestToken))
	d.mu.Unlock()
	if d.before != nil {
		d.before(n)
	}
	out, err := d.API.TransactWriteItems(ctx, in, opts...)
	if d.after != nil {
		d.after(n)
	}
	return out, err
}

// A pause that commits after the gate read RUNNING but before its
// transaction: the transaction's own condition refuses it, as a whole.
func TestGateTransactionRefusedByAPauseAfterItsCheck(t *testing.T) {
	t.Parallel()
	const holder = "backup-wf-2"
	db := &interceptDB{}
	f := newFixture(t, db)
	db.API = f.emulator.AWS.DynamoDB
	db.before = func(n int) {
		if n == 1 {
			if err := f.reg.Pause(f.ctx, f.env, f.ds, holder, time.Now()); err != nil {
				t.Error(err)
			}
		}
	}
	f.requirePaused(t, f.gate.BatchPut(f.ctx, f.env, f.ds, items("raced", 10)), registry.StatusPausing, holder)
	if db.n != 1 {
		t.Errorf("%d transactions sent, want 1 (refused by DynamoDB, then by the gate's read)", db.n)
	}
	if got := f.stored(t, registry.InitialStoreID); len(got) != 0 {
		t.Fatalf("a refused transaction stored %d of its items: %v", len(got), testenv.SortedKeys(got))
	}
}

// A restore that switches the environment's active store after the gate
// resolved it: the transaction bound to the old store is refused and the
// retry writes to the new one, so nothing lands in the store left behind.
func TestGateTransactionRefusedWhenTheActiveStoreChanged(t *testing.T) {
	t.Parallel()
	db := &interceptDB{}
	f := newFixture(t, db)
	db.API = f.emulator.AWS.DynamoDB
	const next = "restored"
	if err := f.reg.CreateStore(f.ctx, f.env, next, "restore-wf", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.EnsureDataTable(f.ctx, f.reg.TableName(f.env, next, f.ds)); err != nil {
		t.Fatal(err)
	}
	db.before = func(n int) {
		if n == 1 {
			if err := f.reg.SwitchStore(f.ctx, f.env, registry.InitialStoreID, next); err != nil {
				t.Error(err)
			}
		}
	}
	batch := items("switched", 5)
	if err := f.gate.BatchPut(f.ctx, f.env, f.ds, batch); err != nil {
		t.Fatal(err)
	}
	if db.n != 2 {
		t.Errorf("%d transactions sent, want 2 (the first refused for its store)", db.n)
	}
	if old := f.stored(t, registry.InitialStoreID); len(old) != 0 {
		t.Fatalf("the store switched away from got %v", testenv.SortedKeys(old))
	}
	if got := f.stored(t, next); len(got) != len(batch) {
		t.Fatalf("the new active store has %d items, want %d", len(got), len(batch))
	}
	// A token names one transaction: the gate's own retry is a new one.
	// (A transaction sent without a token gets one from the SDK.)
	if len(db.tokens) == 2 && db.tokens[0] != "" && db.tokens[0] == db.tokens[1] {
		t.Errorf("client request token %q sent with two different transactions", db.tokens[0])
	}
}

// loseFirstTransaction delivers the first TransactWriteItems to DynamoDB,
// runs during, then answers 500 as if the response were lost: the SDK sends
// the same request again.
type loseFirstTransaction struct {
	mu     sync.Mutex
	lost   bool
	during func()
}

func (l *loseFirstTransaction) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".TransactWriteItems") {
		return resp, err
	}
	l.mu.Lock()
	first := !l.lost
	l.lost = true
	l.mu.Unlock()
	if !first {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	l.during()
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"response lost"}`
	return &http.Response{
		StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": []string{"application/x-amz-json-1.0"}},
		Body:    io.NopCloser(bytes.NewReader([]byte(body))),
		Request: req, ContentLength: int64(len(body)),
	}, nil
}

// Writer A's transaction commits but its response is lost; writer B then
// overwrites the key and is acknowledged; A's SDK resends the transaction.
// The client request token makes the resend return the first outcome
// instead of committing again, so B's acknowledged write is not undone.
func TestGateClientTokenMakesTheSDKsRetryIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	lossy := &loseFirstTransaction{}
	lossy.during = func() {
		if err := f.gate.Put(f.ctx, f.env, f.ds, gate.Item{Key: "k", Value: "from B"}); err != nil {
			t.Errorf("writer B: %v", err)
		}
	}
	db := dynamodb.NewFromConfig(f.emulator.AWS.Config, func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Transport: lossy}
	})
	writerA := gate.New(db, gateOptions)
	if err := writerA.Put(f.ctx, f.env, f.ds, gate.Item{Key: "k", Value: "from A"}); err != nil {
		t.Fatalf("writer A: %v", err)
	}
	if !lossy.lost {
		t.Fatal("no response was lost: the test proved nothing")
	}
	if got := f.stored(t, registry.InitialStoreID)["k"]; got != "from B" {
		t.Fatalf("k = %q after the resend, want %q: the resend committed again over an acknowledged write", got, "from B")
	}
}

// Delete goes through the same checks as a put: it removes the item while
// the dataset runs and is refused, leaving the item, while it is paused.
func TestGateDeletes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	if err := f.gate.BatchPut(f.ctx, f.env, f.ds, []gate.Item{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.gate.Delete(f.ctx, f.env, f.ds, "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.gate.Delete(f.ctx, f.env, f.ds, "never-written"); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}
	if _, ok, err := f.gate.Get(f.ctx, f.env, f.ds, "a"); err != nil || ok {
		t.Fatalf("get after delete: found %v, %v", ok, err)
	}

	const holder = "restore-wf-3"
	if err := f.reg.Pause(f.ctx, f.env, f.ds, holder, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.requirePaused(t, f.gate.Delete(f.ctx, f.env, f.ds, "b"), registry.StatusPausing, holder)
	if got := f.stored(t, registry.InitialStoreID); len(got) != 1 || got["b"] != "2" {
		t.Fatalf("after a refused delete the store holds %v, want b=2", got)
	}
	// Reads go on while writes are refused.
	if it, ok, err := f.gate.Get(f.ctx, f.env, f.ds, "b"); err != nil || !ok || it != (gate.Item{Key: "b", Value: "2"}) {
		t.Fatalf("get while paused: %+v %v %v", it, ok, err)
	}
	if _, err := f.reg.Resume(f.ctx, f.env, f.ds, holder); err != nil {
		t.Fatal(err)
	}
	if err := f.gate.Delete(f.ctx, f.env, f.ds, "b"); err != nil {
		t.Fatalf("delete after resume: %v", err)
	}
	if got := f.stored(t, registry.InitialStoreID); len(got) != 0 {
		t.Fatalf("store holds %v after every key was deleted", got)
	}
}

// A transaction refused by a pause names the holder whose pause refused it,
// from the dataset record DynamoDB returns with the failed check, even if
// that pause has since been released and another workflow holds a new one.
func TestGateRefusalNamesTheHolderThatRefusedTheTransaction(t *testing.T) {
	t.Parallel()
	const first, second = "backup-wf-first", "backup-wf-second"
	db := &interceptDB{}
	f := newFixture(t, db)
	db.API = f.emulator.AWS.DynamoDB
	db.before = func(n int) {
		if n == 1 {
			if err := f.reg.Pause(f.ctx, f.env, f.ds, first, time.Now()); err != nil {
				t.Error(err)
			}
		}
	}
	db.after = func(n int) {
		if n != 1 {
			return
		}
		if _, err := f.reg.Resume(f.ctx, f.env, f.ds, first); err != nil {
			t.Error(err)
		}
		if err := f.reg.Pause(f.ctx, f.env, f.ds, second, time.Now()); err != nil {
			t.Error(err)
		}
	}
	f.requirePaused(t, f.gate.Delete(f.ctx, f.env, f.ds, "k"), registry.StatusPausing, first)
	if db.n != 1 {
		t.Errorf("%d transactions sent, want 1", db.n)
	}
}

// A write or read of a dataset or environment that does not exist fails
// with an error matching ErrNotFound (and the registry's, for the CLI).
func TestGateNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for name, ref := range map[string][2]string{"dataset": {f.env, "missing"}, "environment": {"nosuchenv", f.ds}} {
		calls := map[string]error{
			"put":    f.gate.Put(f.ctx, ref[0], ref[1], gate.Item{Key: "k", Value: "v"}),
			"delete": f.gate.Delete(f.ctx, ref[0], ref[1], "k"),
		}
		_, _, calls["get"] = f.gate.Get(f.ctx, ref[0], ref[1], "k")
		for call, err := range calls {
			var nf *registry.NotFoundError
			if !errors.Is(err, gate.ErrNotFound) || !errors.As(err, &nf) || errors.Is(err, gate.ErrWritesPaused) {
				t.Errorf("%s of a missing %s: %v, want ErrNotFound", call, name, err)
			}
		}
	}
}

// fakeDB answers the control-table reads with a RUNNING dataset in store
// "initial" and records the tables every call names.
type fakeDB struct {
	mu     sync.Mutex
	tables []string
}

func (d *fakeDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tables = append(d.tables, aws.ToString(in.TableName))
	return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{
		"status":      &types.AttributeValueMemberS{Value: registry.StatusRunning},
		"activeStore": &types.AttributeValueMemberS{Value: registry.InitialStoreID},
	}}, nil
}

func (d *fakeDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range in.TransactItems {
		switch {
		case a.ConditionCheck != nil:
			d.tables = append(d.tables, aws.ToString(a.ConditionCheck.TableName))
		case a.Put != nil:
			d.tables = append(d.tables, aws.ToString(a.Put.TableName))
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// Empty Options mean the workers' defaults: LIFEBOAT_CONTROL_TABLE's and
// LIFEBOAT_TABLE_PREFIX's.
func TestGateOptionsDefaultLikeTheWorkers(t *testing.T) {
	t.Parallel()
	db := &fakeDB{}
	if err := gate.New(db, gate.Options{}).Put(context.Background(), "prod", "orders", gate.Item{Key: "k"}); err != nil {
		t.Fatal(err)
	}
	data := ids.TableName(config.DefaultTablePrefix, "prod", registry.InitialStoreID, "orders")
	want := []string{config.DefaultControlTable, config.DefaultControlTable, config.DefaultControlTable, config.DefaultControlTable, data}
	if fmt.Sprint(db.tables) != fmt.Sprint(want) {
		t.Fatalf("tables used %v, want %v", db.tables, want)
	}
}
