// Package gate is the write path applications use to write to a dataset.
//
// Every write is a DynamoDB transaction that carries two condition checks on
// the control table next to the item puts: the dataset is RUNNING, and the
// environment's active store is the one the items go to. DynamoDB transactions
// are serializable, so once a pause's conditional update to the dataset
// record has returned, no write can commit any more, whichever process or
// machine it started on: a write that checked earlier has already committed,
// one that checks later is refused. A write is acknowledged only when its
// transaction committed, so nothing acknowledged is lost.
package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// MaxBatch is the most items one Put commits at once: DynamoDB allows 100
// actions in a transaction and two are the gate's condition checks.
const MaxBatch = 98

// API is the part of the DynamoDB client the gate needs.
type API interface {
	registry.API
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Gate writes to and reads from datasets.
type Gate struct {
	DB       API
	Registry *registry.Registry
}

// New builds a gate over the control table described by reg.
func New(db API, reg *registry.Registry) *Gate { return &Gate{DB: db, Registry: reg} }

// MaxKeyBytes is the longest item key: DynamoDB's limit on a partition key
// value (2048 bytes of UTF-8).
const MaxKeyBytes = 2048

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

// CheckKey refuses a key DynamoDB would refuse: empty, or longer than
// MaxKeyBytes.
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKeyBytes {
		return &InvalidKeyError{Key: key}
	}
	return nil
}

// Item is one key/value record of a dataset.
type Item struct {
	Key   string
	Value string
}

// WritesPausedError is returned when a write is refused because the dataset
// is PAUSING or PAUSED.
type WritesPausedError struct {
	Env, Dataset, Status, HeldBy string
}

func (e *WritesPausedError) Error() string {
	return fmt.Sprintf("write refused: dataset %s/%s is %s (held by workflow %s)", e.Env, e.Dataset, e.Status, e.HeldBy)
}

// Put writes items to the dataset's active store, atomically, through the gate.
func (g *Gate) Put(ctx context.Context, env, dataset string, items ...Item) error {
	if len(items) == 0 {
		return nil
	}
	if len(items) > MaxBatch {
		return fmt.Errorf("put %d items: at most %d at once", len(items), MaxBatch)
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if err := CheckKey(it.Key); err != nil {
			return fmt.Errorf("put: %w", err)
		}
		if seen[it.Key] {
			return fmt.Errorf("put: key %q appears twice in one batch", it.Key)
		}
		seen[it.Key] = true
	}
	backoff := 20 * time.Millisecond
	for attempt := 0; ; attempt++ {
		store, err := g.checkOpen(ctx, env, dataset)
		if err != nil {
			return err
		}
		err = g.commit(ctx, env, dataset, store, items)
		if err == nil {
			return nil
		}
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) || attempt >= 8 {
			return fmt.Errorf("write to %s/%s: %w", env, dataset, err)
		}
		// A condition failed (paused, or the store switched) or the transaction
		// raced a control-table update: re-read the state and decide again.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// checkOpen reads the dataset and its environment and returns the active
// store, or a WritesPausedError. The transaction re-checks both, so this read
// only saves a doomed transaction and resolves the store.
func (g *Gate) checkOpen(ctx context.Context, env, dataset string) (string, error) {
	d, err := g.Registry.GetDataset(ctx, env, dataset)
	if err != nil {
		return "", err
	}
	if d.Status != registry.StatusRunning {
		return "", &WritesPausedError{Env: env, Dataset: dataset, Status: d.Status, HeldBy: d.HeldBy}
	}
	e, err := g.Registry.GetEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	return e.ActiveStore, nil
}

func (g *Gate) commit(ctx context.Context, env, dataset, store string, items []Item) error {
	control := aws.String(g.Registry.Table)
	table := aws.String(g.Registry.TableName(env, store, dataset))
	actions := make([]types.TransactWriteItem, 0, len(items)+2)
	actions = append(actions,
		types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                control,
			Key:                      registry.DatasetKey(env, dataset),
			ConditionExpression:      aws.String("#st = :running"),
			ExpressionAttributeNames: map[string]string{"#st": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":running": &types.AttributeValueMemberS{Value: registry.StatusRunning},
			},
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
	for _, it := range items {
		actions = append(actions, types.TransactWriteItem{Put: &types.Put{
			TableName: table,
			Item: map[string]types.AttributeValue{
				registry.DataKeyAttribute: &types.AttributeValueMemberS{Value: it.Key},
				"value":                   &types.AttributeValueMemberS{Value: it.Value},
			},
		}})
	}
	_, err := g.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
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

// Get reads one item from the dataset's active store.
func (g *Gate) Get(ctx context.Context, env, dataset, key string) (Item, bool, error) {
	table, err := g.activeTable(ctx, env, dataset)
	if err != nil {
		return Item{}, false, err
	}
	out, err := g.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{registry.DataKeyAttribute: &types.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Item{}, false, fmt.Errorf("read %s from %s: %w", key, table, err)
	}
	if out.Item == nil {
		return Item{}, false, nil
	}
	return toItem(out.Item), true, nil
}

// Count returns the number of items in the dataset's active store.
func (g *Gate) Count(ctx context.Context, env, dataset string) (int64, error) {
	table, err := g.activeTable(ctx, env, dataset)
	if err != nil {
		return 0, err
	}
	return CountTable(ctx, g.DB, table)
}

// CountTable counts a table's items with a consistent, paginated scan.
func CountTable(ctx context.Context, db registry.API, table string) (int64, error) {
	var n int64
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
		TableName: aws.String(table), Select: types.SelectCount, ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count items of %s: %w", table, err)
		}
		n += int64(page.Count)
	}
	return n, nil
}

// All reads every item of the dataset's active store, keyed by item key.
func (g *Gate) All(ctx context.Context, env, dataset string) (map[string]string, error) {
	table, err := g.activeTable(ctx, env, dataset)
	if err != nil {
		return nil, err
	}
	return ReadTable(ctx, g.DB, table)
}

// ReadTable reads every item of a dataset table, keyed by item key.
func ReadTable(ctx context.Context, db registry.API, table string) (map[string]string, error) {
	out := map[string]string{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, raw := range page.Items {
			it := toItem(raw)
			out[it.Key] = it.Value
		}
	}
	return out, nil
}

func (g *Gate) activeTable(ctx context.Context, env, dataset string) (string, error) {
	if _, err := g.Registry.GetDataset(ctx, env, dataset); err != nil {
		return "", err
	}
	e, err := g.Registry.GetEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	return g.Registry.TableName(env, e.ActiveStore, dataset), nil
}

func toItem(raw map[string]types.AttributeValue) Item {
	var it Item
	if v, ok := raw[registry.DataKeyAttribute].(*types.AttributeValueMemberS); ok {
		it.Key = v.Value
	}
	if v, ok := raw["value"].(*types.AttributeValueMemberS); ok {
		it.Value = v.Value
	}
	return it
}
