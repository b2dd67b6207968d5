// Package report answers, for every resource Lifeboat protects (datasets,
// Redis clusters, EC2 instances with EBS snapshot groups), whether its data
// is protected: its newest complete backup and that backup's age against
// the recovery point objective (RPO), when a backup was last verified and
// last restore-tested (with the restore time it measured, the RTO), and the
// last failed backup run. Collect gathers the rows; Evaluate applies the
// status rules; the renderers print them as a table, JSON, CSV or one
// self-contained HTML page.
package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kinds of protected resource.
const (
	KindDataset  = "dataset"
	KindRedis    = "redis"
	KindInstance = "instance"
)

// Kinds lists every kind, in report order.
var Kinds = []string{KindDataset, KindRedis, KindInstance}

// Statuses of a resource's newest backup against its RPO target.
const (
	StatusOK      = "ok"      // a backup younger than the target
	StatusLate    = "late"    // the newest backup is older than the target
	StatusNone    = "none"    // no complete backup found
	StatusUnknown = "unknown" // no target, or the backups could not be read
)

// Coverage colours: the resource at a glance.
const (
	Green = "green" // within target, and a verification or restore test passed recently
	Amber = "amber" // within target (or no target) but not proven restorable recently
	Red   = "red"   // outside target, never backed up, its last run failed, or its last proof failed
)

// Outcomes of a verification or restore test (verified.json,
// restore-test.json and the EBS tags all use these words).
const (
	OutcomeOK     = "ok"
	OutcomeFailed = "failed"
)

// Report is every protected resource's row. Its JSON is `lifeboat report
// --output json`: field names are part of the CLI's interface.
type Report struct {
	GeneratedAt time.Time `json:"generatedAt"`
	// ProofWindowSeconds is how recent a passed verification or restore
	// test must be for a resource within target to be green.
	ProofWindowSeconds float64 `json:"proofWindowSeconds"`
	Summary            Summary `json:"summary"`
	Resources          []Row   `json:"resources"`
}

// Summary counts the rows by status and by coverage colour.
type Summary struct {
	Resources     int `json:"resources"`
	OK            int `json:"ok"`
	Late          int `json:"late"`
	None          int `json:"none"`
	Unknown       int `json:"unknown"`
	Green         int `json:"green"`
	Amber         int `json:"amber"`
	Red           int `json:"red"`
	OutsideTarget int `json:"outsideTarget"`
}

// Row is one protected resource.
type Row struct {
	Kind string `json:"kind"` // dataset, redis or instance
	// Resource names it: env/dataset, the cluster id, or region/instance-id.
	Resource string `json:"resource"`
	Status   string `json:"status"`   // ok, late, none or unknown
	Coverage string `json:"coverage"` // green, amber or red
	// Why is the coverage colour in a few words ("outside target by 2h").
	Why string `json:"why"`
	// OutsideTarget is true when the resource has a target and is not
	// within it (late, none, or its backups could not be read): what makes
	// `lifeboat report` exit 1.
	OutsideTarget bool `json:"outsideTarget"`
	// Locations are where its backups were looked for: s3:// URLs, or
	// ec2://<region> for snapshot groups.
	Locations  []string `json:"locations"`
	LastBackup *Backup  `json:"lastBackup,omitempty"`
	// AgeSeconds is the newest backup's age when the report was made.
	AgeSeconds *float64 `json:"ageSeconds,omitempty"`
	// RPOTargetSeconds is the target: the resource's own (--rpo), else the
	// shortest interval of the schedules backing it up.
	RPOTargetSeconds *float64 `json:"rpoTargetSeconds,omitempty"`
	// RPOSource says where the target comes from: "explicit",
	// "schedule <id>", or "" when there is none.
	RPOSource string `json:"rpoSource,omitempty"`
	// Schedules are the ids of the schedules that back it up.
	Schedules    []string `json:"schedules"`
	Verification *Proof   `json:"lastVerification,omitempty"`
	RestoreTest  *Proof   `json:"lastRestoreTest,omitempty"`
	// LastFailure is the newest failed, timed-out or terminated backup run.
	LastFailure *Failure `json:"lastFailure,omitempty"`
	// Note says what kept the row from being complete ("no schedule", an
	// S3 error), one line.
	Note string `json:"note,omitempty"`

	// target is the RPO target before rounding into RPOTargetSeconds.
	target time.Duration
	// readFailed marks backups that could not be read (Note says why).
	readFailed bool
}

// Backup is a resource's newest complete backup.
type Backup struct {
	ID string `json:"id"` // backup id, or the snapshot group id
	// At is the point in time it holds: the export's cut time, the Redis
	// backup's start, the snapshots' start.
	At       time.Time `json:"at"`
	Location string    `json:"location"`
}

// Proof is a verification or restore test of one of the resource's backups
// (the newest one found among its recent backups).
type Proof struct {
	At       time.Time `json:"at"`
	Outcome  string    `json:"outcome"` // ok or failed
	BackupID string    `json:"backupId,omitempty"`
	// RTOSeconds is the restore time a restore test measured.
	RTOSeconds *float64 `json:"rtoSeconds,omitempty"`
	Problem    string   `json:"problem,omitempty"`
}

// Failure is a backup run that did not succeed.
type Failure struct {
	At         time.Time `json:"at"` // when it ended
	WorkflowID string    `json:"workflowId"`
	Status     string    `json:"status"` // Failed, TimedOut or Terminated
	Reason     string    `json:"reason"` // one line
}

// SetTarget records the RPO target and where it comes from.
func (r *Row) SetTarget(target time.Duration, source string) {
	r.target, r.RPOSource = target, source
	if target > 0 {
		s := target.Seconds()
		r.RPOTargetSeconds = &s
	} else {
		r.RPOTargetSeconds = nil
	}
}

// Target is the RPO target, 0 when there is none.
func (r *Row) Target() time.Duration { return r.target }

// ReadFailed marks the row's backups as unknown: they could not be read,
// or where they are is not known. note says why, in a line.
func (r *Row) ReadFailed(note string) {
	r.readFailed = true
	r.Note = oneLine(note)
}

// Evaluate applies the status and coverage rules to a row, as of now:
//
//   - status: none without a complete backup (or unknown when its backups
//     could not be read); else unknown without a target; else late when the
//     backup is older than the target, ok when not.
//   - coverage: red when late or none, when its backups could not be read,
//     when a backup run failed after its newest backup, or when its newest
//     verification or restore test failed; green when ok and a
//     verification or restore test passed within proofWindow; amber
//     otherwise.
func Evaluate(r *Row, now time.Time, proofWindow time.Duration) {
	r.AgeSeconds = nil
	var age time.Duration
	switch {
	case r.readFailed:
		r.Status = StatusUnknown
	case r.LastBackup == nil:
		r.Status = StatusNone
	default:
		age = max(now.Sub(r.LastBackup.At), 0)
		s := age.Seconds()
		r.AgeSeconds = &s
		switch {
		case r.target <= 0:
			r.Status = StatusUnknown
		case age > r.target:
			r.Status = StatusLate
		default:
			r.Status = StatusOK
		}
	}
	r.OutsideTarget = r.target > 0 && r.Status != StatusOK

	proof := newestProof(r.Verification, r.RestoreTest)
	failedAfter := r.LastFailure != nil && (r.LastBackup == nil || r.LastFailure.At.After(r.LastBackup.At))
	switch {
	case r.readFailed:
		r.Coverage, r.Why = Red, "backups unknown: "+r.Note
	case r.Status == StatusNone:
		r.Coverage, r.Why = Red, "never backed up"
	case r.Status == StatusLate:
		r.Coverage, r.Why = Red, "outside target by "+Age(age-r.target)
	case failedAfter:
		r.Coverage, r.Why = Red, "last backup run failed"
	case proof != nil && proof.Outcome != OutcomeOK:
		r.Coverage, r.Why = Red, "last "+proofName(r, proof)+" failed"
	case r.Status == StatusUnknown:
		r.Coverage, r.Why = Amber, "no RPO target"
	case proof == nil:
		r.Coverage, r.Why = Amber, "never verified or restore-tested"
	case now.Sub(proof.At) > proofWindow:
		r.Coverage, r.Why = Amber, "last "+proofName(r, proof)+" "+Age(now.Sub(proof.At))+" ago"
	default:
		r.Coverage, r.Why = Green, "within target, "+proofName(r, proof)+" passed "+Age(now.Sub(proof.At))+" ago"
	}
}

func proofName(r *Row, p *Proof) string {
	if p == r.RestoreTest {
		return "restore test"
	}
	return "verification"
}

// newestProof is the later of a verification and a restore test.
func newestProof(v, t *Proof) *Proof {
	switch {
	case v == nil:
		return t
	case t == nil:
		return v
	case t.At.After(v.At):
		return t
	}
	return v
}

// Finish evaluates every row, sorts them (kind, then resource) and counts them.
func Finish(rows []Row, now time.Time, proofWindow time.Duration) *Report {
	rep := &Report{GeneratedAt: now.UTC(), ProofWindowSeconds: proofWindow.Seconds(), Resources: rows}
	if rep.Resources == nil {
		rep.Resources = []Row{}
	}
	order := map[string]int{}
	for i, k := range Kinds {
		order[k] = i
	}
	sort.SliceStable(rep.Resources, func(i, j int) bool {
		a, b := rep.Resources[i], rep.Resources[j]
		if a.Kind != b.Kind {
			return order[a.Kind] < order[b.Kind]
		}
		return a.Resource < b.Resource
	})
	for i := range rep.Resources {
		r := &rep.Resources[i]
		Evaluate(r, now, proofWindow)
		if r.Locations == nil {
			r.Locations = []string{}
		}
		if r.Schedules == nil {
			r.Schedules = []string{}
		}
		s := &rep.Summary
		s.Resources++
		switch r.Status {
		case StatusOK:
			s.OK++
		case StatusLate:
			s.Late++
		case StatusNone:
			s.None++
		default:
			s.Unknown++
		}
		switch r.Coverage {
		case Green:
			s.Green++
		case Amber:
			s.Amber++
		default:
			s.Red++
		}
		if r.OutsideTarget {
			s.OutsideTarget++
		}
	}
	return rep
}

// OutsideTargetError says resources with an RPO target are not within it:
// `lifeboat report` exits 1 with it, after printing the report.
type OutsideTargetError struct {
	Total     int
	Resources []string // "kind resource (status)"
}

func (e *OutsideTargetError) Error() string {
	shown := e.Resources
	more := ""
	if len(shown) > 5 {
		shown, more = shown[:5], fmt.Sprintf(" and %d more", len(e.Resources)-5)
	}
	return fmt.Sprintf("%d of %d resources outside their RPO target: %s%s", len(e.Resources), e.Total, strings.Join(shown, ", "), more)
}

// Check returns an *OutsideTargetError when any resource with a target is
// not within it.
func (rep *Report) Check() error {
	var out []string
	for _, r := range rep.Resources {
		if r.OutsideTarget {
			out = append(out, fmt.Sprintf("%s %s (%s)", r.Kind, r.Resource, r.Status))
		}
	}
	if len(out) == 0 {
		return nil
	}
	return &OutsideTargetError{Total: len(rep.Resources), Resources: out}
}

// Age is a duration as people read an age: 42s, 12m, 5h12m, 3d4h.
func Age(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
