//go:build race

package dataset_test

// wideDatasets is smaller under the race detector, which slows the test
// environment's per-activity dispatch of every waiting coroutine tenfold;
// 200 datasets of 36 characters still overflow the search attribute budget
// six times over.
const wideDatasets = 200

// hugeDatasets is the over-the-limit request TestOverLimitRefusedAtOnce
// starts: under the race detector decoding 20,000 inputs alone can outlast
// the SDK's 1 s deadlock detector on a loaded machine, so 2,000 (still twice
// the limit) there.
const hugeDatasets = 2000
