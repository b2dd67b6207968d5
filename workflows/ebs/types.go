// Package ebs holds the EBS snapshot lifecycle workflows: Run (one Chain per
// region), Chain (Create, wait, Copy, Expire), Create and CreateBatch, Copy and
// CopyDestination, Expire, and Restore: pure orchestration of the activities
// in activities/ebs.
package ebs

import (
	"fmt"
	"strings"
	"time"

	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Workflow type names of the EBS snapshot lifecycle.
const (
	RunName             = "SnapshotRun"             // one chain per region
	ChainName           = "SnapshotChain"           // create, wait, copy, expire for one region
	CreateName          = "SnapshotCreate"          // the creator: pages instances into batches
	CreateBatchName     = "SnapshotCreateBatch"     // one batch of instances
	CopyName            = "SnapshotCopy"            // the copier: one child per destination
	CopyDestinationName = "SnapshotCopyDestination" // copies into one destination, limited concurrency
	ExpireName          = "SnapshotExpire"          // the manager
	RestoreName         = "SnapshotRestore"         // volumes from a group, attached to an instance
)

// Steps of the snapshot workflows (plus workflows.StepDone and workflows.StepFailed).
const (
	StepStarting   = "starting"
	StepRunning    = "running"
	StepCreating   = "creating"
	StepWaiting    = "waiting"
	StepCopying    = "copying"
	StepExpiring   = "expiring"
	StepPlanning   = "planning"
	StepVolumes    = "creating-volumes"
	StepAttaching  = "attaching"
	StepCleaningUp = "cleaning-up"
)

// Outcomes of a chain's steps and of a run's regions.
const (
	OutcomeOK       = "ok"
	OutcomeFailed   = "failed"
	OutcomeTimedOut = "timed-out" // the wait ended with snapshots still pending: a later run copies them
	OutcomeSkipped  = "skipped"
)

// Defaults of Options.
const (
	DefaultBatchSize           = 100 // instances per SnapshotCreateBatch child
	DefaultBatchParallelism    = 4   // batches running at once
	DefaultInstanceParallelism = 10  // CreateSnapshots calls at once in a batch
	DefaultMaxConcurrentCopies = 20  // copies in progress per destination region (AWS's default limit)
	DefaultWaitTimeoutSeconds  = 4 * 3600
	DefaultCopyWindowSeconds   = 6 * 3600
	DefaultHistoryLimit        = 10000 // events before a long workflow continues as new
)

// Options tune the snapshot workflows; zero values are the defaults.
type Options struct {
	// AsOf evaluates another day (YYYY-mm-dd): it names the day's groups,
	// starts DeleteOn and decides expiry. Empty: today, UTC, by the workflow's clock.
	AsOf string `json:"asOf,omitempty"`
	// DryRun changes nothing and reports what would be done.
	DryRun              bool `json:"dryRun,omitempty"`
	BatchSize           int  `json:"batchSize,omitempty"`
	MaxConcurrentCopies int  `json:"maxConcurrentCopies,omitempty"`
	// WaitTimeoutSeconds bounds the wait for new snapshots to complete.
	WaitTimeoutSeconds int `json:"waitTimeoutSeconds,omitempty"`
	// CopyWindowSeconds bounds the copy step: no copy starts after it, and
	// what is left is picked up by the next run.
	CopyWindowSeconds int `json:"copyWindowSeconds,omitempty"`
	// HistoryLimit is the history length at which long workflows continue
	// as new (DefaultHistoryLimit; tests set it low).
	HistoryLimit int `json:"historyLimit,omitempty"`
	// RPOSeconds is the recovery point objective of each region's snapshots,
	// in seconds: its schedule's interval, or --rpo. Each success serves it
	// as lifeboat_rpo_target_seconds, which the overdue-backup alert
	// compares the backup's age with. Zero: unknown, no target served.
	RPOSeconds int64 `json:"rpoSeconds,omitempty"`
}

func (o Options) batchSize() int { return orDefault(o.BatchSize, DefaultBatchSize) }
func (o Options) maxCopies() int {
	return orDefault(o.MaxConcurrentCopies, DefaultMaxConcurrentCopies)
}
func (o Options) waitTimeout() int {
	return orDefault(o.WaitTimeoutSeconds, DefaultWaitTimeoutSeconds)
}
func (o Options) copyWindow() time.Duration {
	return time.Duration(orDefault(o.CopyWindowSeconds, DefaultCopyWindowSeconds)) * time.Second
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// RunInput is the SnapshotRun workflow's input: a chain per region.
type RunInput struct {
	Regions []string `json:"regions"`
	Options
}

// ChainInput is the SnapshotChain workflow's input.
type ChainInput struct {
	Region string `json:"region"`
	Options
}

// CreateInput is the SnapshotCreate workflow's input.
type CreateInput struct {
	Region string `json:"region"`
	Options
	// Carry is the state handed over by continue-as-new.
	Carry *CreateCarry `json:"carry,omitempty"`
}

// CreateCarry is where a continued SnapshotCreate resumes.
type CreateCarry struct {
	Cursor  ebsact.InstanceCursor `json:"cursor"`
	Batches int                   `json:"batches"`
	Result  CreateResult          `json:"result"`
}

// CreateBatchInput is one batch of instances to snapshot.
type CreateBatchInput struct {
	Region      string                  `json:"region"`
	Date        time.Time               `json:"date"`
	DryRun      bool                    `json:"dryRun,omitempty"`
	Instances   []ebsact.BackupInstance `json:"instances"`
	Parallelism int                     `json:"parallelism,omitempty"`
}

// CopyInput is the SnapshotCopy workflow's input.
type CopyInput struct {
	Region string `json:"region"`
	Options
}

// CopyDestinationInput is the copies of one source region into one
// destination, and, after continue-as-new, how far they got.
type CopyDestinationInput struct {
	SourceRegion string   `json:"sourceRegion"`
	Destination  string   `json:"destination"`
	Queue        []string `json:"queue"`              // source snapshots still to copy, in order
	InFlight     []string `json:"inFlight,omitempty"` // copies this run started, in progress
	// Others are copies in progress in the destination that this run did not
	// start (earlier runs', other regions'): they hold slots of the limit.
	Others        []string `json:"others,omitempty"`
	MaxConcurrent int      `json:"maxConcurrent"`
	// Deadline: no copy starts after it, and in-flight copies are no longer waited for.
	Deadline     time.Time              `json:"deadline"`
	HistoryLimit int                    `json:"historyLimit,omitempty"`
	Result       *CopyDestinationResult `json:"result,omitempty"`
	// Unplanned: the queue was not checked for existing copies by a plan of
	// this run, so every batch looks in the destination first.
	Unplanned bool `json:"unplanned,omitempty"`
	// Recheck are queued snapshots handed back by an earlier copy batch
	// (deferred): their batch looks in the destination first.
	Recheck []string `json:"recheck,omitempty"`
}

// ExpireInput is the SnapshotExpire workflow's input.
type ExpireInput struct {
	Region string `json:"region"`
	Options
}

// RestoreInput is the SnapshotRestore workflow's input: a group (by
// id, or the latest group of a source instance at or before a time) and
// where its volumes go.
type RestoreInput struct {
	Region           string     `json:"region"`
	GroupID          string     `json:"groupId,omitempty"`
	SourceInstanceID string     `json:"sourceInstanceId,omitempty"`
	At               *time.Time `json:"at,omitempty"`
	TargetInstanceID string     `json:"targetInstanceId"`
	AvailabilityZone string     `json:"availabilityZone"`
	// Devices restores only these devices of the group (all when empty).
	Devices []string `json:"devices,omitempty"`
}

// GroupSummary is one instance's group of the day.
type GroupSummary struct {
	InstanceID string `json:"instanceId"`
	GroupID    string `json:"groupId"`
	Generation int    `json:"generation"`
	Snapshots  int    `json:"snapshots"`
	DeleteOn   string `json:"deleteOn"`
	// Created: taken by this run. Existing: it was there already. Neither:
	// a dry run's group to take.
	Created  bool `json:"created"`
	Existing bool `json:"existing"`
}

// InstanceFailure is an instance whose group could not be taken.
type InstanceFailure struct {
	InstanceID string `json:"instanceId"`
	Message    string `json:"message"`
}

// CreateBatchResult is one batch's groups.
type CreateBatchResult struct {
	Groups  []GroupSummary           `json:"groups,omitempty"`
	Failed  []InstanceFailure        `json:"failed,omitempty"`
	Skipped []ebsact.InstanceProblem `json:"skipped,omitempty"`
}

// CreateResult is the SnapshotCreate workflow's result. Lists are
// capped at ebsact.ListCap entries; counts are exact.
type CreateResult struct {
	Region         string                   `json:"region"`
	Date           string                   `json:"date"`
	DryRun         bool                     `json:"dryRun,omitempty"`
	Instances      int                      `json:"instances"` // instances with Backup=Yes and EBS volumes
	GroupsCreated  int                      `json:"groupsCreated"`
	GroupsExisting int                      `json:"groupsExisting"`
	GroupsToCreate int                      `json:"groupsToCreate,omitempty"` // dry run: groups a real run would take
	Snapshots      int                      `json:"snapshots"`                // in the groups created (to create, in a dry run)
	Batches        int                      `json:"batches"`
	Groups         []GroupSummary           `json:"groups,omitempty"`
	Failed         []InstanceFailure        `json:"failed,omitempty"`
	FailedCount    int                      `json:"failedCount"`
	Problems       []ebsact.InstanceProblem `json:"problems,omitempty"`
}

// CopyDestinationResult is what a run copied into one destination.
type CopyDestinationResult struct {
	Destination   string `json:"destination"`
	Started       int    `json:"started"`       // copies started by this run
	Copied        int    `json:"copied"`        // copies seen completed by this run
	AlreadyCopied int    `json:"alreadyCopied"` // sources with a copy there already
	// InFlight are copies still in progress when the run ended: they finish
	// on their own, and the next run finds them.
	InFlight []string `json:"inFlight,omitempty"`
	// Pending counts sources not started (the copy window closed, or the
	// plan's cap): the next run copies them.
	Pending     int                      `json:"pending"`
	Copies      []ebsact.CopyStarted     `json:"copies,omitempty"`
	Failed      []ebsact.SnapshotFailure `json:"failed,omitempty"`
	FailedCount int                      `json:"failedCount"`
	Error       string                   `json:"error,omitempty"`
}

// CopyResult is the SnapshotCopy workflow's result.
type CopyResult struct {
	Region        string `json:"region"`
	DryRun        bool   `json:"dryRun,omitempty"`
	SourcePending int    `json:"sourcePending"` // primaries not completed yet: copied by a later run
	SourceErrored int    `json:"sourceErrored"`
	// SeedSkipped counts the seed's primaries, never copied by Lifeboat.
	SeedSkipped  int                     `json:"seedSkipped,omitempty"`
	Destinations []CopyDestinationResult `json:"destinations"`
	Problems     []string                `json:"problems,omitempty"`
}

// ExpiryOutcome is one region's expiry, or why it did not run.
type ExpiryOutcome struct {
	ebsact.ExpireSnapshotsResult
	Error string `json:"error,omitempty"`
}

// ExpireResult is the SnapshotExpire workflow's result: the source
// region first, then each copy destination.
type ExpireResult struct {
	Region       string          `json:"region"`
	Date         string          `json:"date"`
	DryRun       bool            `json:"dryRun,omitempty"`
	Destinations []string        `json:"destinations"`
	Carried      []string        `json:"keepForeverCarried,omitempty"` // copies given KeepForever from their primary
	Regions      []ExpiryOutcome `json:"regions"`
	DeletedCount int             `json:"deletedCount"`
	Error        string          `json:"error,omitempty"`
}

// StepOutcome is how one step of a chain ended.
type StepOutcome struct {
	Step   string `json:"step"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// ChainResult is the SnapshotChain workflow's result: each step's
// outcome and result (nil when a step produced none).
type ChainResult struct {
	Region string                               `json:"region"`
	Date   string                               `json:"date"`
	DryRun bool                                 `json:"dryRun,omitempty"`
	Steps  []StepOutcome                        `json:"steps"`
	Create *CreateResult                        `json:"create,omitempty"`
	Wait   *ebsact.WaitSnapshotsCompletedResult `json:"wait,omitempty"`
	Copy   *CopyResult                          `json:"copy,omitempty"`
	Expire *ExpireResult                        `json:"expire,omitempty"`
}

// Failed reports whether any step failed.
func (r *ChainResult) Failed() bool {
	for _, s := range r.Steps {
		if s.Status == OutcomeFailed {
			return true
		}
	}
	return false
}

// RegionOutcome is one region's chain in a run.
type RegionOutcome struct {
	Region     string       `json:"region"`
	WorkflowID string       `json:"workflowId"`
	Status     string       `json:"status"`
	Error      string       `json:"error,omitempty"`
	Chain      *ChainResult `json:"chain,omitempty"`
}

// RunResult is the SnapshotRun workflow's result: every region's
// outcome. A run with a failed region ends failed, with this as its error's
// details, after every region has reported.
type RunResult struct {
	Date    string          `json:"date"`
	Regions []RegionOutcome `json:"regions"`
}

// RestoredVolume is one volume made from a group's snapshot.
type RestoredVolume struct {
	Device     string `json:"device"`
	SnapshotID string `json:"snapshotId"`
	VolumeID   string `json:"volumeId"`
}

// RestoreResult is the SnapshotRestore workflow's result.
type RestoreResult struct {
	Region           string           `json:"region"`
	GroupID          string           `json:"groupId"`
	SourceInstanceID string           `json:"sourceInstanceId"`
	Generation       int              `json:"generation"`
	CreatedAt        time.Time        `json:"createdAt"`
	TargetInstanceID string           `json:"targetInstanceId"`
	AvailabilityZone string           `json:"availabilityZone"`
	Volumes          []RestoredVolume `json:"volumes"`
}

// Progress is what the progress query of a snapshot workflow returns.
type Progress struct {
	workflows.Status
	Region string `json:"region,omitempty"`
	Date   string `json:"date,omitempty"`
	DryRun bool   `json:"dryRun,omitempty"`

	Instances      int `json:"instances,omitempty"`
	GroupsCreated  int `json:"groupsCreated,omitempty"`
	GroupsExisting int `json:"groupsExisting,omitempty"`
	Snapshots      int `json:"snapshots,omitempty"`
	Copied         int `json:"copied,omitempty"`
	CopiesInFlight int `json:"copiesInFlight,omitempty"`
	CopiesPending  int `json:"copiesPending,omitempty"`
	Deleted        int `json:"deleted,omitempty"`
	Volumes        int `json:"volumes,omitempty"`
	Attached       int `json:"attached,omitempty"`
	Failed         int `json:"failed,omitempty"`

	// Regions is each region's state, in a run.
	Regions []RegionProgress `json:"regions,omitempty"`
}

// RegionProgress is one region's part of a run's progress.
type RegionProgress struct {
	Region string `json:"region"`
	Status string `json:"status"` // running, ok, failed
	Error  string `json:"error,omitempty"`
}

// Summary is a one-line description of the progress.
func (p *Progress) Summary() string {
	head := p.Operation
	if p.Region != "" {
		head += " " + p.Region
	}
	if p.Date != "" {
		head += " " + p.Date
	}
	if p.DryRun {
		head += " (dry run)"
	}
	parts := []string{p.Step}
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	done := func(real, would string) string {
		if p.DryRun {
			return would
		}
		return real
	}
	add(p.Instances, "instances")
	add(p.GroupsCreated, "groups created")
	add(p.GroupsExisting, "groups existing")
	add(p.Snapshots, done("snapshots", "snapshots to take"))
	add(p.Copied, "copied")
	add(p.CopiesInFlight, "copies in flight")
	add(p.CopiesPending, done("copies pending", "to copy"))
	add(p.Deleted, done("deleted", "to delete"))
	add(p.Volumes, "volumes")
	add(p.Attached, "attached")
	add(p.Failed, "failed")
	for _, r := range p.Regions {
		parts = append(parts, r.Region+" "+r.Status)
	}
	s := head + ": " + strings.Join(parts, ", ")
	if p.Error != "" {
		s += ": " + p.Error
	}
	return s
}

// RunWorkflowID names a multi-region run after its regions and start time.
func RunWorkflowID(regions []string, now time.Time) string {
	parts := []string{"snapshots-run"}
	if len(regions) > 0 {
		parts = append(parts, regions[0])
		if len(regions) > 1 {
			parts = append(parts, fmt.Sprintf("and-%d-more", len(regions)-1))
		}
	}
	return strings.Join(append(parts, now.UTC().Format("20060102T150405.000Z")), "-")
}

// WorkflowID is the fixed id of a region's chain or step ("chain",
// "create", "copy", "expire"). One id per region and step means at most one
// of each runs at a time in a region, whether started alone or by a chain.
func WorkflowID(step, region string) string { return "snapshots-" + step + "-" + region }

// RestoreWorkflowID names a restore after its group (or source
// instance) and start time.
func RestoreWorkflowID(in RestoreInput, now time.Time) string {
	what := in.GroupID
	if what == "" {
		what = in.SourceInstanceID
	}
	return "snapshots-restore-" + what + "-" + now.UTC().Format("20060102T150405.000Z")
}
