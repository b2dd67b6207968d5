package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	tclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/lifeboat-dev/lifeboat/internal/config"
)

// TestExternalServer points two Envs at one Temporal server they did not
// start (a dev server standing in for make up-cluster's cluster): each
// connects to it instead of starting its own, runs its two workers there
// on a task queue of its own, and leaves the server running when closed.
func TestExternalServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := TemporalBin()
	if err != nil {
		t.Fatal(err)
	}
	ports, err := FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	out, err := os.Create(filepath.Join(t.TempDir(), "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	server, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  bin,
		ClientOptions: &tclient.Options{HostPort: addr, Namespace: config.DefaultNamespace},
		LogLevel:      "warn",
		ExtraArgs:     []string{"--http-port", fmt.Sprint(ports[1]), "--metrics-port", fmt.Sprint(ports[2])},
		Stdout:        out,
		Stderr:        out,
	})
	if err != nil {
		t.Fatalf("start the stand-in server: %v", err)
	}
	t.Cleanup(func() { _ = server.Stop() })
	t.Setenv(ExternalAddressEnv, addr)
	t.Setenv(ExternalNamespaceEnv, "")

	envs := make([]*Env, 2)
	for i := range envs {
		e, err := New(ctx, Options{})
		if err != nil {
			t.Fatalf("env %d: %v", i, err)
		}
		envs[i] = e
		if !e.External || e.dev != nil || e.TemporalAddress != addr || e.Config.TemporalAddress != addr {
			_ = e.Close()
			t.Fatalf("env %d: external %v, own dev server %v, address %s (config %s), want only %s",
				i, e.External, e.dev != nil, e.TemporalAddress, e.Config.TemporalAddress, addr)
		}
	}
	if envs[0].Config.TaskQueue == envs[1].Config.TaskQueue || envs[0].Config.ControlTable == envs[1].Config.ControlTable {
		t.Errorf("envs share a task queue or control table: %+v and %+v", envs[0].Config, envs[1].Config)
	}
	for _, e := range envs {
		want := []string{"testenv-worker-1@" + e.Config.TaskQueue, "testenv-worker-2@" + e.Config.TaskQueue}
		if got := pollers(ctx, t, server.Client(), e.Config.TaskQueue, len(want)); !slices.Equal(got, want) {
			t.Errorf("task queue %s: pollers %v, want %v", e.Config.TaskQueue, got, want)
		}
	}

	for i, e := range envs {
		if err := e.Close(); err != nil {
			t.Errorf("close env %d: %v", i, err)
		}
	}
	if _, err := server.Client().WorkflowService().DescribeNamespace(ctx,
		&workflowservice.DescribeNamespaceRequest{Namespace: config.DefaultNamespace}); err != nil {
		t.Errorf("the external server no longer answers after the envs closed: %v", err)
	}
}

// pollers waits until the task queue has n workflow pollers (or 30 s) and
// returns their identities, sorted.
func pollers(ctx context.Context, t *testing.T, c tclient.Client, queue string, n int) []string {
	t.Helper()
	var ids []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := c.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			t.Fatalf("describe task queue %s: %v", queue, err)
		}
		ids = ids[:0]
		for _, p := range resp.GetPollers() {
			ids = append(ids, p.GetIdentity())
		}
		slices.Sort(ids)
		if len(ids) >= n {
			break
		}
	}
	return ids
}
