package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestWorkerServesPausedDatasets: a worker serves lifeboat_dataset_paused_seconds
// for a dataset that no running workflow holds (as when the worker that
// paused it died), read from the control table.
func TestWorkerServesPausedDatasets(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	ctx := testenv.Context(t, 3*time.Minute)
	e, err := testenv.New(ctx, testenv.Options{Workers: -1})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	e.UseForCLI(t, "us-east-1")
	if err := e.Registry().EnsureControlTable(ctx); err != nil {
		t.Fatal(err)
	}
	env := e.ID("paused")
	e.CreateEnvDataset(t, env, "orders", "users")
	pausedAt := time.Now().Add(-20 * time.Minute)
	if err := e.Registry().Pause(ctx, env, "orders", "backup-of-a-dead-worker", pausedAt); err != nil {
		t.Fatal(err)
	}

	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	wctx, stop := context.WithCancel(ctx)
	exited := make(chan int, 1)
	go func() {
		exited <- run(wctx, []string{"--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue,
			"--control-table", e.Config.ControlTable, "--table-prefix", e.Config.TablePrefix,
			"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", ports[0])}, io.Discard, io.Discard)
	}()
	defer func() {
		stop()
		<-exited
	}()
	waitReady(ctx, t, url+"/readyz", exited)

	want := metrics.DatasetPaused + `{held_by="backup-of-a-dead-worker",resource="` + env + `/orders"} `
	var body string
	for !strings.Contains(body, want) {
		select {
		case <-ctx.Done():
			t.Fatalf("%s not served:\n%s", want, body)
		case <-time.After(200 * time.Millisecond):
		}
		body = get(t, url+"/metrics")
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, want); ok {
			var secs float64
			if _, err := fmt.Sscan(v, &secs); err != nil || secs < 20*60 || secs > 25*60 {
				t.Errorf("%s%s: want about 1200 s", want, v)
			}
		}
		if strings.Contains(line, env+`/users"`) {
			t.Errorf("a running dataset served as paused: %s", line)
		}
	}
	if !slices.Contains(strings.Split(body, "\n"), "# HELP "+metrics.DatasetPaused+" "+metrics.Help[metrics.DatasetPaused]) {
		t.Errorf("no HELP text for %s", metrics.DatasetPaused)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
