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

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// The gate's guarantees hold only as DynamoDB enforces its transactions, so
// these tests run it against the emulator (one per test binary), each test
// in environments of its own.
var (
	emuOnce sync.Once
	emu     *testenv.Emulator
	emuErr  error
)

const controlTable = "lifeboat-gate-test"

// emulator starts the package's emulator on first use; -short skips.
func emulator(t *testing.T) *testenv.Emulator {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the emulator: skipped with -short")
	}
	emuOnce.Do(func() {
		emu, emuErr = testenv.NewEmulator(context.Background(), testenv.EmulatorOptions{Profile: "fast"})
		if emuErr == nil {
			emuErr = (&registry.Registry{DB: emu.AWS.DynamoDB, Table: controlTable}).EnsureControlTable(context.Background())
		}
	})
	if emuErr != nil {
		t.Fatal(emuErr)
	}
	return emu
}

func TestMain(m *testing.M) {
	code := m.Run()
	if emu != nil {
		_ = emu.Close()
	}
	os.Exit(code)
}

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
	reg := &registry.Registry{DB: m.AWS.DynamoDB, Table: controlTable, TablePrefix: "gt-"}
	if _, err := reg.CreateEnvironment(ctx, env, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateDataset(ctx, env, "orders", time.Now()); err != nil {
		t.Fatal(err)
	}
	return &fixture{reg: reg, gate: gate.New(db, reg), env: env, ds: "orders", ctx: ctx, emulator: m}
}

// stored reads a store's table directly, not through the gate.
func (f *fixture) stored(t *testing.T, store string) map[string]string {
	t.Helper()
	items, err := gate.ReadTable(f.ctx, f.emulator.AWS.DynamoDB, f.reg.TableName(f.env, store, f.ds))
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func items(prefix string, n int) []gate.Item {
	out := make([]gate.Item, n)
	for i := range out {
		out[i] = gate.Item{Key: gate.ItemKey(prefix, i+1), Value: gate.ItemValue(prefix, i+1)}
	}
	return out
}

func requirePaused(t *testing.T, err error, status, holder string) {
	t.Helper()
	var paused *gate.WritesPausedError
	if !errors.As(err, &paused) {
		t.Fatalf("error %T %v, want a *gate.WritesPausedError", err, err)
	}
	if paused.Status != status || paused.HeldBy != holder {
		t.Fatalf("refused as %s held by %q, want %s held by %q", paused.Status, paused.HeldBy, status, holder)
	}
	if !strings.Contains(err.Error(), holder) {
		t.Errorf("error %q does not name the holder %s", err, holder)
	}
}

func TestGateWritesWhileRunning(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	batch := items("item", gate.MaxBatch)
	if err := f.gate.Put(f.ctx, f.env, f.ds, batch...); err != nil {
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
	if n, err := f.gate.Count(f.ctx, f.env, f.ds); err != nil || n != int64(gate.MaxBatch+1) {
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
		if err := f.gate.Put(f.ctx, f.env, f.ds, batch...); err == nil {
			t.Errorf("%s: accepted", name)
		}
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
	requirePaused(t, f.gate.Put(f.ctx, f.env, f.ds, items("pausing", 3)...), registry.StatusPausing, holder)
	if err := f.reg.MarkPaused(f.ctx, f.env, f.ds, holder); err != nil {
		t.Fatal(err)
	}
	requirePaused(t, f.gate.Put(f.ctx, f.env, f.ds, items("paused", 3)...), registry.StatusPaused, holder)
	if got := f.stored(t, registry.InitialStoreID); len(got) != 0 {
		t.Fatalf("refused writes stored %v", testenv.SortedKeys(got))
	}
	if _, err := f.reg.Resume(f.ctx, f.env, f.ds, holder); err != nil {
		t.Fatal(err)
	}
	if err := f.gate.Put(f.ctx, f.env, f.ds, items("resumed", 3)...); err != nil {
		t.Fatalf("write after resume: %v", err)
	}
}

// interceptDB runs before(n) ahead of the n-th TransactWriteItems (from 1)
// and records each transaction's client request token.
type interceptDB struct {
	gate.API
	mu     sync.Mutex
	n      int
	tokens []string
	before func(n int)
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
	return d.API.TransactWriteItems(ctx, in, opts...)
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
	requirePaused(t, f.gate.Put(f.ctx, f.env, f.ds, items("raced", 10)...), registry.StatusPausing, holder)
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
	if err := f.gate.Put(f.ctx, f.env, f.ds, batch...); err != nil {
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
	writerA := gate.New(db, f.reg)
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
