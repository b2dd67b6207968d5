package dataset

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// VerifyName is the DatasetVerify workflow's type name, as given to
// `temporal workflow start --type`.
const VerifyName = "DatasetVerify"

// OpVerify is DatasetVerify's LifeboatOperation search attribute and
// Progress.Operation.
const OpVerify = "verify"

// VerifyInput is the DatasetVerify workflow's input: one dataset's backup
// under a backup location, found as restore-dataset would find it.
type VerifyInput struct {
	BackupLocation string `json:"backupLocation"`
	EnvID          string `json:"envId"`
	DatasetID      string `json:"datasetId"`
	// SourceEnvID picks the environment whose backup to check when the
	// location holds backups of the dataset id from several environments.
	SourceEnvID string `json:"sourceEnvId,omitempty"`
	// BackupID picks one backup; the latest complete one when empty.
	BackupID string `json:"backupId,omitempty"`
	// Access names the role to assume for the location and its bucket's owner.
	backupstore.Access
}

// VerifyResult is what a DatasetVerify run checked: every object of the
// backup was downloaded, its items counted and its checksum compared with
// the manifest, and they all matched.
type VerifyResult struct {
	// EnvID, StoreID and DatasetID are the backed-up dataset's (the
	// manifest's).
	EnvID       string    `json:"envId"`
	StoreID     string    `json:"storeId"`
	DatasetID   string    `json:"datasetId"`
	BackupID    string    `json:"backupId"`
	CutTime     time.Time `json:"cutTime"`
	ManifestURL string    `json:"manifestUrl"`
	Objects     int       `json:"objects"`
	ItemCount   int64     `json:"itemCount"`
	Bytes       int64     `json:"bytes"`
}

// VerifyWorkflowID names a verify run after its dataset and start time.
func VerifyWorkflowID(in VerifyInput, now time.Time) string {
	return workflowID(OpVerify, []datasetact.DatasetRef{{EnvID: in.EnvID, DatasetID: in.DatasetID}}, now)
}

// Verify checks one backup deeply, without touching the dataset:
// find the backup (the latest complete one unless named), then download
// every data object, count its items and compare its checksum with the
// manifest (files.VerifyBackup, which heartbeats and resumes after the last
// object checked). The verdict, sound or not, is written beside the
// manifest as verified.json. A backup that does not match fails the run with
// BackupCorrupt naming the object and what differs; a missing bucket or
// backup fails it with InvalidInput before anything is read.
func Verify(ctx workflow.Context, in VerifyInput) (*VerifyResult, error) {
	p, err := trackProgress(ctx, OpVerify, []datasetact.DatasetRef{{EnvID: in.EnvID, DatasetID: in.DatasetID}})
	if err != nil {
		return nil, err
	}
	dp := p.dataset(in.EnvID, in.DatasetID)

	var found datasetact.FindBackupToVerifyResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflows.ShortAWSCall), datasets.FindBackupToVerify,
		datasetact.FindBackupToVerifyInput(in)).Get(ctx, &found)
	if err != nil {
		dp.Step = workflows.StepFailed
		return nil, fail(ctx, p, err)
	}
	p.Validated = true
	dp.Items, dp.Bytes = found.ItemCount, found.Bytes
	dp.Detail = fmt.Sprintf("backup %s: %d objects, %d items, %d bytes to check: %s", found.BackupID, found.Objects, found.ItemCount, found.Bytes, found.ManifestURL)

	workflows.SetStep(ctx, p, StepVerifying)
	dp.Step = StepVerifying
	var checked datasetact.VerifyBackupResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, objectScan), files.VerifyBackup, datasetact.VerifyBackupInput{
		Location: found.Location, ManifestKey: found.ManifestKey, Record: true,
	}).Get(ctx, &checked)
	if err != nil {
		dp.Step = workflows.StepFailed
		return nil, fail(ctx, p, err)
	}
	dp.Step, dp.Items, dp.Bytes = workflows.StepDone, checked.ItemCount, checked.Bytes
	dp.Detail = fmt.Sprintf("backup %s is sound: %d objects, %d items, %d bytes checked", found.BackupID, checked.Objects, checked.ItemCount, checked.Bytes)
	workflows.SetStep(ctx, p, workflows.StepDone)
	return &VerifyResult{
		EnvID: found.EnvID, StoreID: found.StoreID, DatasetID: found.DatasetID, BackupID: found.BackupID,
		CutTime: found.CutTime, ManifestURL: found.ManifestURL,
		Objects: checked.Objects, ItemCount: checked.ItemCount, Bytes: checked.Bytes,
	}, nil
}
