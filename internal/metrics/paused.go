package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// DatasetPaused is the gauge a worker serves for every dataset whose writes
// are paused, read from the control table: it outlives the workflow (and
// the worker) that paused the dataset, which is the case to alert on.
const DatasetPaused = "lifeboat_dataset_paused_seconds"

// PausedInterval is how often WatchPaused reads the control table.
const PausedInterval = 30 * time.Second

// PausedLister lists the datasets not RUNNING (registry.Registry).
type PausedLister interface {
	PausedDatasets(ctx context.Context) ([]registry.Dataset, error)
}

// pausedCollector serves the datasets its last read found paused, each as
// paused for now minus its pausedAt. A scrape never reads the table: the
// list is refreshed every interval, so the cost is one small Scan per
// worker per interval however often Prometheus scrapes.
type pausedCollector struct {
	desc *prom.Desc
	now  func() time.Time

	mu     sync.Mutex
	paused []registry.Dataset
}

func (c *pausedCollector) Describe(ch chan<- *prom.Desc) { ch <- c.desc }

func (c *pausedCollector) Collect(ch chan<- prom.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, d := range c.paused {
		secs := 0.0
		if !d.PausedAt.IsZero() {
			secs = max(now.Sub(d.PausedAt).Seconds(), 0)
		}
		ch <- prom.MustNewConstMetric(c.desc, prom.GaugeValue, secs, d.EnvID+"/"+d.ID, d.HeldBy)
	}
}

func (c *pausedCollector) set(paused []registry.Dataset) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = paused
}

// WatchPaused serves DatasetPaused from what list returns, read at once
// (in the background) and then every interval until ctx ends. A failed read is logged and keeps the
// last list served: a dataset does not look resumed because DynamoDB
// throttled one Scan.
func (m *Metrics) WatchPaused(ctx context.Context, list PausedLister, interval time.Duration, logger *slog.Logger) error {
	c := &pausedCollector{
		desc: prom.NewDesc(DatasetPaused, Help[DatasetPaused], []string{"resource", "held_by"}, nil),
		now:  time.Now,
	}
	if err := m.registry.Register(c); err != nil {
		return err
	}
	refresh := func() {
		rctx, cancel := context.WithTimeout(ctx, interval)
		defer cancel()
		paused, err := list.PausedDatasets(rctx)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("Could not read paused datasets for lifeboat_dataset_paused_seconds; serving the last list read", "error", err)
			}
			return
		}
		c.set(paused)
	}
	go func() {
		refresh()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				refresh()
			}
		}
	}()
	return nil
}
