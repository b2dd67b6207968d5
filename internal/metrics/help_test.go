package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// scrape reads the registry's text exposition once every metric in want
// shows up in it (values reach it within ReportInterval).
func scrape(t *testing.T, m *Metrics, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * ReportInterval)
	for {
		rec := httptest.NewRecorder()
		m.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		missing := false
		for _, w := range want {
			missing = missing || !strings.Contains(body, "\n"+w)
		}
		if !missing {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics %v not served within %s:\n%s", want, 5*ReportInterval, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestHelpTexts(t *testing.T) {
	t.Parallel()
	m := New()
	defer m.Close()
	h := m.Handler()
	tags := map[string]string{"operation": "backup", "namespace": "default"}
	h.WithTags(tags).WithTags(map[string]string{"step": "exporting"}).Counter("lifeboat_failures").Inc(1)
	h.WithTags(tags).Timer("lifeboat_pause_window").Record(time.Second)
	h.Gauge("temporal_sticky_cache_size").Update(3)
	// A gauge keeps its name, _seconds included.
	h.WithTags(map[string]string{"operation": "backup", "resource": "prod/orders"}).Gauge("lifeboat_last_success_timestamp_seconds").Update(1.7e9)
	h.Counter("made_up_metric").Inc(1)
	body := scrape(t, m, "lifeboat_failures_total{", "lifeboat_pause_window_seconds_count{", "temporal_sticky_cache_size ", "made_up_metric_total ", "lifeboat_last_success_timestamp_seconds{")
	for name, help := range map[string]string{
		"lifeboat_failures_total":                 Help["lifeboat_failures"],
		"lifeboat_pause_window_seconds":           Help["lifeboat_pause_window"],
		"temporal_sticky_cache_size":              Help["temporal_sticky_cache_size"],
		"lifeboat_last_success_timestamp_seconds": Help["lifeboat_last_success_timestamp_seconds"],
		"made_up_metric_total":                    "made_up_metric_total counter", // no text: tally's placeholder
	} {
		if line := "# HELP " + name + " " + help + "\n"; !strings.Contains(body, line) {
			t.Errorf("want %q in:\n%s", line, body)
		}
	}
}
