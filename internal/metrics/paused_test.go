package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// fakeLister answers what it was last given, counting the reads.
type fakeLister struct {
	mu     sync.Mutex
	paused []registry.Dataset
	err    error
	reads  int
}

func (f *fakeLister) PausedDatasets(context.Context) ([]registry.Dataset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.paused, f.err
}

func (f *fakeLister) set(paused []registry.Dataset, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused, f.err = paused, err
}

// waitFor scrapes until cond holds for the served text.
func waitFor(t *testing.T, m *Metrics, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := scrape(t, m)
		if cond(body) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not served within 5 s:\n%s", what, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWatchPaused: each paused dataset is served with how long it has been
// paused and who holds it; a resumed one disappears; a failed read keeps
// the last list.
func TestWatchPaused(t *testing.T) {
	t.Parallel()
	m := New()
	defer m.Close()
	since := time.Now().Add(-20 * time.Minute)
	paused := []registry.Dataset{
		{EnvID: "prod", ID: "orders", Status: registry.StatusPaused, HeldBy: "backup-prod-orders-1", PausedAt: since},
		{EnvID: "prod", ID: "users", Status: registry.StatusPausing, HeldBy: "restore-prod-users-1", PausedAt: since.Add(10 * time.Minute)},
	}
	f := &fakeLister{paused: paused}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.WatchPaused(ctx, f, 50*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	body := waitFor(t, m, "two paused datasets", func(b string) bool { return strings.Count(b, "\n"+DatasetPaused+"{") == 2 })
	if !strings.Contains(body, "# HELP "+DatasetPaused+" "+Help[DatasetPaused]+"\n") {
		t.Errorf("no HELP text for %s:\n%s", DatasetPaused, body)
	}
	for _, want := range []struct {
		labels   string
		min, max float64
	}{
		{`{held_by="backup-prod-orders-1",resource="prod/orders"}`, 20 * 60, 21 * 60},
		{`{held_by="restore-prod-users-1",resource="prod/users"}`, 10 * 60, 11 * 60},
	} {
		v, ok := sample(body, DatasetPaused+want.labels)
		if !ok || v < want.min || v > want.max {
			t.Errorf("%s%s = %v (served: %t), want between %v and %v", DatasetPaused, want.labels, v, ok, want.min, want.max)
		}
	}

	f.set(nil, errors.New("throttled"))
	time.Sleep(200 * time.Millisecond) // several failed reads
	if body := scrape(t, m); strings.Count(body, "\n"+DatasetPaused+"{") != 2 {
		t.Errorf("a failed read dropped the paused datasets:\n%s", body)
	}
	f.set(paused[1:], nil)
	waitFor(t, m, "orders resumed", func(b string) bool {
		return strings.Count(b, "\n"+DatasetPaused+"{") == 1 && strings.Contains(b, `resource="prod/users"`)
	})
}

// sample reads one sample's value from the text exposition.
func sample(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestWatchPausedReadsPerIntervalNotPerScrape: scrapes are served from the
// last read; the table is read once per interval.
func TestWatchPausedReadsPerIntervalNotPerScrape(t *testing.T) {
	t.Parallel()
	m := New()
	defer m.Close()
	f := &fakeLister{paused: []registry.Dataset{{EnvID: "e", ID: "d", HeldBy: "w", PausedAt: time.Now()}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.WatchPaused(ctx, f, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, m, "the paused dataset", func(b string) bool { return strings.Contains(b, "\n"+DatasetPaused+"{") })
	for range 20 {
		scrape(t, m)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reads != 1 {
		t.Errorf("%d reads of the control table for 21 scrapes within one interval, want 1", f.reads)
	}
}
