package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var dashboardFile = filepath.Join(repoRoot, "deploy", "grafana", "lifeboat.json")

// dashboard is the part of a Grafana dashboard's JSON model the checks read.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// TestDashboard: deploy/grafana/lifeboat.json parses, its panels have
// unique ids, a place and a query on the datasource variable, every query
// reads metrics the workers serve, and it shows what issue 12 asks for.
func TestDashboard(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard title %q, uid %q: want both", d.Title, d.UID)
	}
	if !slices.ContainsFunc(d.Templating.List, func(v struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Query string `json:"query"`
	}) bool {
		return v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus"
	}) {
		t.Error("no datasource variable of type prometheus: the dashboard would be tied to one Grafana's datasource")
	}
	ids := map[int]string{}
	read := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v, want a width and height within 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			names := metricName.FindAllString(q.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q query %s reads no Lifeboat or SDK metric: %s", p.Title, q.RefID, q.Expr)
			}
			for _, n := range names {
				if !knownMetric(n) {
					t.Errorf("panel %q reads %s, which no worker serves (internal/metrics.Help has no such metric)", p.Title, n)
				}
				read[n] = true
			}
		}
	}
	// Backup age against target, pause windows, items exported and
	// imported, failures by step, restore test RTO and outcome, paused
	// datasets.
	for _, want := range []string{
		"lifeboat_last_success_timestamp_seconds", "lifeboat_rpo_target_seconds", "lifeboat_pause_window_seconds_bucket",
		"lifeboat_items_exported_total", "lifeboat_items_imported_total", "lifeboat_failures_total",
		"lifeboat_last_restore_test_seconds", "lifeboat_last_restore_test_success", "lifeboat_dataset_paused_seconds",
	} {
		if !read[want] {
			t.Errorf("no panel reads %s", want)
		}
	}
}

// TestDashboardQueriesParse: every query is valid PromQL, as Prometheus's
// own parser reads it: promtool check rules on the queries as recording
// rules (Grafana's $__ variables replaced by durations).
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range allPanels(d.Panels) {
		for _, q := range p.Targets {
			n++
			expr, err := json.Marshal(vars.Replace(q.Expr)) // a JSON string is a YAML string
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %s\n", n, expr)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "queries.yml"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runPromtool(t, dir, "check", "rules", "queries.yml"); err != nil {
		t.Errorf("the dashboard's queries do not parse: %v\n%s", err, out)
	}
}
