package testenv

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Metric sums a metric's samples whose labels contain label (e.g.
// `region="us-east-1"`), over every worker's Prometheus endpoint.
func (e *Env) Metric(tb testing.TB, metric, label string) float64 {
	tb.Helper()
	var sum float64
	for _, u := range e.MetricsURLs {
		resp, err := http.Get(u)
		if err != nil {
			tb.Fatalf("scrape %s: %v", u, err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, metric+"{") || !strings.Contains(line, label) {
				continue
			}
			if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				sum += v
			}
		}
		resp.Body.Close()
	}
	return sum
}

// WaitMetric waits until Metric reaches want (values reach the endpoint
// within a reporting interval) and returns the last value read.
func (e *Env) WaitMetric(tb testing.TB, metric, label string, want float64) float64 {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := e.Metric(tb, metric, label)
		if got >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}
