//go:build !race

package dataset_test

import "github.com/lifeboat-dev/lifeboat/workflows/dataset"

// wideDatasets is how many datasets TestBackupAndRestoreOf1000Datasets
// runs: the limit itself.
const wideDatasets = dataset.MaxDatasets
