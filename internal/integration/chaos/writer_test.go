package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lifeboat-dev/lifeboat/gate"
)

// outcome is what the gate answered a write.
type outcome int

const (
	acked   outcome = iota // acknowledged: it must never be lost
	refused                // writes paused: it was not made
	failed                 // any other error: it may or may not have been made
)

type write struct {
	key, value     string
	sent, answered time.Time
	outcome        outcome
}

// writer writes new keys through the gate one after another, as an
// application would, and records every answer.
type writer struct {
	cancel  context.CancelFunc
	done    chan struct{}
	refused chan struct{} // closed at the first refusal
	once    sync.Once
	mu      sync.Mutex
	log     []write
}

func startWriter(ctx context.Context, g *gate.Gate, env, ds, prefix string) *writer {
	ctx, cancel := context.WithCancel(ctx)
	w := &writer{cancel: cancel, done: make(chan struct{}), refused: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			wr := write{key: fmt.Sprintf("%s-%06d", prefix, i), value: fmt.Sprintf("%s/%s #%d", env, ds, i), sent: time.Now()}
			err := g.Put(ctx, env, ds, gate.Item{Key: wr.key, Value: wr.value})
			wr.answered = time.Now()
			var paused *gate.WritesPausedError
			switch {
			case err == nil:
				wr.outcome = acked
			case errors.As(err, &paused):
				wr.outcome = refused
				w.once.Do(func() { close(w.refused) })
			default: // faults past the SDK's retries, or ctx ended mid-write
				wr.outcome = failed
			}
			w.mu.Lock()
			w.log = append(w.log, wr)
			w.mu.Unlock()
			time.Sleep(40 * time.Millisecond)
		}
	}()
	return w
}

// stop ends the writer and returns its log, in order.
func (w *writer) stop() []write {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log
}

// split is a writer's log around one pause.
type split struct {
	// before are the writes acknowledged before the first refusal, after
	// those acknowledged after it.
	before, after map[string]string
	// unknown are the writes whose outcome is unknown (failed).
	unknown map[string]bool
	paused  bool // a write was refused
	// pauses are the stretches writes were refused: from the first refusal
	// to the first write acknowledged after it (or the last answer).
	pauses []stretch
	failed int
}

type stretch struct{ from, to time.Time }

func (s stretch) length() time.Duration { return s.to.Sub(s.from) }

// splitLog splits a writer's log at its first refusal. Without a refusal
// (the pause fell between two writes), cut decides: writes answered before
// it are before, writes sent after it after, others unknown.
func splitLog(log []write, cut time.Time) split {
	s := split{before: map[string]string{}, after: map[string]string{}, unknown: map[string]bool{}}
	var open *stretch
	for _, w := range log {
		switch w.outcome {
		case refused:
			s.paused = true
			if open == nil {
				open = &stretch{from: w.answered}
			}
			open.to = w.answered
		case failed:
			s.unknown[w.key] = true
			s.failed++
		case acked:
			if open != nil {
				open.to = w.answered
				s.pauses = append(s.pauses, *open)
				open = nil
			}
			switch {
			case s.paused:
				s.after[w.key] = w.value
			case cut.IsZero() || w.answered.Before(cut):
				s.before[w.key] = w.value
			case w.sent.After(cut):
				s.after[w.key] = w.value
			default:
				s.unknown[w.key] = true
			}
		}
	}
	if open != nil {
		s.pauses = append(s.pauses, *open)
	}
	return s
}

// overBound lists the pauses that lasted longer than killTarget, each
// measured from the kill when the kill fell inside it.
func (s split) overBound(killAt time.Time) []string {
	var out []string
	for _, p := range s.pauses {
		from, what := p.from, "long"
		if !killAt.IsZero() && !killAt.Before(p.from) && !killAt.After(p.to) {
			from, what = killAt, "after the kill"
		}
		if d := p.to.Sub(from); d > killTarget {
			out = append(out, fmt.Sprintf("writes refused %s %s (%s to %s), want at most %s",
				d.Round(time.Millisecond), what, p.from.Format("15:04:05.000"), p.to.Format("15:04:05.000"), killTarget))
		}
	}
	return out
}

func (s split) longestPause() time.Duration {
	var d time.Duration
	for _, p := range s.pauses {
		d = max(d, p.length())
	}
	return d
}
