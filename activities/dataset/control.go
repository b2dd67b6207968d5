// Package dataset holds the activities that back up and restore DynamoDB
// datasets, grouped by what they act on: datasets in the control table
// (Datasets: control.go, stores.go, verify.go), DynamoDB exports and imports
// (DynamoDB) and backup files in S3 (BackupFiles).
package dataset

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// DatasetsS3 is the S3 client as dataset validation and restores need it.
type DatasetsS3 interface {
	backupstore.API
	backupstore.BucketAPI
}

// Datasets acts on environments and datasets in the control table.
type Datasets struct {
	Registry *registry.Registry
	S3       DatasetsS3
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

func (a *Datasets) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// DatasetRef names a dataset.
type DatasetRef struct {
	EnvID     string `json:"envId"`
	DatasetID string `json:"datasetId"`
}

func (d DatasetRef) String() string { return d.EnvID + "/" + d.DatasetID }

// BackupTarget is one dataset to back up, as validated.
type BackupTarget struct {
	DatasetRef
	StoreID   string               `json:"storeId"`
	TableName string               `json:"tableName"`
	Location  backupstore.Location `json:"location"`
	// PointInTime, when set, is exported from PITR without pausing writes.
	PointInTime *time.Time `json:"pointInTime,omitempty"`
	// Bucket is the location's bucket as validated (region, versioning,
	// Object Lock), recorded in the manifest.
	Bucket *backupstore.Bucket `json:"bucket,omitempty"`
	// KMSKeyID, when set, encrypts the export and the manifest with SSE-KMS.
	KMSKeyID string `json:"kmsKeyId,omitempty"`
}

// ValidateBackupInput is the request as the user gave it.
type ValidateBackupInput struct {
	Targets []BackupRequestItem `json:"targets"`
}

// BackupRequestItem is one dataset of a backup request.
type BackupRequestItem struct {
	EnvID          string     `json:"envId"`
	DatasetID      string     `json:"datasetId"`
	BackupLocation string     `json:"backupLocation"`
	PointInTime    *time.Time `json:"pointInTime,omitempty"`
	// AllowUnversioned accepts a bucket without versioning.
	AllowUnversioned bool `json:"allowUnversioned,omitempty"`
	// KMSKeyID encrypts what the backup writes with this KMS key.
	KMSKeyID string `json:"kmsKeyId,omitempty"`
	// Access names the role to assume for the location and its bucket's owner.
	backupstore.Access
	// CopyTo are the locations the backup will be copied to: checked here
	// too, so that a copy destination that cannot work is refused before
	// anything is paused rather than reported after the backup.
	CopyTo []CopyTarget `json:"copyTo,omitempty"`
}

// CopyTarget is a copy destination as a backup request names it.
type CopyTarget struct {
	Location string `json:"location"`
	backupstore.Access
}

// ValidateBackupResult is the request resolved against the control table.
type ValidateBackupResult struct {
	Targets []BackupTarget `json:"targets"`
}

// ValidateBackup checks every dataset of a backup request before anything is
// paused: the datasets exist and are not held, the locations parse, their
// buckets exist and keep versions (unless the request allows otherwise),
// and points in time lie inside the PITR window. Each bucket's region,
// versioning and Object Lock are read once and travel with the targets.
func (a *Datasets) ValidateBackup(ctx context.Context, in ValidateBackupInput) (*ValidateBackupResult, error) {
	if len(in.Targets) == 0 {
		return nil, activities.Invalid(errors.New("no datasets to back up"))
	}
	hb := activities.KeepAlive(ctx, activities.HeartbeatInPause, nil)
	defer hb.Stop()
	seen := map[DatasetRef]bool{}
	buckets := map[backupstore.Location]*backupstore.Bucket{} // by bucket and access
	envs := map[string]*registry.Environment{}
	out := &ValidateBackupResult{}
	for _, t := range in.Targets {
		ref := DatasetRef{EnvID: t.EnvID, DatasetID: t.DatasetID}
		if t.EnvID == "" || t.DatasetID == "" {
			return nil, activities.Invalid(fmt.Errorf("every dataset needs an environment id and a dataset id (got %q)", ref.String()))
		}
		if seen[ref] {
			return nil, activities.Invalid(fmt.Errorf("dataset %s is listed twice", ref))
		}
		seen[ref] = true
		loc, err := backupstore.ParseLocationWith(t.BackupLocation, t.Access)
		if err != nil {
			return nil, activities.Invalid(err)
		}
		env, ok := envs[t.EnvID]
		if !ok {
			if env, err = a.Registry.GetEnvironment(ctx, t.EnvID); err != nil {
				return nil, activities.Classify(err)
			}
			envs[t.EnvID] = env
		}
		ds, err := a.Registry.GetDataset(ctx, t.EnvID, t.DatasetID)
		if err != nil {
			return nil, activities.Classify(err)
		}
		table := a.Registry.TableName(t.EnvID, env.ActiveStore, t.DatasetID)
		if t.PointInTime != nil {
			if err := a.checkPointInTime(ctx, ref, table, *t.PointInTime); err != nil {
				return nil, err
			}
		} else if ds.Status != registry.StatusRunning {
			return nil, activities.Classify(&registry.HeldError{Env: t.EnvID, Dataset: t.DatasetID, HeldBy: ds.HeldBy, Status: ds.Status})
		}
		bkey := loc
		bkey.Prefix = ""
		b, ok := buckets[bkey]
		if !ok {
			if b, err = a.readBucket(ctx, loc); err != nil {
				return nil, err
			}
			buckets[bkey] = b
		}
		bucket := *b // each target records its own AllowUnversioned
		if err := bucket.Require(loc.Bucket, t.AllowUnversioned); err != nil {
			return nil, activities.Invalid(err)
		}
		for _, c := range t.CopyTo {
			dst, err := backupstore.ParseLocationWith(c.Location, c.Access)
			if err != nil {
				return nil, activities.Invalid(fmt.Errorf("dataset %s: copy destination: %w", ref, err))
			}
			if dst.Bucket == loc.Bucket && dst.Prefix == loc.Prefix {
				return nil, activities.Invalid(fmt.Errorf("dataset %s: copy destination %s is the backup location itself", ref, dst))
			}
			dkey := dst
			dkey.Prefix = ""
			db, ok := buckets[dkey]
			if !ok {
				// With the destination's own role: the copy writes as it.
				if db, err = a.readBucket(ctx, dst); err != nil {
					return nil, err
				}
				buckets[dkey] = db
			}
			if err := db.Require(dst.Bucket, t.AllowUnversioned); err != nil {
				return nil, activities.Invalid(fmt.Errorf("copy destination: %w", err))
			}
		}
		out.Targets = append(out.Targets, BackupTarget{
			DatasetRef: ref, StoreID: env.ActiveStore, TableName: table, Location: loc, PointInTime: t.PointInTime,
			Bucket: &bucket, KMSKeyID: t.KMSKeyID,
		})
	}
	return out, nil
}

func (a *Datasets) checkPointInTime(ctx context.Context, ref DatasetRef, table string, pit time.Time) error {
	w, err := a.Registry.PointInTimeWindow(ctx, table)
	if err != nil {
		return err
	}
	if !w.Enabled {
		return activities.Invalid(fmt.Errorf("dataset %s: point-in-time recovery is not enabled on %s", ref, table))
	}
	now := a.now()
	if pit.After(now) || pit.Before(w.Earliest) {
		return activities.Invalid(fmt.Errorf("dataset %s: point in time %s is outside the recovery window %s .. %s",
			ref, pit.UTC().Format(time.RFC3339), w.Earliest.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	return nil
}

func (a *Datasets) checkBucket(ctx context.Context, loc backupstore.Location) error {
	_, err := a.S3.HeadBucket(loc.WithRole(ctx), &s3.HeadBucketInput{Bucket: aws.String(loc.Bucket)})
	if err == nil {
		return nil
	}
	if backupstore.IsNotFound(err) {
		return activities.Invalid(fmt.Errorf("backup location %s: bucket %q does not exist", loc, loc.Bucket))
	}
	if err := activities.InvalidAccess(loc, err); err != nil {
		return err
	}
	return fmt.Errorf("check bucket %s: %w", loc.Bucket, err)
}

// readBucket reads what a backup needs to know of its bucket.
func (a *Datasets) readBucket(ctx context.Context, loc backupstore.Location) (*backupstore.Bucket, error) {
	b, err := backupstore.CheckBucket(ctx, a.S3, loc)
	var nb *backupstore.NoBucketError
	if errors.As(err, &nb) {
		return nil, activities.Invalid(err)
	}
	if aerr := activities.InvalidAccess(loc, err); aerr != nil {
		return nil, aerr
	}
	return b, err
}

// HoldInput names a dataset and the workflow that holds (or will hold) it.
type HoldInput struct {
	DatasetRef
	Holder string `json:"holder"`
}

// HoldResult says what a hold operation did.
type HoldResult struct {
	Changed bool      `json:"changed"`
	At      time.Time `json:"at"`
}

// Pause stops new writes to a dataset: RUNNING becomes PAUSING, held by the
// calling workflow. Once it returns, the write gate refuses every write.
func (a *Datasets) Pause(ctx context.Context, in HoldInput) (*HoldResult, error) {
	now := a.now()
	if err := a.Registry.Pause(ctx, in.EnvID, in.DatasetID, in.Holder, now); err != nil {
		return nil, activities.Classify(err)
	}
	activity.GetLogger(ctx).Info("Dataset pausing", "dataset", in.DatasetRef.String(), "holder", in.Holder)
	return &HoldResult{Changed: true, At: now}, nil
}

// DrainInput bounds the wait for in-flight writes.
type DrainInput struct {
	HoldInput
	Deadline time.Time `json:"deadline"`
}

// WaitForDrain confirms that no write can still commit and marks the dataset
// PAUSED. Gate writes are transactions conditioned on the dataset being
// RUNNING, so once the pause is committed and still held by this workflow,
// every earlier write has committed or failed. Past the deadline it fails
// with DrainTimeout, and the workflow resumes writes.
func (a *Datasets) WaitForDrain(ctx context.Context, in DrainInput) (*HoldResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatInPause, nil)
	defer hb.Stop()
	for {
		err := a.Registry.MarkPaused(ctx, in.EnvID, in.DatasetID, in.Holder)
		if err == nil {
			return &HoldResult{Changed: true, At: a.now()}, nil
		}
		var nh *registry.NotHolderError
		if errors.As(err, &nh) {
			return nil, activities.Classify(err)
		}
		if !in.Deadline.IsZero() && a.now().After(in.Deadline) {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("dataset %s did not drain by %s: %v", in.DatasetRef, in.Deadline.UTC().Format(time.RFC3339), err),
				activities.ErrDrainTimeout, err)
		}
		hb.Record(err.Error())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Resume returns a dataset held by the workflow to RUNNING. It does nothing
// for a dataset the workflow does not hold, so it is safe in compensation.
func (a *Datasets) Resume(ctx context.Context, in HoldInput) (*HoldResult, error) {
	changed, err := a.Registry.Resume(ctx, in.EnvID, in.DatasetID, in.Holder)
	if err != nil {
		return nil, err
	}
	if changed {
		activity.GetLogger(ctx).Info("Dataset resumed", "dataset", in.DatasetRef.String(), "holder", in.Holder)
	}
	return &HoldResult{Changed: changed, At: a.now()}, nil
}
