// Package gateload is what the CLI's data commands and the tests do with a
// dataset beyond an application's reads and writes (package gate): load
// generated items through the gate, count and read whole tables.
package gateload

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// ItemKey is the key of the i-th generated item.
func ItemKey(prefix string, i int) string { return fmt.Sprintf("%s-%06d", prefix, i) }

// ItemValue is the value of the i-th generated item.
func ItemValue(prefix string, i int) string { return fmt.Sprintf("value of %s #%d", prefix, i) }

// Load writes count generated items (ItemKey(prefix, i) = ItemValue(prefix, i),
// i from 1) through g in batches, with parallel writers, and returns how many
// were acknowledged. progress, if set, is called with each acknowledged
// batch's size.
func Load(ctx context.Context, g *gate.Gate, env, dataset, prefix string, count, batch, parallel int, progress func(int)) (int, error) {
	eg, ctx := errgroup.WithContext(ctx)
	batches := make(chan []gate.Item)
	eg.Go(func() error {
		defer close(batches)
		for start := 1; start <= count; start += batch {
			var items []gate.Item
			for i := start; i < start+batch && i <= count; i++ {
				items = append(items, gate.Item{Key: ItemKey(prefix, i), Value: ItemValue(prefix, i)})
			}
			select {
			case batches <- items:
			case <-ctx.Done():
				return nil
			}
		}
		return nil
	})
	var written atomic.Int64
	for w := 0; w < parallel; w++ {
		eg.Go(func() error {
			for items := range batches {
				if err := g.BatchPut(ctx, env, dataset, items); err != nil {
					return err
				}
				written.Add(int64(len(items)))
				if progress != nil {
					progress(len(items))
				}
			}
			return nil
		})
	}
	err := eg.Wait()
	return int(written.Load()), err
}

// Count returns the number of items in the dataset's active store.
func Count(ctx context.Context, reg *registry.Registry, env, dataset string) (int64, error) {
	table, err := activeTable(ctx, reg, env, dataset)
	if err != nil {
		return 0, err
	}
	return CountTable(ctx, reg.DB, table)
}

// All reads every item of the dataset's active store, keyed by item key.
func All(ctx context.Context, reg *registry.Registry, env, dataset string) (map[string]string, error) {
	table, err := activeTable(ctx, reg, env, dataset)
	if err != nil {
		return nil, err
	}
	return ReadTable(ctx, reg.DB, table)
}

// CountTable counts a table's items with a consistent, paginated scan.
func CountTable(ctx context.Context, db dynamodb.ScanAPIClient, table string) (int64, error) {
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

// ReadTable reads every item of a dataset table, keyed by item key.
func ReadTable(ctx context.Context, db dynamodb.ScanAPIClient, table string) (map[string]string, error) {
	out := map[string]string{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, raw := range page.Items {
			var key, value string
			if v, ok := raw[registry.DataKeyAttribute].(*types.AttributeValueMemberS); ok {
				key = v.Value
			}
			if v, ok := raw["value"].(*types.AttributeValueMemberS); ok {
				value = v.Value
			}
			out[key] = value
		}
	}
	return out, nil
}

func activeTable(ctx context.Context, reg *registry.Registry, env, dataset string) (string, error) {
	if _, err := reg.GetDataset(ctx, env, dataset); err != nil {
		return "", err
	}
	e, err := reg.GetEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	return reg.TableName(env, e.ActiveStore, dataset), nil
}
