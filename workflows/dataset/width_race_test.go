//go:build race

package dataset_test

// wideDatasets is smaller under the race detector, which slows the test
// environment's per-activity dispatch of every waiting coroutine tenfold;
// 200 datasets of 36 characters still overflow the search attribute budget
// six times over.
const wideDatasets = 200
