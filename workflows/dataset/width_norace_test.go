//go:build !race

package dataset_test

import "github.com/lifeboat-dev/lifeboat/workflows/dataset"

// wideDatasets is how many datasets TestBackupAndRestoreOf1000Datasets
// runs: the limit itself.
const wideDatasets = dataset.MaxDatasets

// hugeDatasets is the over-the-limit request TestOverLimitRefusedAtOnce
// starts: 20,000, which once looped a workflow task on the deadlock detector.
const hugeDatasets = 20000
