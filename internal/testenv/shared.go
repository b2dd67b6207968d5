package testenv

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// Shared is one Env for a whole test package: started by the first test
// that needs it, stopped after the last, its logs kept when a test failed.
// Tests sharing it keep apart by environment id, bucket and region.
//
//	var pkgEnv = testenv.Shared{Name: "ebs"}
//
//	func TestMain(m *testing.M) { os.Exit(pkgEnv.Main(m)) }
//
//	func TestSomething(t *testing.T) { e := pkgEnv.Get(t); ... }
type Shared struct {
	// Name prefixes the package's messages ("ebs: logs kept in ...").
	Name    string
	Options Options

	once sync.Once
	env  *Env
	err  error
}

// Main runs the package's tests and stops the Env, if one was started. It
// returns the exit code for os.Exit.
func (s *Shared) Main(m *testing.M) int {
	flag.Parse()
	code := m.Run()
	if s.env != nil {
		if code != 0 {
			s.env.KeepLogs = true
			fmt.Fprintf(os.Stderr, "%s: logs kept in %s\n", s.Name, s.env.LogDir)
		}
		if err := s.env.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
		}
	}
	return code
}

// Get returns the package's Env, starting it on first use. It skips the
// test in -short mode: these are integration tests.
func (s *Shared) Get(tb testing.TB) *Env {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: skipped with -short")
	}
	s.once.Do(func() {
		start := time.Now()
		s.env, s.err = New(context.Background(), s.Options)
		if s.err == nil {
			kind := "dev server"
			if s.env.External {
				kind = "external"
			}
			tb.Logf("testenv: Temporal %s (%s), moto %s, task queue %s, %d workers, started in %s",
				s.env.TemporalAddress, kind, s.env.MotoURL, s.env.Config.TaskQueue, len(s.env.workers), time.Since(start).Round(time.Millisecond))
		}
	})
	if s.err != nil {
		tb.Fatalf("testenv: %v", s.err)
	}
	return s.env
}

// MainAll is Main for a package with several shared Envs (say, one with
// AWS-length jobs beside the quick one): it runs the tests once and stops
// every Env that was started.
func MainAll(m *testing.M, envs ...*Shared) int {
	flag.Parse()
	code := m.Run()
	for _, s := range envs {
		s.stop(code)
	}
	return code
}

func (s *Shared) stop(code int) {
	if s.env == nil {
		return
	}
	if code != 0 {
		s.env.KeepLogs = true
		fmt.Fprintf(os.Stderr, "%s: logs kept in %s\n", s.Name, s.env.LogDir)
	}
	if err := s.env.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
	}
}
