package gate

import (
	"context"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// ItemKey is the key of the i-th generated item.
func ItemKey(prefix string, i int) string { return fmt.Sprintf("%s-%06d", prefix, i) }

// ItemValue is the value of the i-th generated item.
func ItemValue(prefix string, i int) string { return fmt.Sprintf("value of %s #%d", prefix, i) }

// Load writes count generated items (ItemKey(prefix, i) = ItemValue(prefix, i),
// i from 1) through the gate in batches, with parallel writers, and returns
// how many were acknowledged. progress, if set, is called with each
// acknowledged batch's size.
func (g *Gate) Load(ctx context.Context, env, dataset, prefix string, count, batch, parallel int, progress func(int)) (int, error) {
	eg, ctx := errgroup.WithContext(ctx)
	batches := make(chan []Item)
	eg.Go(func() error {
		defer close(batches)
		for start := 1; start <= count; start += batch {
			var items []Item
			for i := start; i < start+batch && i <= count; i++ {
				items = append(items, Item{Key: ItemKey(prefix, i), Value: ItemValue(prefix, i)})
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
				if err := g.Put(ctx, env, dataset, items...); err != nil {
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
