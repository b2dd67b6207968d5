// Package ebs holds the end-to-end tests and benchmark of the EBS snapshot
// lifecycle: the real workflows on a Temporal dev server, two workers and
// moto (see package testenv). Each test works in its own pair of regions,
// so tests sharing one moto stay apart. They are skipped with -short.
//
//	go test -race -count=1 ./internal/integration/ebs/
//	go test -run '^$' -bench SnapshotChain -benchtime 1x ./internal/integration/ebs/
package ebs

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

var (
	sharedOnce sync.Once
	sharedEnv  *testenv.Env
	sharedErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if sharedEnv != nil {
		if code != 0 {
			sharedEnv.KeepLogs = true
			fmt.Fprintf(os.Stderr, "ebs: logs kept in %s\n", sharedEnv.LogDir)
		}
		if err := sharedEnv.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "ebs: %v\n", err)
		}
	}
	os.Exit(code)
}

// shared returns the package's Env, starting it on first use. It skips the
// test in -short mode.
func shared(tb testing.TB) *testenv.Env {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: skipped with -short")
	}
	sharedOnce.Do(func() {
		start := time.Now()
		sharedEnv, sharedErr = testenv.New(context.Background(), testenv.Options{})
		if sharedErr == nil {
			tb.Logf("testenv: Temporal %s, moto %s, task queue %s, started in %s",
				sharedEnv.TemporalAddress, sharedEnv.MotoURL, sharedEnv.Config.TaskQueue, time.Since(start).Round(time.Millisecond))
		}
	})
	if sharedErr != nil {
		tb.Fatalf("testenv: %v", sharedErr)
	}
	return sharedEnv
}
