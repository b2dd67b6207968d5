package dataset

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// PlanRestoreTestInput names what a restore test restores: datasets of an
// environment (all of them when none is named) and their backups under a
// location (the newest complete one of each, or BackupID).
type PlanRestoreTestInput struct {
	EnvID          string   `json:"envId"`
	DatasetIDs     []string `json:"datasetIds,omitempty"`
	BackupLocation string   `json:"backupLocation"`
	BackupID       string   `json:"backupId,omitempty"`
	// Access names the role to assume for the location and its bucket's owner.
	backupstore.Access
}

// RestoreTestTarget is one dataset of a restore test and the backup it
// restores.
type RestoreTestTarget struct {
	DatasetID   string               `json:"datasetId"`
	Location    backupstore.Location `json:"location"`
	ManifestKey string               `json:"manifestKey"`
	ManifestURL string               `json:"manifestUrl"`
	BackupID    string               `json:"backupId"`
	ItemCount   int64                `json:"itemCount"`
	Bytes       int64                `json:"bytes"`
	Objects     int                  `json:"objects"`
}

// PlanRestoreTestResult is the checked request.
type PlanRestoreTestResult struct {
	Targets []RestoreTestTarget `json:"targets"`
}

// PlanRestoreTest checks a restore test request before anything is made:
// the environment exists (and is not itself a scratch environment), the
// datasets exist, the bucket exists and each dataset has a complete backup
// taken from this environment. Refusals are InvalidInput.
func (a *Datasets) PlanRestoreTest(ctx context.Context, in PlanRestoreTestInput) (*PlanRestoreTestResult, error) {
	if err := ids.Validate("environment", in.EnvID); err != nil {
		return nil, activities.Invalid(err)
	}
	loc, err := backupstore.ParseLocationWith(in.BackupLocation, in.Access)
	if err != nil {
		return nil, activities.Invalid(err)
	}
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	env, err := a.Registry.GetEnvironment(ctx, in.EnvID)
	if err != nil {
		return nil, activities.Classify(err)
	}
	if env.IsScratch() {
		return nil, activities.Invalid(fmt.Errorf("environment %q is a restore test's scratch environment", in.EnvID))
	}
	names := in.DatasetIDs
	if len(names) == 0 {
		all, err := a.Registry.ListDatasets(ctx, in.EnvID)
		if err != nil {
			return nil, err
		}
		for _, d := range all {
			names = append(names, d.ID)
		}
		if len(names) == 0 {
			return nil, activities.Invalid(fmt.Errorf("environment %q has no datasets to restore-test", in.EnvID))
		}
	}
	seen := map[string]bool{}
	for _, d := range names {
		if err := ids.Validate("dataset", d); err != nil {
			return nil, activities.Invalid(err)
		}
		if seen[d] {
			return nil, activities.Invalid(fmt.Errorf("dataset %q is listed twice", d))
		}
		seen[d] = true
		if _, err := a.Registry.GetDataset(ctx, in.EnvID, d); err != nil {
			return nil, activities.Classify(err)
		}
	}
	if err := a.checkBucket(ctx, loc); err != nil {
		return nil, err
	}
	// One walk of the location for every dataset (a walk per dataset lists
	// every dataset folder each time: quadratic in the environment's width).
	all, err := backupstore.FindAllManifests(ctx, a.S3, loc)
	if err != nil {
		return nil, err
	}
	out := &PlanRestoreTestResult{}
	for _, d := range names {
		// Only this environment's backups: a restore test proves its own.
		m, key, err := a.chooseManifest(ctx, loc, all[d], d, in.EnvID, in.EnvID, in.BackupID)
		if err != nil {
			return nil, err
		}
		out.Targets = append(out.Targets, RestoreTestTarget{
			DatasetID: d, Location: loc, ManifestKey: key, ManifestURL: fmt.Sprintf("s3://%s/%s", loc.Bucket, key),
			BackupID: m.BackupID, ItemCount: m.ItemCount, Bytes: m.Bytes, Objects: len(m.Objects),
		})
	}
	return out, nil
}

// ScratchAPI is the part of the DynamoDB client restore tests need
// besides the registry's: reading restored items, deleting scratch tables
// and records.
type ScratchAPI interface {
	registry.ScratchDeleteAPI
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// RestoreTests makes, checks and removes the scratch environments dataset
// restore tests restore into.
type RestoreTests struct {
	Registry *registry.Registry
	DB       ScratchAPI
	S3       backupstore.API
}

// ScratchEnvInput names a restore test's scratch environment.
type ScratchEnvInput struct {
	ScratchEnvID string   `json:"scratchEnvId"`
	SourceEnvID  string   `json:"sourceEnvId"`
	DatasetIDs   []string `json:"datasetIds,omitempty"`
	// WorkflowID is the restore test's: its mark on every scratch record.
	WorkflowID string `json:"workflowId"`
}

// ScratchEnvResult says what was done.
type ScratchEnvResult struct {
	// Tables are the scratch tables deleted (or found gone).
	Tables []string `json:"tables,omitempty"`
}

// CreateScratchEnv registers the scratch environment (marked as the
// restore test's) with the datasets to restore, without tables.
func (a *RestoreTests) CreateScratchEnv(ctx context.Context, in ScratchEnvInput) (*ScratchEnvResult, error) {
	if _, err := a.Registry.CreateScratchEnvironment(ctx, in.ScratchEnvID, in.SourceEnvID, in.WorkflowID, in.DatasetIDs, time.Now()); err != nil {
		return nil, activities.Classify(err)
	}
	return &ScratchEnvResult{}, nil
}

// DeleteScratchEnv deletes the scratch environment: its tables, then its
// records (registry.DeleteScratchEnvironment). A table DynamoDB is still
// creating or importing is retried until it can go; an environment that
// is not this workflow's scratch environment is refused, not retried.
func (a *RestoreTests) DeleteScratchEnv(ctx context.Context, in ScratchEnvInput) (*ScratchEnvResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	out := &ScratchEnvResult{}
	err := a.Registry.DeleteScratchEnvironment(ctx, a.DB, in.ScratchEnvID, in.WorkflowID, func(table string) {
		out.Tables = append(out.Tables, table)
		hb.Record(out)
	})
	var ns *registry.NotScratchError
	if errors.As(err, &ns) {
		return nil, activities.Invalid(err)
	}
	if err != nil {
		return nil, err
	}
	activity.GetLogger(ctx).Info("Scratch environment deleted", "env", in.ScratchEnvID, "tables", len(out.Tables))
	return out, nil
}

// DefaultSampleSize is how many items of each dataset a restore test
// compares when not told.
const DefaultSampleSize = 100

// SampleRestoredInput names a restored table and the backup it came from.
type SampleRestoredInput struct {
	DatasetID   string               `json:"datasetId"`
	Location    backupstore.Location `json:"location"`
	ManifestKey string               `json:"manifestKey"`
	TableName   string               `json:"tableName"`
	SampleSize  int                  `json:"sampleSize"`
	// Seed picks the sample (the workflow id): a retry samples the same.
	Seed string `json:"seed"`
}

// SampleRestoredResult is what the sample covered.
type SampleRestoredResult struct {
	Sampled int   `json:"sampled"` // items compared
	Objects int   `json:"objects"` // data files read
	Bytes   int64 `json:"bytes"`
}

// SampleRestored compares a sample of a backup's items with the restored
// table: data files are read in a random order (seeded) until the sample
// is full, never more; each file read is checked against the manifest
// (size, item count, checksum), and each sampled item is read back from
// the table (a consistent GetItem by its key) and compared attribute by
// attribute. A file that does not match its manifest fails with
// BackupCorrupt, an item missing or different with RestoreTestFailed, each
// naming the file or the item.
func (a *RestoreTests) SampleRestored(ctx context.Context, in SampleRestoredInput) (*SampleRestoredResult, error) {
	ctx = in.Location.WithRole(ctx)
	m, err := backupstore.ReadManifest(ctx, a.S3, in.Location.Bucket, in.ManifestKey)
	if err != nil {
		var bad *backupstore.BadManifestError
		if errors.As(err, &bad) {
			return nil, activities.Corrupt(err)
		}
		return nil, err
	}
	size := in.SampleSize
	if size <= 0 {
		size = DefaultSampleSize
	}
	h := fnv.New64a()
	h.Write([]byte(in.Seed + "/" + in.DatasetID))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x6c696665626f6174))
	var files []backupstore.ObjectDigest
	for _, o := range m.Objects {
		if o.Items > 0 {
			files = append(files, o)
		}
	}
	rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })

	out := &SampleRestoredResult{}
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	for _, o := range files {
		if out.Sampled >= size {
			break
		}
		hb.Record(out)
		got, lines, err := backupstore.SampleObject(ctx, a.S3, in.Location.Bucket, o.Key, size-out.Sampled, rng, nil)
		if err != nil {
			var bad *backupstore.BadDataError
			switch {
			case backupstore.IsNotFound(err):
				return nil, activities.Corrupt(fmt.Errorf("backup %s: object missing: %w", m.BackupID, err))
			case errors.As(err, &bad):
				return nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s", m.BackupID, in.Location.Bucket, err))
			}
			return nil, err
		}
		if why := o.Matches(got, m.Format); why != "" {
			return nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s does not match the manifest: %s", m.BackupID, in.Location.Bucket, o.Key, why))
		}
		out.Objects++
		out.Bytes += got.Size
		for _, line := range lines {
			if err := a.compareItem(ctx, in, m.BackupID, o.Key, line); err != nil {
				return nil, err
			}
			out.Sampled++
		}
	}
	return out, nil
}

// compareItem reads one backed-up item back from the restored table.
func (a *RestoreTests) compareItem(ctx context.Context, in SampleRestoredInput, backupID, file string, line []byte) error {
	want, err := backupstore.DecodeExportItem(line)
	if err != nil {
		return activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s: %w", backupID, in.Location.Bucket, file, err))
	}
	key, ok := want[registry.DataKeyAttribute]
	if !ok {
		return activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s holds an item without a %q attribute", backupID, in.Location.Bucket, file, registry.DataKeyAttribute))
	}
	got, err := a.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(in.TableName), Key: map[string]types.AttributeValue{registry.DataKeyAttribute: key}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("read back an item of %s: %w", in.TableName, err)
	}
	name := backupstore.CanonicalItem(map[string]types.AttributeValue{"": key})
	if k, ok := key.(*types.AttributeValueMemberS); ok {
		name = fmt.Sprintf("%q", k.Value)
	}
	if got.Item == nil {
		return failed("dataset %s: item %s of backup %s (%s) is missing from the restored table %s", in.DatasetID, name, backupID, path.Base(file), in.TableName)
	}
	if w, g := backupstore.CanonicalItem(want), backupstore.CanonicalItem(got.Item); w != g {
		return failed("dataset %s: item %s differs between backup %s (%s) and the restored table %s: backup %s, restored %s",
			in.DatasetID, name, backupID, path.Base(file), in.TableName, clip(w), clip(g))
	}
	return nil
}

func failed(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrRestoreTestFailed, nil)
}

// clip keeps an item's text short enough for a one-line reason.
func clip(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// RecordRestoreTestInput is a restore test's outcome for one backup.
type RecordRestoreTestInput struct {
	Location    backupstore.Location    `json:"location"`
	ManifestKey string                  `json:"manifestKey"`
	Record      backupstore.RestoreTest `json:"record"`
}

// RecordRestoreTestResult is empty: the record is written.
type RecordRestoreTestResult struct{}

// RecordRestoreTest writes restore-test.json beside the backup's manifest.
func (a *BackupFiles) RecordRestoreTest(ctx context.Context, in RecordRestoreTestInput) (*RecordRestoreTestResult, error) {
	ctx = in.Location.WithRole(ctx)
	r := in.Record
	if err := backupstore.WriteRestoreTest(ctx, a.S3, in.Location.Bucket, path.Dir(in.ManifestKey), &r); err != nil {
		return nil, err
	}
	return &RecordRestoreTestResult{}, nil
}
