// Package metrics serves a worker's Prometheus metrics: the Temporal SDK's
// own (temporal_*) and Lifeboat's (lifeboat_*, emitted by the workflows
// through workflow.GetMetricsHandler, so replays never count twice). It
// uses the SDK's tally contrib with tally's Prometheus reporter.
package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Metrics is one process's metrics registry.
type Metrics struct {
	reporter tallyprom.Reporter
	registry *prom.Registry
	scope    tally.Scope
	closer   io.Closer
	handler  client.MetricsHandler
	server   *http.Server
	extra    map[string]http.Handler
}

// New makes a registry. Values reach the endpoint within ReportInterval.
func New() *Metrics {
	reg := prom.NewRegistry()
	reporter := describedReporter{tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
		OnRegisterError:  func(error) {},
	})}
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sanitize,
		// tally's own bookkeeping (tally_internal_*) says nothing about Lifeboat.
		OmitCardinalityMetrics: true,
	}, ReportInterval)
	scope = sdktally.NewPrometheusNamingScope(scope)
	return &Metrics{reporter: reporter, registry: reg, scope: scope, closer: closer, handler: sdktally.NewMetricsHandler(scope)}
}

// sanitize keeps names and label keys to Prometheus's [A-Za-z0-9_], as
// the SDK's tally contrib does, but lets label values keep the characters
// of Lifeboat's ids ("prod/orders", "us-east-1").
var sanitize = func() tally.SanitizeOptions {
	o := sdktally.PrometheusSanitizeOptions
	o.ValueCharacters = tally.ValidCharacters{Ranges: tally.AlphanumericRange, Characters: []rune{'_', '-', '.', '/', ':'}}
	return o
}()

// ReportInterval is how often values are pushed to the Prometheus registry.
const ReportInterval = time.Second

// Handler is the metrics handler to give client.Options.MetricsHandler.
func (m *Metrics) Handler() client.MetricsHandler { return m.handler }

// HTTPHandler serves the registry in the Prometheus text format.
func (m *Metrics) HTTPHandler() http.Handler { return m.reporter.HTTPHandler() }

// Handle adds a handler to serve beside /metrics (the worker's health
// checks). Call it before Serve.
func (m *Metrics) Handle(pattern string, h http.Handler) {
	if m.extra == nil {
		m.extra = map[string]http.Handler{}
	}
	m.extra[pattern] = h
}

// Serve serves /metrics on addr (host:port; port 0 picks one) in the
// background and returns the address it listens on.
func (m *Metrics) Serve(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.HTTPHandler())
	for pattern, h := range m.extra {
		mux.Handle(pattern, h)
	}
	m.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Serve returns only when Close shuts the server down (or the listener
	// breaks, which Prometheus then shows as the target being down).
	go func() { _ = m.server.Serve(ln) }()
	return ln.Addr(), nil
}

// Close stops the endpoint and the reporting loop.
func (m *Metrics) Close() error {
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.server.Shutdown(ctx)
	}
	return m.closer.Close()
}
