package dataset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"golang.org/x/sync/errgroup"
)

// RestoreRequestItem is one dataset of a restore request, as the user gave it.
type RestoreRequestItem struct {
	EnvID           string `json:"envId"`
	DatasetID       string `json:"datasetId"`
	SourceDatasetID string `json:"sourceDatasetId,omitempty"`
	// SourceEnvID picks the environment whose backup to use when the
	// location holds backups of the dataset id from several environments.
	SourceEnvID    string `json:"sourceEnvId,omitempty"`
	BackupLocation string `json:"backupLocation"`
	BackupID       string `json:"backupId,omitempty"`
	// Access names the role to assume for the location and its bucket's owner.
	backupstore.Access
}

// ValidateRestoreInput is a restore request.
type ValidateRestoreInput struct {
	Targets    []RestoreRequestItem `json:"targets"`
	NewStoreID string               `json:"newStoreId"`
}

// RestoreTarget is one dataset to restore, resolved to its backup.
type RestoreTarget struct {
	DatasetRef
	SourceDatasetID string               `json:"sourceDatasetId"`
	Location        backupstore.Location `json:"location"`
	ManifestKey     string               `json:"manifestKey"`
	BackupID        string               `json:"backupId"`
	ItemCount       int64                `json:"itemCount"`
	Bytes           int64                `json:"bytes"`
	// TableName is the new table in the new store.
	TableName string `json:"tableName"`
}

// RestoreEnvironment is one environment a restore switches to a new store.
type RestoreEnvironment struct {
	EnvID     string `json:"envId"`
	FromStore string `json:"fromStore"`
	// Datasets lists every dataset of the environment: all are paused while
	// its store switches, because all of them move to the new store.
	Datasets []string `json:"datasets"`
	// EmptyTables are the new store's tables for datasets not restored.
	EmptyTables []string `json:"emptyTables,omitempty"`
}

// ValidateRestoreResult is the restore plan.
type ValidateRestoreResult struct {
	Targets      []RestoreTarget      `json:"targets"`
	Environments []RestoreEnvironment `json:"environments"`
}

// ValidateRestore checks a restore request before anything is changed: the
// environments and datasets exist and are not held, the new store id is
// free, and each dataset has a complete backup whose manifest is consistent.
// Its work grows with the request (a listing and a manifest read per
// dataset), so it heartbeats, checks each bucket once and looks datasets up
// planLookups at a time; of several bad targets it names the first listed.
func (a *Datasets) ValidateRestore(ctx context.Context, in ValidateRestoreInput) (*ValidateRestoreResult, error) {
	if len(in.Targets) == 0 {
		return nil, activities.Invalid(errors.New("no datasets to restore"))
	}
	if err := ids.Validate("store", in.NewStoreID); err != nil {
		return nil, activities.Invalid(err)
	}
	hb := activities.KeepAlive(ctx, activities.HeartbeatInPause, nil)
	defer hb.Stop()
	envs := map[string]*RestoreEnvironment{}
	restored := map[DatasetRef]bool{}
	locs := make([]backupstore.Location, len(in.Targets))
	buckets := map[backupstore.Location]bool{} // by bucket and access
	for i, t := range in.Targets {
		ref := DatasetRef{EnvID: t.EnvID, DatasetID: t.DatasetID}
		if t.EnvID == "" || t.DatasetID == "" {
			return nil, activities.Invalid(fmt.Errorf("every dataset needs an environment id and a dataset id (got %q)", ref.String()))
		}
		if restored[ref] {
			return nil, activities.Invalid(fmt.Errorf("dataset %s is listed twice", ref))
		}
		restored[ref] = true
		loc, err := backupstore.ParseLocationWith(t.BackupLocation, t.Access)
		if err != nil {
			return nil, activities.Invalid(err)
		}
		locs[i] = loc
		if _, ok := envs[t.EnvID]; !ok {
			re, err := a.planEnvironment(ctx, t.EnvID, in.NewStoreID)
			if err != nil {
				return nil, err
			}
			envs[t.EnvID] = re
		}
		bkey := loc
		bkey.Prefix = ""
		if !buckets[bkey] {
			if err := a.checkBucket(ctx, loc); err != nil {
				return nil, err
			}
			buckets[bkey] = true
		}
	}
	// One walk per location, not one per dataset: a dataset's walk lists
	// every dataset folder beside it, so 1,000 datasets from one location
	// took a million listings (hours; past planCall's 15 minutes).
	found := map[backupstore.Location]map[string][]backupstore.ManifestRef{}
	for _, loc := range locs {
		if _, ok := found[loc]; !ok {
			all, err := backupstore.FindAllManifests(ctx, a.S3, loc)
			if err != nil {
				return nil, err
			}
			found[loc] = all
		}
	}
	out := &ValidateRestoreResult{Targets: make([]RestoreTarget, len(in.Targets))}
	errs := make([]error, len(in.Targets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(planLookups)
	for i, t := range in.Targets {
		g.Go(func() error {
			if _, err := a.Registry.GetDataset(gctx, t.EnvID, t.DatasetID); err != nil {
				errs[i] = activities.Classify(err)
				return errs[i]
			}
			source := t.SourceDatasetID
			if source == "" {
				source = t.DatasetID
			}
			m, key, err := a.chooseManifest(gctx, locs[i], found[locs[i]][source], source, t.SourceEnvID, t.EnvID, t.BackupID)
			if err != nil {
				errs[i] = err
				return err
			}
			out.Targets[i] = RestoreTarget{
				DatasetRef: DatasetRef{EnvID: t.EnvID, DatasetID: t.DatasetID}, SourceDatasetID: source, Location: locs[i],
				ManifestKey: key, BackupID: m.BackupID, ItemCount: m.ItemCount, Bytes: m.Bytes,
				TableName: a.Registry.TableName(t.EnvID, in.NewStoreID, t.DatasetID),
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		// The first failure cancels the rest, which then fail with the
		// context: report the first target that failed on its own.
		for _, e := range errs {
			if e != nil && !errors.Is(e, context.Canceled) {
				return nil, e
			}
		}
		return nil, err
	}
	envIDs := make([]string, 0, len(envs))
	for id := range envs {
		envIDs = append(envIDs, id)
	}
	sort.Strings(envIDs)
	for _, id := range envIDs {
		re := envs[id]
		for _, d := range re.Datasets {
			if !restored[DatasetRef{EnvID: id, DatasetID: d}] {
				re.EmptyTables = append(re.EmptyTables, a.Registry.TableName(id, in.NewStoreID, d))
			}
		}
		out.Environments = append(out.Environments, *re)
	}
	return out, nil
}

// planLookups is how many datasets ValidateBackup and ValidateRestore look
// up at once: DynamoDB and S3 take far more, and a wide request (1,000
// datasets) is then checked in seconds, not minutes.
const planLookups = 16

func (a *Datasets) planEnvironment(ctx context.Context, envID, newStore string) (*RestoreEnvironment, error) {
	env, err := a.Registry.GetEnvironment(ctx, envID)
	if err != nil {
		return nil, activities.Classify(err)
	}
	if _, taken := env.Stores[newStore]; taken {
		return nil, activities.Invalid(&registry.AlreadyExistsError{Kind: "store", Env: envID, ID: newStore})
	}
	all, err := a.Registry.ListDatasets(ctx, envID)
	if err != nil {
		return nil, err
	}
	re := &RestoreEnvironment{EnvID: envID, FromStore: env.ActiveStore}
	for _, d := range all {
		if d.Status != registry.StatusRunning {
			return nil, activities.Classify(&registry.HeldError{Env: envID, Dataset: d.ID, HeldBy: d.HeldBy, Status: d.Status})
		}
		re.Datasets = append(re.Datasets, d.ID)
	}
	return re, nil
}

// findBackup finds the backup a restore or a verification reads; the caller
// has checked that the bucket exists.
func (a *Datasets) findBackup(ctx context.Context, loc backupstore.Location, dataset, sourceEnv, targetEnv, backupID string) (*backupstore.Manifest, string, error) {
	refs, err := backupstore.FindManifests(ctx, a.S3, loc, dataset)
	if err != nil {
		return nil, "", err
	}
	return a.chooseManifest(ctx, loc, refs, dataset, sourceEnv, targetEnv, backupID)
}

// chooseManifest reads the manifest of the backup a restore or a
// verification reads among a dataset's refs (FindManifests).
func (a *Datasets) chooseManifest(ctx context.Context, loc backupstore.Location, refs []backupstore.ManifestRef, dataset, sourceEnv, targetEnv, backupID string) (*backupstore.Manifest, string, error) {
	ctx = loc.WithRole(ctx)
	refs = slices.Clone(refs) // shared between targets of one location
	// The newest matching folder may hold a backup still running or one
	// that failed (no manifest): fall back to the one before it.
	for {
		chosen, err := chooseBackup(refs, sourceEnv, targetEnv, backupID)
		if err != nil {
			if errors.Is(err, errNoBackup) {
				return nil, "", activities.Invalid(&backupstore.NoBackupError{Location: loc, Dataset: dataset, BackupID: backupID})
			}
			return nil, "", activities.Invalid(fmt.Errorf("backup location %s: %w", loc, err))
		}
		m, err := backupstore.ReadManifest(ctx, a.S3, loc.Bucket, chosen.Key)
		if err != nil {
			if backupstore.IsNotFound(err) {
				refs = slices.DeleteFunc(refs, func(r backupstore.ManifestRef) bool { return r.Key == chosen.Key })
				continue
			}
			var bad *backupstore.BadManifestError
			if errors.As(err, &bad) {
				return nil, "", activities.Corrupt(err)
			}
			return nil, "", err
		}
		if m.DatasetID != dataset {
			return nil, "", activities.Corrupt(fmt.Errorf("manifest s3://%s/%s is for dataset %q, not %q", loc.Bucket, chosen.Key, m.DatasetID, dataset))
		}
		return m, chosen.Key, nil
	}
}

// StoreInput names a store of an environment.
type StoreInput struct {
	EnvID      string `json:"envId"`
	StoreID    string `json:"storeId"`
	WorkflowID string `json:"workflowId,omitempty"`
}

// CreateStore records the restore's new store as CREATING.
func (a *Datasets) CreateStore(ctx context.Context, in StoreInput) (*HoldResult, error) {
	if err := a.Registry.CreateStore(ctx, in.EnvID, in.StoreID, in.WorkflowID, a.now()); err != nil {
		return nil, activities.Classify(err)
	}
	return &HoldResult{Changed: true, At: a.now()}, nil
}

// SwitchStoreInput switches an environment from one store to another.
type SwitchStoreInput struct {
	EnvID     string `json:"envId"`
	FromStore string `json:"fromStore"`
	ToStore   string `json:"toStore"`
}

// SwitchStore makes the new store active in one conditional update.
func (a *Datasets) SwitchStore(ctx context.Context, in SwitchStoreInput) (*HoldResult, error) {
	if err := a.Registry.SwitchStore(ctx, in.EnvID, in.FromStore, in.ToStore); err != nil {
		return nil, activities.Classify(err)
	}
	return &HoldResult{Changed: true, At: a.now()}, nil
}

// FailStore marks a store a restore could not finish as FAILED. The store's
// tables are kept for inspection; the environment never pointed at it.
func (a *Datasets) FailStore(ctx context.Context, in StoreInput) (*HoldResult, error) {
	if err := a.Registry.FailStore(ctx, in.EnvID, in.StoreID); err != nil {
		return nil, err
	}
	return &HoldResult{Changed: true, At: a.now()}, nil
}

// TableInput names a DynamoDB table.
type TableInput struct {
	TableName string `json:"tableName"`
}

// CreateEmptyTable creates an empty dataset table with PITR on (idempotent).
// It heartbeats while DynamoDB creates the table and makes PITR available.
func (a *Datasets) CreateEmptyTable(ctx context.Context, in TableInput) (*HoldResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatInPause, nil)
	defer hb.Stop()
	if err := a.Registry.EnsureDataTable(ctx, in.TableName); err != nil {
		return nil, err
	}
	return &HoldResult{Changed: true, At: a.now()}, nil
}

var errNoBackup = errors.New("no backup")

// chooseBackup picks the latest matching backup (refs are oldest first).
// A dataset id backed up from several environments under one location is
// ambiguous unless the source environment is given or one of them is the
// target environment.
func chooseBackup(refs []backupstore.ManifestRef, sourceEnv, targetEnv, backupID string) (*backupstore.ManifestRef, error) {
	var matching []backupstore.ManifestRef
	envs := map[string]bool{}
	for _, r := range refs {
		if (backupID == "" || r.BackupID == backupID) && (sourceEnv == "" || r.Env == sourceEnv) {
			matching = append(matching, r)
			envs[r.Env] = true
		}
	}
	if len(envs) > 1 {
		if !envs[targetEnv] {
			names := make([]string, 0, len(envs))
			for e := range envs {
				names = append(names, e)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("backups of this dataset from environments %s: choose one with sourceEnvId (--source-env-id)", strings.Join(names, ", "))
		}
		kept := matching[:0]
		for _, r := range matching {
			if r.Env == targetEnv {
				kept = append(kept, r)
			}
		}
		matching = kept
	}
	if len(matching) == 0 {
		return nil, errNoBackup
	}
	return &matching[len(matching)-1], nil
}
