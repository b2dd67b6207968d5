package backupstore

import (
	"context"
	"fmt"
	"path"
	"time"
)

// RestoreTestName is the record a restore test leaves in the folder of the
// backup it restored (datasets' and Redis clusters' alike), beside its
// manifest and verified.json. It is written whatever the outcome, and
// replaced by the next restore test of that backup.
const RestoreTestName = "restore-test.json"

// RestoreTest is what restore-test.json holds: when a backup was restored
// into a scratch target, how long the restore took (the RTO it proves),
// what was checked and what came of it.
type RestoreTest struct {
	At      time.Time `json:"at"`      // when the restore test finished
	Outcome string    `json:"outcome"` // VerifiedOK or VerifiedFailed
	// RTOSeconds is how long the restore itself took, from its start until
	// the scratch target answered with the data (checks excluded).
	RTOSeconds float64 `json:"rtoSeconds"`
	// Target names the scratch target restored into (a scratch environment,
	// node address or volume id); it was removed afterwards.
	Target string `json:"target"`
	// Checked says what the run compared, in a sentence.
	Checked string `json:"checked"`
	// Problem is the one-line reason of a failed outcome.
	Problem    string `json:"problem,omitempty"`
	WorkflowID string `json:"workflowId,omitempty"`
	BackupID   string `json:"backupId"`
}

// Short is the record as a listing column: "ok 2026-12-02T03:04:05Z 12.3s".
func (r *RestoreTest) Short() string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%s %s %.1fs", r.Outcome, r.At.UTC().Format(time.RFC3339), r.RTOSeconds)
}

// RestoreTestKey is the record's key in a backup folder (a key prefix
// without the trailing slash).
func RestoreTestKey(folder string) string { return path.Join(folder, RestoreTestName) }

// WriteRestoreTest stores r as the folder's restore-test.json.
func WriteRestoreTest(ctx context.Context, api API, bucket, folder string, r *RestoreTest) error {
	return putRecord(ctx, api, bucket, RestoreTestKey(folder), r)
}

// ReadRestoreTest reads a folder's restore-test.json; it returns nil and no
// error when the backup was never restore-tested.
func ReadRestoreTest(ctx context.Context, api API, bucket, folder string) (*RestoreTest, error) {
	return getRecord[RestoreTest](ctx, api, bucket, RestoreTestKey(folder))
}
