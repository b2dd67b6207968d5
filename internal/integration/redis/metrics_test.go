package redis

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	rediswf "github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// placeholderHelp is the HELP tally's Prometheus reporter gives a metric
// registered without a description.
var placeholderHelp = regexp.MustCompile(`^# HELP (\S+) (\S+) (counter|gauge|histogram|summary)$`)

// TestIntegrationEveryMetricExplained: after a backup and a refused request,
// every metric the workers serve (the SDK's and Lifeboat's) has a HELP text
// that explains it, not tally's "<name> counter".
func TestIntegrationEveryMetricExplained(t *testing.T) {
	e := shared(t)
	t.Parallel()
	ctx := testenv.Context(t, 2*time.Minute)
	c := startCluster(t, e, "help", clusterOptions{nodes: 1})
	c.nodes[0].fill(t, "help", 10)
	location := e.NewBackupLocation(t)
	backup(ctx, t, e, rediswf.BackupInput{Cluster: c.name, BackupLocation: location, Retention: &rediswf.RetentionPolicy{Count: 1}})
	if _, err := e.Client().StartRedisBackup(ctx, rediswf.BackupInput{Cluster: e.ID("nobody"), BackupLocation: location}); err == nil {
		t.Fatal("a backup of an unregistered cluster was not refused")
	}
	var missing []string
	seen := 0
	deadline := time.Now().Add(10 * time.Second)
	for {
		missing, seen = nil, 0
		refused := false
		for _, url := range e.MetricsURLs {
			body := get(t, url)
			refused = refused || strings.Contains(body, "\nlifeboat_refused_total{")
			for _, line := range strings.Split(body, "\n") {
				if !strings.HasPrefix(line, "# HELP ") {
					continue
				}
				seen++
				if m := placeholderHelp.FindStringSubmatch(line); m != nil && m[1] == m[2] {
					missing = append(missing, m[1])
				}
			}
		}
		if refused || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if seen < 10 {
		t.Fatalf("only %d metrics served by %v", seen, e.MetricsURLs)
	}
	if len(missing) > 0 {
		t.Errorf("metrics without a HELP text (add them to internal/metrics.Help): %v", missing)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
