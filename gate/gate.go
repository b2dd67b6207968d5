// Package gate is how an application writes to a Lifeboat dataset: every
// write it lets through is one that a backup or restore cannot lose.
//
// Build one Gate per process from the application's DynamoDB client and the
// control table the Lifeboat workers use, then write and read by environment
// and dataset id:
//
//	cfg, err := config.LoadDefaultConfig(ctx)
//	...
//	g := gate.New(dynamodb.NewFromConfig(cfg), gate.Options{ControlTable: "lifeboat-control"})
//	err = g.Put(ctx, "prod", "orders", gate.Item{Key: "order-1", Value: `{"total":42}`})
//	if errors.Is(err, gate.ErrWritesPaused) {
//		// A backup or restore holds the dataset: nothing was written.
//		// Retry later: a backup pauses writes for about a second, a
//		// restore for as long as its import.
//	}
//
// While a backup or restore holds a dataset (its status is PAUSING or
// PAUSED) every write is refused with a *WritesPausedError naming the dataset
// and the workflow that holds it; reads go on. The refusal is clean: a
// refused Put, BatchPut or Delete wrote nothing, so the application may
// simply retry the same call later.
//
// How it holds: each write is one DynamoDB transaction that carries two
// condition checks on the control table next to the item writes: the dataset
// is RUNNING, and the environment's active store is the one the items go to.
// DynamoDB transactions are serializable, so once a pause's conditional update
// to the dataset record has returned, no write can commit any more, whichever
// process or machine it started on: a write that checked earlier has already
// committed, one that checks later is refused. A write is acknowledged only
// when its transaction committed, so nothing acknowledged is lost. After a
// restore switches the environment to a new store, writes go to the new
// store's tables.
package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// MaxBatch is the most items one BatchPut commits at once: DynamoDB allows
// 100 actions in a transaction and two are the gate's condition checks. A
// transaction also holds at most 4 MB in all.
const MaxBatch = 98

// MaxKeyBytes is the longest item key: DynamoDB's limit on a partition key
// value (2048 bytes of UTF-8).
const MaxKeyBytes = 2048

// MaxItemBytes is DynamoDB's limit on one item (400 KB), counted as DynamoDB
// counts it: the UTF-8 lengths of attribute names and values. See
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
const MaxItemBytes = 400 * 1024

// MaxBatchBytes is DynamoDB's limit on the items of one transaction (4 MB).
const MaxBatchBytes = 4 * 1024 * 1024

// API is the part of the DynamoDB client the gate uses; *dynamodb.Client
// has it.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Options say where Lifeboat keeps its tables. They must match the workers'
// settings (LIFEBOAT_CONTROL_TABLE, LIFEBOAT_TABLE_PREFIX); empty fields take
// the same defaults.
type Options struct {
	// ControlTable is the table holding environments and datasets
	// (default "lifeboat-control").
	ControlTable string
	// TablePrefix starts the name of every dataset table (default "lifeboat").
	TablePrefix string
}

// Gate writes to and reads from datasets. It is safe for concurrent use.
type Gate struct {
	db      API
	control string
	prefix  string
}

// New builds a gate over db, which must reach the DynamoDB that holds the
// control table (the same region and account as the Lifeboat workers).
func New(db API, opts Options) *Gate {
	g := &Gate{db: db, control: opts.ControlTable, prefix: opts.TablePrefix}
	if g.control == "" {
		g.control = config.DefaultControlTable
	}
	if g.prefix == "" {
		g.prefix = config.DefaultTablePrefix
	}
	return g
}

// Item is one key/value record of a dataset.
type Item struct {
	Key   string
	Value string
}

// ErrWritesPaused matches, with errors.Is, every *WritesPausedError.
var ErrWritesPaused = errors.New("writes paused")

// ErrNotFound matches, with errors.Is, the error for an environment or
// dataset that does not exist.
var ErrNotFound = errors.New("not found")

// WritesPausedError is a write refused because a Lifeboat workflow holds the
// dataset (a backup or restore). Nothing of the refused call was written;
// retry it later, after the workflow resumes writes.
type WritesPausedError struct {
	Env, Dataset string
	// Status is PAUSING (writes just stopped) or PAUSED (drained; the
	// backup or restore runs).
	Status string
	// HeldBy is the id of the workflow holding the pause, as the Lifeboat
	// CLI and the Temporal Web UI show it; empty if it could not be read.
	HeldBy string
}

func (e *WritesPausedError) Error() string {
	held := ""
	if e.HeldBy != "" {
		held = " (held by workflow " + e.HeldBy + ")"
	}
	return fmt.Sprintf("write refused: dataset %s/%s is %s%s; retry later", e.Env, e.Dataset, e.Status, held)
}

// Is makes errors.Is(err, ErrWritesPaused) true.
func (e *WritesPausedError) Is(target error) bool { return target == ErrWritesPaused }

// InvalidKeyError says an item key is one DynamoDB cannot store.
type InvalidKeyError struct {
	Key string
}

func (e *InvalidKeyError) Error() string {
	if e.Key == "" {
		return "item key is empty"
	}
	return fmt.Sprintf("item key is %d bytes, at most %d allowed", len(e.Key), MaxKeyBytes)
}

// ItemTooLargeError says an item, or a batch of items, is larger than
// DynamoDB stores in one write. Nothing was written.
type ItemTooLargeError struct {
	// Key is the item's key; empty when the whole batch is too large.
	Key          string
	Bytes, Limit int
}

func (e *ItemTooLargeError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("batch is %d bytes, at most %d allowed in one transaction", e.Bytes, e.Limit)
	}
	return fmt.Sprintf("item %q is %d bytes, at most %d allowed", e.Key, e.Bytes, e.Limit)
}

// ItemBytes is the size DynamoDB counts for it against MaxItemBytes.
func (it Item) ItemBytes() int {
	return len(registry.DataKeyAttribute) + len(it.Key) + len(valueAttribute) + len(it.Value)
}

// CheckItem refuses, before anything is sent, an item DynamoDB would refuse:
// an *InvalidKeyError for its key, an *ItemTooLargeError over MaxItemBytes.
func CheckItem(it Item) error {
	if err := CheckKey(it.Key); err != nil {
		return err
	}
	if n := it.ItemBytes(); n > MaxItemBytes {
		return &ItemTooLargeError{Key: it.Key, Bytes: n, Limit: MaxItemBytes}
	}
	return nil
}

// CheckKey refuses, with an *InvalidKeyError, a key DynamoDB would refuse:
// empty, or longer than MaxKeyBytes.
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKeyBytes {
		return &InvalidKeyError{Key: key}
	}
	return nil
}

// notFoundError keeps the registry's error (the CLI tells it apart) and
// matches ErrNotFound for applications.
type notFoundError struct{ *registry.NotFoundError }

func (e notFoundError) Unwrap() error        { return e.NotFoundError }
func (e notFoundError) Is(target error) bool { return target == ErrNotFound }

// Put writes one item to the dataset's active store, or overwrites it. It
// returns a *WritesPausedError while the dataset is paused.
func (g *Gate) Put(ctx context.Context, env, dataset string, item Item) error {
	return g.BatchPut(ctx, env, dataset, []Item{item})
}

// BatchPut writes up to MaxBatch items (distinct keys) to the dataset's
// active store atomically: all of them or, on any error, none. It returns a
// *WritesPausedError while the dataset is paused.
func (g *Gate) BatchPut(ctx context.Context, env, dataset string, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	if len(items) > MaxBatch {
		return fmt.Errorf("put %d items: at most %d at once", len(items), MaxBatch)
	}
	seen := make(map[string]bool, len(items))
	total := 0
	for _, it := range items {
		if err := CheckItem(it); err != nil {
			return fmt.Errorf("put: %w", err)
		}
		if seen[it.Key] {
			return fmt.Errorf("put: key %q appears twice in one batch", it.Key)
		}
		seen[it.Key] = true
		total += it.ItemBytes()
	}
	if total > MaxBatchBytes {
		return fmt.Errorf("put: %w", &ItemTooLargeError{Bytes: total, Limit: MaxBatchBytes})
	}
	return g.write(ctx, env, dataset, func(table *string) []types.TransactWriteItem {
		out := make([]types.TransactWriteItem, len(items))
		for i, it := range items {
			out[i] = types.TransactWriteItem{Put: &types.Put{
				TableName: table,
				Item: map[string]types.AttributeValue{
					registry.DataKeyAttribute: &types.AttributeValueMemberS{Value: it.Key},
					valueAttribute:            &types.AttributeValueMemberS{Value: it.Value},
				},
			}}
		}
		return out
	})
}

// Delete removes one item from the dataset's active store; deleting a key
// that is not there succeeds. It returns a *WritesPausedError while the
// dataset is paused.
func (g *Gate) Delete(ctx context.Context, env, dataset, key string) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return g.write(ctx, env, dataset, func(table *string) []types.TransactWriteItem {
		return []types.TransactWriteItem{{Delete: &types.Delete{TableName: table, Key: dataKey(key)}}}
	})
}

// Get reads one item from the dataset's active store, consistently; ok is
// false if the key is not there. Reads are not refused while paused.
func (g *Gate) Get(ctx context.Context, env, dataset, key string) (item Item, ok bool, err error) {
	if err := CheckKey(key); err != nil {
		return Item{}, false, fmt.Errorf("get: %w", err)
	}
	if _, err := g.dataset(ctx, env, dataset); err != nil {
		return Item{}, false, err
	}
	e, err := g.environment(ctx, env)
	if err != nil {
		return Item{}, false, err
	}
	table := ids.TableName(g.prefix, env, e.ActiveStore, dataset)
	out, err := g.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: dataKey(key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Item{}, false, fmt.Errorf("read %s from %s: %w", key, table, err)
	}
	if out.Item == nil {
		return Item{}, false, nil
	}
	v, _ := out.Item[valueAttribute].(*types.AttributeValueMemberS)
	if v == nil {
		return Item{Key: key}, true, nil
	}
	return Item{Key: key, Value: v.Value}, true, nil
}

// valueAttribute holds an item's value in a dataset table.
const valueAttribute = "value"

func dataKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{registry.DataKeyAttribute: &types.AttributeValueMemberS{Value: key}}
}

// write commits the actions writes makes for the active store's table, with
// the gate's condition checks, in one transaction.
func (g *Gate) write(ctx context.Context, env, dataset string, writes func(table *string) []types.TransactWriteItem) error {
	backoff := 20 * time.Millisecond
	for attempt := 0; ; attempt++ {
		store, err := g.checkOpen(ctx, env, dataset)
		if err != nil {
			return err
		}
		err = g.commit(ctx, env, dataset, store, writes(aws.String(ids.TableName(g.prefix, env, store, dataset))))
		if err == nil {
			return nil
		}
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) || attempt >= 8 {
			return fmt.Errorf("write to %s/%s: %w", env, dataset, err)
		}
		if refused := pausedBy(env, dataset, cancelled); refused != nil {
			return refused
		}
		// The store switched, or the transaction raced a control-table
		// update: read the state again and decide again.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// pausedBy is the refusal a cancelled transaction carries when its dataset
// check failed: the dataset record as it was when the pause refused the
// write, so the holder named is the one that refused it. nil if the dataset
// check passed or the record did not come back (the caller reads it again).
func pausedBy(env, dataset string, cancelled *types.TransactionCanceledException) error {
	if len(cancelled.CancellationReasons) == 0 {
		return nil
	}
	reason := cancelled.CancellationReasons[0]
	if aws.ToString(reason.Code) != "ConditionalCheckFailed" || reason.Item == nil {
		return nil
	}
	var d registry.Dataset
	if err := attributevalue.UnmarshalMap(reason.Item, &d); err != nil || d.Status == registry.StatusRunning {
		return nil
	}
	return &WritesPausedError{Env: env, Dataset: dataset, Status: d.Status, HeldBy: d.HeldBy}
}

// checkOpen reads the dataset and its environment and returns the active
// store, or a *WritesPausedError. The transaction checks both again, so this
// read only saves a doomed transaction and resolves the store.
func (g *Gate) checkOpen(ctx context.Context, env, dataset string) (string, error) {
	d, err := g.dataset(ctx, env, dataset)
	if err != nil {
		return "", err
	}
	if d.Status != registry.StatusRunning {
		return "", &WritesPausedError{Env: env, Dataset: dataset, Status: d.Status, HeldBy: d.HeldBy}
	}
	e, err := g.environment(ctx, env)
	if err != nil {
		return "", err
	}
	return e.ActiveStore, nil
}

func (g *Gate) commit(ctx context.Context, env, dataset, store string, writes []types.TransactWriteItem) error {
	control := aws.String(g.control)
	actions := make([]types.TransactWriteItem, 0, len(writes)+2)
	actions = append(actions,
		// First, so that CancellationReasons[0] is its outcome (pausedBy).
		types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                control,
			Key:                      registry.DatasetKey(env, dataset),
			ConditionExpression:      aws.String("#st = :running"),
			ExpressionAttributeNames: map[string]string{"#st": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":running": &types.AttributeValueMemberS{Value: registry.StatusRunning},
			},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:           control,
			Key:                 registry.EnvironmentKey(env),
			ConditionExpression: aws.String("activeStore = :store"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":store": &types.AttributeValueMemberS{Value: store},
			},
		}},
	)
	actions = append(actions, writes...)
	_, err := g.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems:      actions,
		ClientRequestToken: aws.String(token()),
	})
	return err
}

// token makes the SDK's own retries of one transaction idempotent.
func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// dataset reads a dataset record with a strongly consistent read.
func (g *Gate) dataset(ctx context.Context, env, dataset string) (*registry.Dataset, error) {
	var d registry.Dataset
	found, err := g.read(ctx, registry.DatasetKey(env, dataset), &d)
	if err != nil {
		return nil, fmt.Errorf("read dataset %s/%s: %w", env, dataset, err)
	}
	if !found {
		return nil, notFoundError{&registry.NotFoundError{Kind: "dataset", Env: env, ID: dataset}}
	}
	return &d, nil
}

// environment reads an environment record with a strongly consistent read.
func (g *Gate) environment(ctx context.Context, env string) (*registry.Environment, error) {
	var e registry.Environment
	found, err := g.read(ctx, registry.EnvironmentKey(env), &e)
	if err != nil {
		return nil, fmt.Errorf("read environment %s: %w", env, err)
	}
	if !found {
		return nil, notFoundError{&registry.NotFoundError{Kind: "environment", ID: env}}
	}
	return &e, nil
}

func (g *Gate) read(ctx context.Context, key map[string]types.AttributeValue, into any) (bool, error) {
	out, err := g.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(g.control), Key: key, ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		return false, err
	}
	return true, attributevalue.UnmarshalMap(out.Item, into)
}
