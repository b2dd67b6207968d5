package main

import (
	"net/http"
	"sync/atomic"

	"github.com/lifeboat-dev/lifeboat/internal/metrics"
)

// health answers the probes Kubernetes (or any supervisor) sends: /healthz
// says the process runs, /readyz that the worker polls its task queue.
type health struct{ ready atomic.Bool }

func (h *health) setReady(ready bool) { h.ready.Store(ready) }

// register puts /healthz and /readyz beside the metrics' /metrics.
func (h *health) register(m *metrics.Metrics) {
	m.Handle("/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	m.Handle("/readyz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !h.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not polling\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
}
