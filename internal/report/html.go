package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

//go:embed report.html.tmpl
var pageSource string

// page is the HTML report: one self-contained page (CSS inline, bars as
// inline SVG, no scripts, fonts or images fetched).
var page = template.Must(template.New("report").Parse(pageSource))

// barWidth is the width of an age bar in pixels; the bar spans twice the
// target, so the target mark sits in its middle.
const barWidth = 180

type htmlPage struct {
	*Report
	Generated string
	Window    string
	Kinds     []htmlKind
	Rows      []htmlRow
}

type htmlKind struct {
	Name string
	Rows []htmlRow
}

type htmlRow struct {
	Row
	Last, Age, Target string
	// Bar: the age against the target, in pixels of barWidth.
	HasBar              bool
	Fill, Mark, BarSize int
	BarClass            string
	Verified, Restore   string
	VerifiedClass       string
	RestoreClass        string
	RTO                 string
	RTOFill             int
	Failure             string
	FailureClass        string
}

// HTML writes the report as one self-contained page.
func HTML(w io.Writer, rep *Report) error {
	now := rep.GeneratedAt
	p := htmlPage{Report: rep, Generated: now.UTC().Format("2006-01-02 15:04:05 UTC"), Window: Age(time.Duration(rep.ProofWindowSeconds * float64(time.Second)))}
	maxRTO := 0.0
	for _, r := range rep.Resources {
		if t := r.RestoreTest; t != nil && t.RTOSeconds != nil {
			maxRTO = max(maxRTO, *t.RTOSeconds)
		}
	}
	kinds := map[string]int{}
	for _, r := range rep.Resources {
		h := htmlRow{Row: r, Last: "never", Age: "-", Target: "none", BarSize: barWidth, Mark: barWidth / 2,
			Verified: "never", Restore: "never", VerifiedClass: "muted", RestoreClass: "muted", Failure: "none", FailureClass: "muted"}
		if b := r.LastBackup; b != nil {
			h.Last, h.Age = b.At.UTC().Format("2006-01-02 15:04 UTC"), Age(now.Sub(b.At))
		}
		if r.target > 0 {
			h.Target = Age(r.target) + " · " + r.RPOSource
			if r.LastBackup != nil {
				frac := now.Sub(r.LastBackup.At).Seconds() / (2 * r.target.Seconds())
				h.HasBar, h.Fill = true, int(min(max(frac, 0), 1)*barWidth)
				h.BarClass = "fill-ok"
				if r.Status == StatusLate {
					h.BarClass = "fill-late"
				}
			}
		}
		if v := r.Verification; v != nil {
			h.Verified, h.VerifiedClass = v.Outcome+" · "+Age(now.Sub(v.At))+" ago", "outcome-"+v.Outcome
		}
		if t := r.RestoreTest; t != nil {
			h.Restore, h.RestoreClass = t.Outcome+" · "+Age(now.Sub(t.At))+" ago", "outcome-"+t.Outcome
			if t.RTOSeconds != nil {
				h.RTO = rto(*t.RTOSeconds)
				if maxRTO > 0 {
					h.RTOFill = max(int(*t.RTOSeconds/maxRTO*100), 2)
				}
			}
		}
		if f := r.LastFailure; f != nil {
			h.Failure, h.FailureClass = fmt.Sprintf("%s ago: %s", Age(now.Sub(f.At)), f.Reason), "failure-old"
			if r.LastBackup == nil || f.At.After(r.LastBackup.At) {
				h.FailureClass = "failure"
			}
		}
		p.Rows = append(p.Rows, h)
		i, ok := kinds[r.Kind]
		if !ok {
			i = len(p.Kinds)
			kinds[r.Kind] = i
			p.Kinds = append(p.Kinds, htmlKind{Name: r.Kind})
		}
		p.Kinds[i].Rows = append(p.Kinds[i].Rows, h)
	}
	return page.Execute(w, p)
}
