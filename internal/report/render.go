package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats a report renders in.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatCSV   = "csv"
	FormatHTML  = "html"
)

// Formats lists them, for flag help.
var Formats = []string{FormatTable, FormatJSON, FormatCSV, FormatHTML}

// Render writes the report in a format.
func Render(w io.Writer, rep *Report, format string) error {
	switch format {
	case FormatTable:
		return Table(w, rep)
	case FormatJSON:
		return JSON(w, rep)
	case FormatCSV:
		return CSV(w, rep)
	case FormatHTML:
		return HTML(w, rep)
	}
	return &InvalidOptionsError{Msg: fmt.Sprintf("output %q: want %s", format, strings.Join(Formats, ", "))}
}

// JSON writes the report as one indented JSON document (Report's schema).
func JSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// Table writes the report as aligned columns for people, a summary line
// and the rows' notes.
func Table(w io.Writer, rep *Report) error {
	now := rep.GeneratedAt
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tRESOURCE\tSTATUS\tCOVERAGE\tLAST BACKUP\tAGE\tRPO TARGET\tVERIFIED\tRESTORE TEST (RTO)\tLAST FAILURE")
	for _, r := range rep.Resources {
		last, age := "-", "-"
		if r.LastBackup != nil {
			last = r.LastBackup.At.UTC().Format(time.RFC3339)
			age = Age(now.Sub(r.LastBackup.At))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Kind, r.Resource, r.Status, r.Coverage, last, age,
			targetText(r), proofText(r.Verification, now), restoreText(r.RestoreTest, now), failureText(r.LastFailure, now))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := rep.Summary
	fmt.Fprintf(w, "\n%d resources: %d ok, %d late, %d none, %d unknown; coverage %d green, %d amber, %d red; %d outside target\n",
		s.Resources, s.OK, s.Late, s.None, s.Unknown, s.Green, s.Amber, s.Red, s.OutsideTarget)
	for _, r := range rep.Resources {
		if r.Coverage != Green {
			line := fmt.Sprintf("%s %s: %s", r.Kind, r.Resource, r.Why)
			if r.Note != "" && !strings.Contains(r.Why, r.Note) {
				line += " (" + r.Note + ")"
			}
			fmt.Fprintln(w, "  "+line)
		}
	}
	return nil
}

func targetText(r Row) string {
	if r.target <= 0 {
		return "-"
	}
	return Age(r.target) + " (" + r.RPOSource + ")"
}

func proofText(p *Proof, now time.Time) string {
	if p == nil {
		return "never"
	}
	return p.Outcome + " " + Age(now.Sub(p.At)) + " ago"
}

func restoreText(p *Proof, now time.Time) string {
	if p == nil {
		return "never"
	}
	s := proofText(p, now)
	if p.RTOSeconds != nil {
		s += " (" + rto(*p.RTOSeconds) + ")"
	}
	return s
}

func failureText(f *Failure, now time.Time) string {
	if f == nil {
		return "-"
	}
	return Age(now.Sub(f.At)) + " ago: " + f.Reason
}

// rto prints a restore time in seconds: 12.3s, or 4m5s past a minute.
func rto(secs float64) string {
	if secs < 60 {
		return strconv.FormatFloat(secs, 'f', 1, 64) + "s"
	}
	return (time.Duration(secs) * time.Second).Round(time.Second).String()
}

// CSVHeader is the first row of the CSV output; one row per resource follows.
var CSVHeader = []string{
	"kind", "resource", "status", "coverage", "why", "outside_target",
	"last_backup_id", "last_backup_at", "age_seconds", "rpo_target_seconds", "rpo_source", "schedules", "locations",
	"verified_at", "verified_outcome", "restore_tested_at", "restore_test_outcome", "rto_seconds",
	"last_failure_at", "last_failure_workflow_id", "last_failure_reason", "note",
}

// CSV writes the report as a header row and one row per resource: times in
// RFC 3339 (UTC), durations in seconds, lists joined with spaces, empty
// cells for what is not known.
func CSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rep.Resources {
		rec := []string{r.Kind, r.Resource, r.Status, r.Coverage, r.Why, strconv.FormatBool(r.OutsideTarget),
			"", "", num(r.AgeSeconds), num(r.RPOTargetSeconds), r.RPOSource, strings.Join(r.Schedules, " "), strings.Join(r.Locations, " "),
			"", "", "", "", "", "", "", "", r.Note}
		if b := r.LastBackup; b != nil {
			rec[6], rec[7] = b.ID, stamp(b.At)
		}
		if v := r.Verification; v != nil {
			rec[13], rec[14] = stamp(v.At), v.Outcome
		}
		if t := r.RestoreTest; t != nil {
			rec[15], rec[16], rec[17] = stamp(t.At), t.Outcome, num(t.RTOSeconds)
		}
		if f := r.LastFailure; f != nil {
			rec[18], rec[19], rec[20] = stamp(f.At), f.WorkflowID, f.Reason
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func num(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
