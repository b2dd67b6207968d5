package ebs

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"go.temporal.io/sdk/worker"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/worker/app"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// BenchmarkSnapshotChain runs one SnapshotChain over N instances with two
// volumes each (root and /dev/sdf), all tagged Backup=Yes with a Copy_Dest,
// on moto, and reports:
//
//	chain-s            wall time of the chain, start to result
//	ec2-calls/volume   EC2 API operations the workers made, per volume
//	peak-heap-MB       peak Go heap in use in the process running the workers
//	peak-rss-MB        the process's peak resident memory (VmHWM; includes seeding)
//	max-history        events in the longest history of the run's workflows
//
// N is LIFEBOAT_BENCH_INSTANCES (default 1000). The workers run on their
// own task queue with EC2 clients that count calls.
//
//	go test -run '^$' -bench SnapshotChain -benchtime 1x -timeout 60m ./internal/integration/ebs/
func BenchmarkSnapshotChain(b *testing.B) {
	e := shared(b)
	n := 1000
	if v := os.Getenv("LIFEBOAT_BENCH_INSTANCES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("LIFEBOAT_BENCH_INSTANCES=%q", v)
		}
	}
	const src, dst = "sa-east-1", "ca-central-1"
	ctx := testenv.Context(b, 55*time.Minute)

	seedStart := time.Now()
	e.RunInstances(b, src, src+"a", n, map[string]string{"Backup": "Yes", "Copy_Dest": dst, "Retention": "7"}, "/dev/sdf")
	b.Logf("seeded %d instances with 2 volumes each in %s", n, time.Since(seedStart).Round(time.Second))

	counter := &ec2Counter{byOp: map[string]int{}}
	queue := e.ID("bench-ebs")
	for i := 0; i < 2; i++ {
		cfg := aws.Config{
			Region: "us-east-1",
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
			}),
			BaseEndpoint: aws.String(e.MotoURL),
			APIOptions:   []func(*middleware.Stack) error{counter.install},
		}
		w := worker.New(e.Temporal, queue, worker.Options{})
		app.RegisterWorkflows(w)
		w.RegisterActivity(app.NewEBS(config.Config{PollInterval: 200 * time.Millisecond}, awsx.New(cfg)))
		if err := w.Start(); err != nil {
			b.Fatalf("start worker: %v", err)
		}
		defer w.Stop()
	}
	lb := client.New(e.Temporal, queue)
	lb.PollInterval = 200 * time.Millisecond

	for i := 0; i < b.N; i++ {
		runtime.GC()
		counter.reset()
		stopSampling := sampleHeap()
		start := time.Now()
		run, err := lb.StartSnapshotStep(ctx, client.SnapshotStepChain, src, ebs.Options{})
		if err != nil {
			b.Fatalf("start chain: %v", err)
		}
		res, err := lb.WaitSnapshotChain(ctx, run.ID, nil)
		elapsed := time.Since(start)
		peakHeap := stopSampling()
		if err != nil {
			b.Fatalf("chain: %v", err)
		}
		volumes := 2 * n
		started := 0
		for _, d := range res.Copy.Destinations {
			started += d.Started
		}
		if i == 0 && (res.Create.GroupsCreated != n || res.Create.Snapshots != volumes || started != volumes) {
			b.Fatalf("chain over %d instances: %d groups, %d snapshots, %d copies started", n, res.Create.GroupsCreated, res.Create.Snapshots, started)
		}
		hist, steps := histories(ctx, b, lb, src, res)
		b.ReportMetric(elapsed.Seconds(), "chain-s")
		b.ReportMetric(float64(counter.total())/float64(volumes), "ec2-calls/volume")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-rss-MB")
		b.ReportMetric(float64(hist), "max-history")
		b.ReportMetric(0, "ns/op")
		b.Logf("instances=%d volumes=%d: chain %s (%s), %d EC2 calls (%s), peak heap %.0f MB, longest history %d events; steps %+v",
			n, volumes, elapsed.Round(time.Millisecond), steps, counter.total(), counter.String(), float64(peakHeap)/(1<<20), hist, res.Steps)
	}
}

// ec2Counter counts EC2 requests sent (retries included) by operation.
type ec2Counter struct {
	n    atomic.Int64
	mu   sync.Mutex
	byOp map[string]int
}

func (c *ec2Counter) install(stack *middleware.Stack) error {
	// In the deserialize step: reached once per HTTP attempt, and never by
	// the request CopySnapshot presigns for its source region.
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("LifeboatBenchCount",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			if awsmiddleware.GetServiceID(ctx) == "EC2" {
				c.n.Add(1)
				c.mu.Lock()
				c.byOp[awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
			}
			return next.HandleDeserialize(ctx, in)
		}), middleware.After)
}

func (c *ec2Counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n.Store(0)
	c.byOp = map[string]int{}
}

func (c *ec2Counter) total() int64 { return c.n.Load() }

func (c *ec2Counter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := make([]string, 0, len(c.byOp))
	for op := range c.byOp {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return c.byOp[ops[i]] > c.byOp[ops[j]] })
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s %d", op, c.byOp[op])
	}
	return strings.Join(parts, ", ")
}

// sampleHeap samples HeapInuse every 100ms until the returned function is
// called, which returns the peak.
func sampleHeap() func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		return peak.Load()
	}
}

// peakRSS is the process's peak resident set (VmHWM), in bytes; 0 where
// /proc is not available.
func peakRSS() uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// histories is the longest history among the chain's workflows, and how
// long each step's workflow ran.
func histories(ctx context.Context, b *testing.B, lb *client.Client, region string, res *ebs.ChainResult) (int64, string) {
	ids := []string{ebs.WorkflowID("chain", region), ebs.WorkflowID("create", region),
		ebs.WorkflowID("copy", region), ebs.WorkflowID("expire", region)}
	for i := 1; i <= res.Create.Batches; i++ {
		ids = append(ids, fmt.Sprintf("%s-batch-%d", ebs.WorkflowID("create", region), i))
	}
	for _, d := range res.Copy.Destinations {
		ids = append(ids, ebs.WorkflowID("copy", region)+"-to-"+d.Destination)
	}
	var longest int64
	var steps []string
	for i, id := range ids {
		d, err := lb.Temporal.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			b.Fatalf("describe %s: %v", id, err)
		}
		info := d.WorkflowExecutionInfo
		if h := info.HistoryLength; h > longest {
			longest = h
		}
		if i < 4 {
			took := info.CloseTime.AsTime().Sub(info.StartTime.AsTime()).Round(100 * time.Millisecond)
			steps = append(steps, fmt.Sprintf("%s %s", strings.TrimPrefix(id, "snapshots-"), took))
		}
	}
	return longest, strings.Join(steps, ", ")
}
