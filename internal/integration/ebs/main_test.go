// Package ebs holds the end-to-end tests and benchmark of the EBS snapshot
// lifecycle: the real workflows on a Temporal dev server, two workers and
// moto (see package testenv). Each test works in its own pair of regions,
// so tests sharing one moto stay apart. They are skipped with -short.
//
//	go test -race -count=1 ./internal/integration/ebs/
//	go test -run '^$' -bench SnapshotChain -benchtime 1x ./internal/integration/ebs/
package ebs

import (
	"os"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// One dev server, moto and pair of workers for the whole package.
var pkgEnv = testenv.Shared{Name: "ebs"}

func TestMain(m *testing.M) { os.Exit(pkgEnv.Main(m)) }

// shared returns the package's Env, starting it on first use. It skips the
// test in -short mode.
func shared(tb testing.TB) *testenv.Env { return pkgEnv.Get(tb) }
