// Package dataset holds the DynamoDB dataset workflows (Backup, Restore,
// Verify): pure orchestration of the activities in activities/dataset.
package dataset

import (
	"fmt"
	"strings"
	"time"

	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Workflow type names, as given to `temporal workflow start --type`.
const (
	BackupName  = "DatasetBackup"
	RestoreName = "DatasetRestore"
)

// Steps a dataset workflow goes through, in order, besides the common ones
// (workflows.StepValidating, workflows.StepManifest, workflows.StepDone, workflows.StepFailed).
const (
	StepPausing   = "pausing"
	StepDraining  = "draining"
	StepCutting   = "waiting-for-cut"
	StepExporting = "exporting"
	StepVerifying = "verifying-backup"
	StepCreating  = "creating-store"
	StepQueued    = "queued"
	StepImporting = "importing"
	StepSwitching = "switching-store"
	StepResuming  = "resuming"
	StepPruning   = "pruning-backups"
	StepCopying   = "copying"
)

// DefaultDrainTimeoutSeconds bounds the wait for in-flight writes.
const DefaultDrainTimeoutSeconds = 60

// MaxDatasets is the most datasets one backup or restore request takes
// (a restore covers every dataset of its environments). Each dataset costs
// a few activities and a progress entry in one workflow history, which
// Temporal caps at 50,000 events; 1,000 leaves room for retries.
const MaxDatasets = 1000

// LimitError says a request exceeds one of Lifeboat's input limits; nothing
// was started.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

// Validate checks the input against Lifeboat's limits (MaxDatasets, ids of
// at most 63 characters) before anything starts; the workflow checks it
// again for runs started by other means (`temporal workflow start`).
func (in BackupInput) Validate() error {
	if err := checkCount("back up", "backup", len(in.Datasets)); err != nil {
		return err
	}
	for _, d := range in.Datasets {
		if err := checkIDs(d.EnvID, d.DatasetID); err != nil {
			return err
		}
		if err := d.Access.Validate(); err != nil {
			return err
		}
		for _, c := range d.CopyTo {
			dest, err := c.Parse()
			if err != nil {
				return err
			}
			if src, err := backupstore.ParseLocation(d.BackupLocation); err == nil && src.Bucket == dest.Bucket && src.Prefix == dest.Prefix {
				return &LimitError{Msg: fmt.Sprintf("copy destination %s is the backup location itself", c.Location)}
			}
		}
	}
	return nil
}

// Validate checks the input against Lifeboat's limits, as BackupInput's does.
func (in RestoreInput) Validate() error {
	if err := checkCount("restore", "restore", len(in.Datasets)); err != nil {
		return err
	}
	if in.NewStoreID != "" {
		if err := ids.Validate("store", in.NewStoreID); err != nil {
			return err
		}
	}
	for _, d := range in.Datasets {
		if err := checkIDs(d.EnvID, d.DatasetID, d.SourceEnvID, d.SourceDatasetID); err != nil {
			return err
		}
		if err := d.Access.Validate(); err != nil {
			return err
		}
	}
	return nil
}

func checkCount(verb, op string, n int) error {
	switch {
	case n == 0:
		return &LimitError{Msg: "no datasets to " + verb}
	case n > MaxDatasets:
		return &LimitError{Msg: fmt.Sprintf("%d datasets in one %s: the limit is %d datasets per request", n, op, MaxDatasets)}
	}
	return nil
}

// checkIDs validates an environment and a dataset id, then optional
// source ones (empty when not given).
func checkIDs(env, ds string, source ...string) error {
	if err := ids.Validate("environment", env); err != nil {
		return err
	}
	if err := ids.Validate("dataset", ds); err != nil {
		return err
	}
	kinds := []string{"source environment", "source dataset"}
	for i, id := range source {
		if id == "" {
			continue
		}
		if err := ids.Validate(kinds[i], id); err != nil {
			return err
		}
	}
	return nil
}

// BackupDataset is one dataset to back up. Its JSON form is the seed's
// backup-datasets.json entry, plus envId.
type BackupDataset struct {
	EnvID          string `json:"envId"`
	DatasetID      string `json:"datasetId"`
	BackupLocation string `json:"backupLocation"`
	// PointInTime, when set, exports that moment from PITR without pausing writes.
	PointInTime *time.Time `json:"pointInTime,omitempty"`
	// AllowUnversioned accepts a bucket without versioning (refused otherwise).
	AllowUnversioned bool `json:"allowUnversioned,omitempty"`
	// KMSKeyID encrypts the export and the manifest with this KMS key (SSE-KMS).
	KMSKeyID string `json:"kmsKeyId,omitempty"`
	// Access names a role to assume for the location's S3 calls (roleArn,
	// externalId) and the bucket's owner (bucketOwner), for a bucket in
	// another account.
	backupstore.Access
	// CopyTo are further locations the finished backup is copied to, each
	// reached with its own role (none: the workers' own credentials).
	CopyTo []CopyDestination `json:"copyTo,omitempty"`
}

// CopyDestination is a location a backup is copied to after it succeeded.
type CopyDestination struct {
	Location string `json:"location"`
	backupstore.Access
}

// Parse is the destination as a location.
func (c CopyDestination) Parse() (backupstore.Location, error) {
	return backupstore.ParseLocationWith(c.Location, c.Access)
}

// BackupInput is the DatasetBackup workflow's input.
type BackupInput struct {
	Datasets            []BackupDataset `json:"datasets"`
	DrainTimeoutSeconds int             `json:"drainTimeoutSeconds,omitempty"`
	// Retention, when set, prunes each dataset's older backups under its
	// backup location after the backup succeeds (scheduled backups set it).
	Retention *RetentionPolicy `json:"retention,omitempty"`
	// Verify, when set, downloads every file of each new backup after it is
	// written and checks its item count and checksum against the manifest
	// (as `lifeboat backup verify` does), with writes already resumed.
	Verify bool `json:"verify,omitempty"`
	// RPOSeconds is the recovery point objective of what this backs up,
	// in seconds: its schedule's interval, or --rpo. Each success serves it
	// as lifeboat_rpo_target_seconds, which the overdue-backup alert
	// compares the backup's age with. Zero: unknown, no target served.
	RPOSeconds int64 `json:"rpoSeconds,omitempty"`
}

// RetentionPolicy says which of a dataset's backups to keep: the newest
// Count and/or those younger than Days days (a backup is kept when either
// rule keeps it; a zero rule is off). The newest successful backup and
// backups marked keep are never deleted, nor any object Lifeboat did not
// write.
type RetentionPolicy struct {
	Count int `json:"count,omitempty"`
	Days  int `json:"days,omitempty"`
}

func (r RetentionPolicy) rules() backupstore.Retention {
	return backupstore.Retention{Count: r.Count, Days: r.Days}
}

// BackupRow is one dataset's finished backup.
type BackupRow struct {
	EnvID        string    `json:"envId"`
	DatasetID    string    `json:"datasetId"`
	StoreID      string    `json:"storeId"`
	BackupID     string    `json:"backupId"`
	CutTime      time.Time `json:"cutTime"`
	PausedWrites bool      `json:"pausedWrites"`
	ManifestURL  string    `json:"manifestUrl"`
	ItemCount    int64     `json:"itemCount"`
	Bytes        int64     `json:"bytes"`
	// Pruned are the older backups (ids) the retention step deleted.
	Pruned []string `json:"pruned,omitempty"`
	// RetentionNotes say what retention left alone and why.
	RetentionNotes []string `json:"retentionNotes,omitempty"`
	// RetentionWarning says why the retention step failed, if it did; the
	// backup itself succeeded all the same.
	RetentionWarning string `json:"retentionWarning,omitempty"`
	// Verified is true when the backup's files were downloaded and checked.
	Verified bool `json:"verified,omitempty"`
	// Copies are the backup's copies to its CopyTo locations.
	Copies []CopyRow `json:"copies,omitempty"`

	manifestKey string // for the verify step
}

// CopyRow is one copy of a backup: where, how much, and whether it
// succeeded. A failed copy leaves the backup standing at its location.
type CopyRow struct {
	Location    string `json:"location"`
	ManifestURL string `json:"manifestUrl,omitempty"`
	Objects     int    `json:"objects"`
	Bytes       int64  `json:"bytes"`
	OK          bool   `json:"ok"`
	Error       string `json:"error,omitempty"`
	// Pruned are the older backups retention deleted at this location.
	Pruned           []string `json:"pruned,omitempty"`
	RetentionWarning string   `json:"retentionWarning,omitempty"`

	dest backupstore.Location // for the retention step
}

// BackupResult is the DatasetBackup workflow's result.
type BackupResult struct {
	Datasets []BackupRow `json:"datasets"`
	// PauseWindowMillis is how long writes were refused.
	PauseWindowMillis int64 `json:"pauseWindowMillis"`
}

// RestoreDataset is one dataset to restore. Its JSON form is the seed's
// restore-datasets.json entry, plus envId and an optional backupId.
type RestoreDataset struct {
	EnvID           string `json:"envId"`
	DatasetID       string `json:"datasetId"`
	SourceDatasetID string `json:"sourceDatasetId,omitempty"`
	// SourceEnvID picks the environment whose backup to use when the
	// location holds backups of the dataset id from several environments.
	SourceEnvID    string `json:"sourceEnvId,omitempty"`
	BackupLocation string `json:"backupLocation"`
	// BackupID picks one backup; the latest is used when empty.
	BackupID string `json:"backupId,omitempty"`
	// Access names a role to assume for the location's S3 calls (roleArn,
	// externalId) and the bucket's owner (bucketOwner), for a bucket in
	// another account.
	backupstore.Access
}

// RestoreInput is the DatasetRestore workflow's input.
type RestoreInput struct {
	Datasets []RestoreDataset `json:"datasets"`
	// NewStoreID names the store created; a timestamp id when empty.
	NewStoreID          string `json:"newStoreId,omitempty"`
	DrainTimeoutSeconds int    `json:"drainTimeoutSeconds,omitempty"`
	// MaxConcurrentImports bounds the imports running at once
	// (DefaultMaxConcurrentImports when 0); datasets beyond it queue.
	MaxConcurrentImports int `json:"maxConcurrentImports,omitempty"`
	// MaxImportBytesInFlight bounds the backup bytes being imported at once
	// (DefaultMaxImportBytesInFlight when 0).
	MaxImportBytesInFlight int64 `json:"maxImportBytesInFlight,omitempty"`
}

// RestoreRow is one dataset's finished restore.
type RestoreRow struct {
	EnvID           string `json:"envId"`
	DatasetID       string `json:"datasetId"`
	SourceDatasetID string `json:"sourceDatasetId"`
	BackupID        string `json:"backupId"`
	TableName       string `json:"tableName"`
	ItemCount       int64  `json:"itemCount"`
}

// RestoreResult is the DatasetRestore workflow's result.
type RestoreResult struct {
	StoreID  string       `json:"storeId"`
	Datasets []RestoreRow `json:"datasets"`
	// Switched lists each environment's store change as "env: old -> new".
	Switched          []string `json:"switched"`
	PauseWindowMillis int64    `json:"pauseWindowMillis"`
}

// Progress is what the progress query returns.
type Progress struct {
	workflows.Status
	StoreID  string            `json:"storeId,omitempty"`
	Datasets []DatasetProgress `json:"datasets"`
	// Warnings are failures that did not fail the run (a retention step).
	Warnings []string `json:"warnings,omitempty"`

	// index finds a dataset's entry in Datasets; it covers the first
	// indexed entries and is extended on demand (never serialized).
	index   map[datasetact.DatasetRef]int
	indexed int
}

// DatasetProgress is one dataset's part of Progress.
type DatasetProgress struct {
	EnvID     string `json:"envId"`
	DatasetID string `json:"datasetId"`
	Step      string `json:"step"`
	Items     int64  `json:"items,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
	Detail    string `json:"detail,omitempty"`
	// Copies are the backup's copies, as they finish.
	Copies []CopyRow `json:"copies,omitempty"`
}

// Summary is a one-line description of the progress.
func (p *Progress) Summary() string {
	done := 0
	for _, d := range p.Datasets {
		if d.Step == workflows.StepDone {
			done++
		}
	}
	s := fmt.Sprintf("%s: %s, %d of %d datasets done", p.Operation, p.Step, done, len(p.Datasets))
	if len(p.Warnings) > 0 {
		s += fmt.Sprintf(", %d warnings", len(p.Warnings))
	}
	if p.Error != "" {
		s += ": " + p.Error
	}
	return s
}

// dataset returns env/ds's entry, adding it if missing. Lookups go through
// an index so that a run over thousands of datasets stays linear.
func (p *Progress) dataset(env, ds string) *DatasetProgress {
	if p.index == nil || p.indexed > len(p.Datasets) {
		p.index, p.indexed = make(map[datasetact.DatasetRef]int, len(p.Datasets)), 0
	}
	for ; p.indexed < len(p.Datasets); p.indexed++ {
		k := p.Datasets[p.indexed].ref()
		if _, dup := p.index[k]; !dup { // the first entry wins, as a scan would find it
			p.index[k] = p.indexed
		}
	}
	k := datasetact.DatasetRef{EnvID: env, DatasetID: ds}
	if i, ok := p.index[k]; ok {
		return &p.Datasets[i]
	}
	p.Datasets = append(p.Datasets, DatasetProgress{EnvID: env, DatasetID: ds})
	p.index[k], p.indexed = len(p.Datasets)-1, len(p.Datasets)
	return &p.Datasets[len(p.Datasets)-1]
}

func (d *DatasetProgress) ref() datasetact.DatasetRef {
	return datasetact.DatasetRef{EnvID: d.EnvID, DatasetID: d.DatasetID}
}

// BackupWorkflowID names a backup run after its first dataset and start time.
func BackupWorkflowID(in BackupInput, now time.Time) string {
	refs := make([]datasetact.DatasetRef, 0, len(in.Datasets))
	for _, d := range in.Datasets {
		refs = append(refs, datasetact.DatasetRef{EnvID: d.EnvID, DatasetID: d.DatasetID})
	}
	return workflowID("backup", refs, now)
}

// RestoreWorkflowID names a restore run after its first dataset and start time.
func RestoreWorkflowID(in RestoreInput, now time.Time) string {
	refs := make([]datasetact.DatasetRef, 0, len(in.Datasets))
	for _, d := range in.Datasets {
		refs = append(refs, datasetact.DatasetRef{EnvID: d.EnvID, DatasetID: d.DatasetID})
	}
	return workflowID("restore", refs, now)
}

func workflowID(op string, refs []datasetact.DatasetRef, now time.Time) string {
	parts := []string{op}
	if len(refs) > 0 {
		parts = append(parts, refs[0].EnvID, refs[0].DatasetID)
		if len(refs) > 1 {
			parts = append(parts, fmt.Sprintf("and-%d-more", len(refs)-1))
		}
	}
	parts = append(parts, now.UTC().Format("20060102T150405.000Z"))
	return strings.Join(parts, "-")
}

// DefaultStoreID is the store id a restore uses when none is given.
func DefaultStoreID(now time.Time) string { return ids.TimestampID(now) }
