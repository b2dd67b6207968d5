package activities

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
)

// Heartbeat keeps a long activity alive: it heartbeats on a ticker, so that
// no wait, poll or backoff outlasts the heartbeat timeout, and heartbeats
// are how Temporal learns that a worker died.
type Heartbeat struct {
	ctx     context.Context
	details func() any
	last    atomic.Pointer[any]
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

// HeartbeatEvery is the interval of the EBS and DynamoDB activities: no
// backoff or poll outlasts a heartbeat timeout of a few of these. The beats
// come from a ticker beside the work, so a slow AWS call never delays them;
// the SDK sends at most one per 80 % of the heartbeat timeout.
const HeartbeatEvery = 5 * time.Second

// HeartbeatInPause is the interval of the activities that run while writes
// are paused: their heartbeat timeouts are 10-15 s, so that a dead worker
// holds writes paused for seconds, not minutes. (The SDK sends at most one
// heartbeat per 80 % of the timeout; beating more often costs nothing.)
const HeartbeatInPause = 3 * time.Second

// KeepAlive heartbeats every interval until Stop, each time with details(),
// or when details is nil with the latest details given to Record (none
// before the first). Heartbeat timeouts must be a few intervals. It goes on
// after the activity is cancelled: work that must run to the end (a Redis
// restore putting a node back) must not then time out. Outside an activity
// (the CLI, plain tests) it does nothing.
func KeepAlive(ctx context.Context, every time.Duration, details func() any) *Heartbeat {
	if !activity.IsActivity(ctx) {
		return &Heartbeat{}
	}
	h := &Heartbeat{ctx: ctx, details: details, done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
				h.Beat()
			}
		}
	}()
	return h
}

// Beat heartbeats now.
func (h *Heartbeat) Beat() {
	if h.ctx == nil {
		return
	}
	var d any
	if h.details != nil {
		d = h.details()
	} else if p := h.last.Load(); p != nil {
		d = *p
	}
	if d == nil {
		activity.RecordHeartbeat(h.ctx)
	} else {
		activity.RecordHeartbeat(h.ctx, d)
	}
}

// Record keeps details for the following beats and heartbeats now.
func (h *Heartbeat) Record(details any) {
	h.last.Store(&details)
	h.Beat()
}

// Stop ends the heartbeats and waits for the ticker to stop; it may be
// called more than once.
func (h *Heartbeat) Stop() {
	if h.done == nil {
		return
	}
	h.once.Do(func() { close(h.done) })
	h.wg.Wait()
}
