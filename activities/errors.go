// Package activities holds Lifeboat's Temporal activities, one package per
// domain (dataset, redis, ebs), and what they share: the error types with
// the one non-retryable list (errors.go) and the heartbeat helper
// (heartbeat.go).
package activities

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// Application error types. Workflows and clients match on these; none of them
// is retried, because retrying cannot change the outcome.
const (
	ErrInvalidInput  = "InvalidInput"  // bad request: nothing was changed
	ErrDatasetHeld   = "DatasetHeld"   // another workflow holds the dataset
	ErrDrainTimeout  = "DrainTimeout"  // writes did not drain in time
	ErrExportFailed  = "ExportFailed"  // DynamoDB reported the export failed
	ErrImportFailed  = "ImportFailed"  // DynamoDB reported the import failed
	ErrBackupCorrupt = "BackupCorrupt" // a backup's objects do not match its manifest
	ErrStoreConflict = "StoreConflict" // the environment's store changed under a restore

	ErrRedisNodeFailed   = "RedisNodeFailed"   // a Redis node's backup or restore failed; the message names the node
	ErrRedisClusterHeld  = "RedisClusterHeld"  // another workflow is backing up or restoring the Redis cluster
	ErrChecksumMismatch  = "ChecksumMismatch"  // a downloaded backup file does not match the cluster manifest
	ErrNoStartCommand    = "NoStartCommand"    // the node's sidecar cannot stop and start Redis
	ErrSidecarNotRunning = "SidecarNotRunning" // no sidecar polls a node's task queue

	ErrEC2Rejected    = "EC2Rejected"    // EC2 refused the request as invalid: retrying cannot help
	ErrSnapshotFailed = "SnapshotFailed" // a snapshot went to the error state
	ErrRestoreFailed  = "RestoreFailed"  // a restored volume failed or a device is taken

	ErrRestoreTestFailed = "RestoreTestFailed"  // a restore test's check found the restored copy wrong
	ErrCheckCommand      = "CheckCommandFailed" // a restore test's check command exited non-zero
	// ErrCheckCommandsOff: the worker does not run check commands
	// (--allow-check-commands not given).
	ErrCheckCommandsOff = "CheckCommandsDisabled"

	// ErrSnapshotFailures is the error type of a snapshot workflow that
	// finished its work but some of it failed (an instance, a copy, a
	// region). Workflows raise it, not activities; the error's details hold
	// the workflow's full result, so nothing done is lost from view.
	ErrSnapshotFailures = "SnapshotFailures"
)

// NonRetryable lists the error types activity retry policies must not retry,
// the one list for every domain. Throttling (EC2's RequestLimitExceeded) is
// not in it: the SDK backs off first, then the activity's retry policy.
var NonRetryable = []string{
	ErrInvalidInput, ErrDatasetHeld, ErrDrainTimeout, ErrExportFailed,
	ErrImportFailed, ErrBackupCorrupt, ErrStoreConflict,
	ErrRedisNodeFailed, ErrRedisClusterHeld, ErrChecksumMismatch, ErrNoStartCommand, ErrSidecarNotRunning,
	ErrEC2Rejected, ErrSnapshotFailed, ErrRestoreFailed,
	ErrRestoreTestFailed, ErrCheckCommand, ErrCheckCommandsOff, ErrAccessDenied,
}

// Invalid marks err as bad input: non-retryable, nothing was changed.
func Invalid(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalidInput, err)
}

// InvalidAccess is bad input when a location's role cannot be assumed or
// its credentials may not use the bucket; nil for any other error.
func InvalidAccess(loc backupstore.Location, err error) error {
	var ar *awsx.AssumeRoleError
	if errors.As(err, &ar) {
		return Invalid(fmt.Errorf("backup location %s: %w", loc, ar))
	}
	var ba *backupstore.BucketAccessError
	if !errors.As(err, &ba) && backupstore.IsAccessDenied(err) {
		ba = &backupstore.BucketAccessError{Location: loc, Err: err}
	}
	switch {
	case ba == nil:
		return nil
	case ba.Location.RoleARN == "":
		// The worker's own credentials: Lifeboat's grants are short, and the
		// refusal names the IAM action to allow (deploy/iam/).
		if d := Denied(ba.Err); d != ba.Err {
			return d
		}
	}
	return Invalid(ba)
}

// Classify turns the registry's typed errors into non-retryable application
// errors; anything else (throttling, network) stays retryable.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var (
		nf   *registry.NotFoundError
		ae   *registry.AlreadyExistsError
		held *registry.HeldError
		nh   *registry.NotHolderError
		sc   *registry.StoreConflictError
		iid  *ids.InvalidIDError
		loc  *backupstore.InvalidLocationError
		rnf  *registry.RedisClusterNotFoundError
		rex  *registry.RedisClusterExistsError
		rh   *registry.RedisClusterHeldError
	)
	switch {
	case errors.As(err, &nf), errors.As(err, &ae), errors.As(err, &iid), errors.As(err, &loc),
		errors.As(err, &rnf), errors.As(err, &rex):
		return Invalid(err)
	case errors.As(err, &held), errors.As(err, &nh):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrDatasetHeld, err)
	case errors.As(err, &rh):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrRedisClusterHeld, err)
	case errors.As(err, &sc):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrStoreConflict, err)
	}
	return err
}

// Corrupt marks err as a backup not matching its manifest: non-retryable.
func Corrupt(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrBackupCorrupt, err)
}
