package dataset

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
)

// FindBackupToVerifyInput names the backup a DatasetVerify run checks, as
// the user gave it.
type FindBackupToVerifyInput struct {
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

// FindBackupToVerifyResult is the backup found, with what its manifest
// records.
type FindBackupToVerifyResult struct {
	Location    backupstore.Location `json:"location"`
	ManifestKey string               `json:"manifestKey"`
	ManifestURL string               `json:"manifestUrl"`
	BackupID    string               `json:"backupId"`
	// EnvID, StoreID and DatasetID are the backed-up dataset's, from the
	// manifest.
	EnvID     string    `json:"envId"`
	StoreID   string    `json:"storeId"`
	DatasetID string    `json:"datasetId"`
	CutTime   time.Time `json:"cutTime"`
	Format    int       `json:"format"`
	ItemCount int64     `json:"itemCount"`
	Bytes     int64     `json:"bytes"`
	Objects   int       `json:"objects"`
}

// FindBackupToVerify resolves a dataset's backup under a location the way a
// restore into the environment would (findBackup: the bucket exists, the
// latest complete backup unless one is named, the source environment when
// the location holds several), reading only folder listings and the
// manifest. A missing bucket or backup is InvalidInput; an unreadable
// manifest is BackupCorrupt.
func (a *Datasets) FindBackupToVerify(ctx context.Context, in FindBackupToVerifyInput) (*FindBackupToVerifyResult, error) {
	if err := ids.Validate("environment", in.EnvID); err != nil {
		return nil, activities.Invalid(err)
	}
	if err := ids.Validate("dataset", in.DatasetID); err != nil {
		return nil, activities.Invalid(err)
	}
	if in.SourceEnvID != "" {
		if err := ids.Validate("environment", in.SourceEnvID); err != nil {
			return nil, activities.Invalid(err)
		}
	}
	loc, err := backupstore.ParseLocationWith(in.BackupLocation, in.Access)
	if err != nil {
		return nil, activities.Invalid(err)
	}
	if err := a.checkBucket(ctx, loc); err != nil {
		return nil, err
	}
	m, key, err := a.findBackup(ctx, loc, in.DatasetID, in.SourceEnvID, in.EnvID, in.BackupID)
	if err != nil {
		return nil, err
	}
	return &FindBackupToVerifyResult{
		Location: loc, ManifestKey: key, ManifestURL: fmt.Sprintf("s3://%s/%s", loc.Bucket, key),
		BackupID: m.BackupID, EnvID: m.EnvironmentID, StoreID: m.StoreID, DatasetID: m.DatasetID,
		CutTime: m.CutTime, Format: m.Format, ItemCount: m.ItemCount, Bytes: m.Bytes, Objects: len(m.Objects),
	}, nil
}
