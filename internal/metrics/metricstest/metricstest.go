// Package metricstest reads what a worker's metrics registry serves, for
// tests.
package metricstest

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/metrics"
)

// Served reads the value of each series in want that m serves (a missing
// one is not in the map), until done says they are what the test waits for
// or 5 reporting intervals passed (values reach the endpoint within one). A series is name{k="v",...}: a
// served line matches when it has that name and those labels (the SDK
// adds others).
func Served(t testing.TB, m *metrics.Metrics, done func(map[string]float64) bool, want ...string) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(5 * metrics.ReportInterval)
	for {
		rec := httptest.NewRecorder()
		m.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		got := map[string]float64{}
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			for _, w := range want {
				if Matches(line, w) {
					v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
					if err != nil {
						t.Fatalf("%s: %v", line, err)
					}
					got[w] = v
				}
			}
		}
		if done(got) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Matches says whether a line of the text format is a sample of series.
func Matches(line, series string) bool {
	name, labels, _ := strings.Cut(strings.TrimSuffix(series, "}"), "{")
	if !strings.HasPrefix(line, name+"{") {
		return false
	}
	served := line[len(name) : strings.LastIndexByte(line, '}')+1]
	for _, l := range strings.Split(labels, ",") {
		if !strings.Contains(served, "{"+l+",") && !strings.Contains(served, ","+l+",") &&
			!strings.Contains(served, ","+l+"}") && !strings.Contains(served, "{"+l+"}") {
			return false
		}
	}
	return true
}

// Now is a done for Served that reads once.
func Now(map[string]float64) bool { return true }
