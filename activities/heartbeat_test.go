package activities_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/lifeboat-dev/lifeboat/activities"
)

// Outside an activity (the CLI lists snapshot groups with activity code's
// helpers) the helper does nothing and does not panic.
func TestKeepAliveOutsideAnActivity(t *testing.T) {
	t.Parallel()
	hb := activities.KeepAlive(context.Background(), time.Millisecond, nil)
	hb.Record("ignored")
	hb.Beat()
	hb.Stop()
	hb.Stop()
}

// A beat carries the latest recorded details, or details() when given.
// (The SDK throttles heartbeats, so only the first of each run is seen here.)
func TestKeepAliveBeatsWithDetails(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, want string
		run        func(ctx context.Context)
	}{
		{"recorded", "first", func(ctx context.Context) {
			// A ticker beat before Record would carry no details: the
			// interval is long so that Record's own beat is the first.
			hb := activities.KeepAlive(ctx, time.Hour, nil)
			defer hb.Stop()
			hb.Record("first")
		}},
		{"computed", "node n1: stopping", func(ctx context.Context) {
			hb := activities.KeepAlive(ctx, time.Hour, func() any { return "node n1: stopping" })
			defer hb.Stop()
			hb.Beat()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			var mu sync.Mutex
			var got []string
			env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
				var d string
				if details != nil {
					_ = details.Get(&d)
				}
				mu.Lock()
				got = append(got, d)
				mu.Unlock()
			})
			env.RegisterActivityWithOptions(func(ctx context.Context) error { c.run(ctx); return nil },
				activity.RegisterOptions{Name: "beats"})
			if _, err := env.ExecuteActivity("beats"); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) == 0 || got[0] != c.want {
				t.Fatalf("heartbeats %q, want %q first", got, c.want)
			}
		})
	}
}
