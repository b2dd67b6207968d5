package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// sample is a report with one resource of each kind of outcome.
func sample() *Report {
	rto := 12.5
	rows := []Row{
		{Kind: KindDataset, Resource: "prod/orders", Locations: []string{"s3://b/p"}, Schedules: []string{"nightly"},
			LastBackup: backupAt(time.Hour), RestoreTest: &Proof{At: ago(2 * time.Hour), Outcome: OutcomeOK, RTOSeconds: &rto}},
		{Kind: KindDataset, Resource: "prod/users", Locations: []string{"s3://b/p"}, LastBackup: backupAt(30 * time.Hour),
			LastFailure: &Failure{At: ago(2 * time.Hour), WorkflowID: "backup-prod-users-1", Status: "Failed", Reason: "export of prod/users failed: <quota> exceeded"}},
		{Kind: KindRedis, Resource: "shop", Note: "no schedule"},
		{Kind: KindInstance, Resource: "us-east-1/i-0abc", LastBackup: backupAt(2 * time.Hour), Verification: proof(OutcomeOK, 3*time.Hour)},
	}
	rows[0].SetTarget(24*time.Hour, "schedule nightly")
	rows[1].SetTarget(24*time.Hour, "explicit")
	rows[2].SetTarget(time.Hour, "explicit")
	return Finish(rows, now, DefaultProofWindow)
}

func render(t *testing.T, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, sample(), format); err != nil {
		t.Fatalf("render %s: %v", format, err)
	}
	return b.String()
}

func TestTable(t *testing.T) {
	t.Parallel()
	out := render(t, FormatTable)
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "KIND") || !strings.Contains(lines[0], "RPO TARGET") {
		t.Fatalf("header %q", lines[0])
	}
	row := func(res string) string {
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) > 1 && f[1] == res {
				return l
			}
		}
		t.Fatalf("no row for %s in\n%s", res, out)
		return ""
	}
	if r := row("prod/orders"); !strings.Contains(r, " ok ") || !strings.Contains(r, "green") || !strings.Contains(r, "(12.5s)") {
		t.Errorf("ok row: %q", r)
	}
	if r := row("prod/users"); !strings.Contains(r, " late ") || !strings.Contains(r, "red") || !strings.Contains(r, "export of prod/users failed: <quota> exceeded") {
		t.Errorf("late row with its failure: %q", r)
	}
	if r := row("shop"); !strings.Contains(r, " none ") || !strings.Contains(r, "red") {
		t.Errorf("never backed up: %q", r)
	}
	if !strings.Contains(out, "4 resources: 1 ok, 1 late, 1 none, 1 unknown") || !strings.Contains(out, "dataset prod/users: outside target by 6h") {
		t.Errorf("summary and reasons:\n%s", out)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	var doc struct {
		GeneratedAt time.Time      `json:"generatedAt"`
		Summary     map[string]int `json:"summary"`
		Resources   []map[string]any
	}
	if err := json.Unmarshal([]byte(render(t, FormatJSON)), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.GeneratedAt.Equal(now) || doc.Summary["outsideTarget"] != 2 || len(doc.Resources) != 4 {
		t.Fatalf("document %+v", doc)
	}
	users := doc.Resources[1]
	if users["resource"] != "prod/users" || users["status"] != StatusLate || users["coverage"] != Red || users["outsideTarget"] != true ||
		users["rpoTargetSeconds"] != 86400.0 || users["ageSeconds"] != 108000.0 || users["rpoSource"] != "explicit" {
		t.Errorf("late resource: %v", users)
	}
	if f, _ := users["lastFailure"].(map[string]any); f["reason"] != "export of prod/users failed: <quota> exceeded" || f["workflowId"] != "backup-prod-users-1" {
		t.Errorf("last failure: %v", users["lastFailure"])
	}
	orders := doc.Resources[0]
	if rt, _ := orders["lastRestoreTest"].(map[string]any); rt["rtoSeconds"] != 12.5 || rt["outcome"] != OutcomeOK {
		t.Errorf("restore test: %v", orders["lastRestoreTest"])
	}
	// Lists are always arrays, for scripts.
	if s, ok := doc.Resources[2]["schedules"].([]any); !ok || len(s) != 0 {
		t.Errorf("shop schedules: %#v, want []", doc.Resources[2]["schedules"])
	}
}

func TestCSV(t *testing.T) {
	t.Parallel()
	recs, err := csv.NewReader(strings.NewReader(render(t, FormatCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || !slices.Equal(recs[0], CSVHeader) {
		t.Fatalf("%d records, header %v", len(recs), recs[0])
	}
	col := func(rec []string, name string) string { return rec[slices.Index(CSVHeader, name)] }
	users := recs[2]
	if col(users, "resource") != "prod/users" || col(users, "status") != StatusLate || col(users, "coverage") != Red ||
		col(users, "rpo_target_seconds") != "86400" || col(users, "age_seconds") != "108000" || col(users, "outside_target") != "true" ||
		col(users, "last_failure_reason") != "export of prod/users failed: <quota> exceeded" {
		t.Errorf("late row: %v", users)
	}
	if o := recs[1]; col(o, "rto_seconds") != "12.5" || col(o, "restore_test_outcome") != OutcomeOK || col(o, "schedules") != "nightly" {
		t.Errorf("ok row: %v", o)
	}
	if s := recs[3]; col(s, "status") != StatusNone || col(s, "last_backup_at") != "" || col(s, "age_seconds") != "" {
		t.Errorf("never backed up: %v", s)
	}
}

// The page parses, is self-contained (nothing fetched: no http(s) URL, no
// script, no external stylesheet or image) and colours each row by its
// coverage; text is escaped.
func TestHTML(t *testing.T) {
	t.Parallel()
	page := render(t, FormatHTML)
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page references an http(s) URL")
	}
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	coverage := map[string]string{}
	var style, svg int
	var text strings.Builder
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "img", "iframe", "object", "embed":
				t.Errorf("the page has a <%s> element", n.Data)
			case "style":
				style++
			case "svg":
				svg++
			}
			for _, a := range n.Attr {
				if a.Key == "src" || a.Key == "href" {
					t.Errorf("<%s %s=%q>: the page must not fetch anything", n.Data, a.Key, a.Val)
				}
			}
			if n.Data == "tr" && attr(n, "data-coverage") != "" {
				coverage[rowResource(n)] = attr(n, "data-coverage") + "/" + attr(n, "data-status")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(doc)
	want := map[string]string{"prod/orders": "green/ok", "prod/users": "red/late", "shop": "red/none", "us-east-1/i-0abc": "amber/unknown"}
	for res, w := range want {
		if coverage[res] != w {
			t.Errorf("row %s: coverage/status %q, want %q (rows: %v)", res, coverage[res], w, coverage)
		}
	}
	if style != 1 || svg < 2 {
		t.Errorf("%d <style> (want 1 inline), %d age bars (want one per row with a target and a backup)", style, svg)
	}
	for _, s := range []string{"export of prod/users failed: <quota> exceeded", "RTO 12.5s", "no schedule"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("page text lacks %q", s)
		}
	}
	if strings.Contains(page, "<quota>") {
		t.Errorf("the failure reason is not escaped")
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// rowResource is the text of a row's .res element.
func rowResource(n *html.Node) string {
	if n.Type == html.ElementNode && attr(n, "class") == "res" && n.FirstChild != nil {
		return n.FirstChild.Data
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if s := rowResource(c); s != "" {
			return s
		}
	}
	return ""
}

func TestRenderUnknownFormat(t *testing.T) {
	t.Parallel()
	if err := Render(&bytes.Buffer{}, sample(), "yaml"); err == nil {
		t.Error("format yaml accepted")
	}
}
