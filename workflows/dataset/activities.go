package dataset

import (
	"github.com/lifeboat-dev/lifeboat/activities"
	datasetact "github.com/lifeboat-dev/lifeboat/activities/dataset"
)

// The activities, as nil receivers: workflows name an activity by its
// method (datasets.Pause), the worker registers the real structs.
var (
	datasets *datasetact.Datasets
	dynamo   *datasetact.DynamoDB
	files    *datasetact.BackupFiles
	copies   *datasetact.Copies
	// restore tests
	restoreTests *datasetact.RestoreTests
	checks       *activities.Checks
)
