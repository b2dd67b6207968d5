package dataset

import (
	"fmt"
	"testing"
)

// TestProgressLookupsAreIndexed checks that dataset lookups go through the
// index, without timing them: 20,000 datasets, each looked up a few times as
// a run does, all land in the index (a linear scan here tripped the
// deadlock detector in the run's first workflow task).
func TestProgressLookupsAreIndexed(t *testing.T) {
	t.Parallel()
	const n = 20000
	p := &Progress{}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%08d-0000-4000-8000-%012d", i, i)
	}
	for round := range 3 {
		for _, ds := range names {
			d := p.dataset("prod", ds)
			d.Items = int64(round)
		}
	}
	if len(p.Datasets) != n || len(p.index) != n || p.indexed != n {
		t.Fatalf("%d entries, %d indexed (%d), want %d", len(p.Datasets), len(p.index), p.indexed, n)
	}
	for i := range n {
		if d := p.Datasets[p.index[p.Datasets[i].ref()]]; d.DatasetID != names[i] || d.Items != 2 {
			t.Fatalf("entry %d: %+v", i, d)
		}
	}
}

// TestProgressIndexFollowsTheSlice checks lookups on a Progress whose
// datasets were set directly (a decoded one) or appended to behind the
// index's back: the first entry of a key wins, as a scan would find it.
func TestProgressIndexFollowsTheSlice(t *testing.T) {
	t.Parallel()
	p := &Progress{Datasets: []DatasetProgress{
		{EnvID: "e", DatasetID: "a", Step: "one"},
		{EnvID: "e", DatasetID: "b"},
		{EnvID: "e", DatasetID: "a", Step: "duplicate"},
	}}
	if got := p.dataset("e", "a").Step; got != "one" {
		t.Fatalf("e/a step %q, want the first entry's", got)
	}
	p.Datasets = append(p.Datasets, DatasetProgress{EnvID: "e", DatasetID: "c", Step: "appended"})
	if got := p.dataset("e", "c").Step; got != "appended" {
		t.Fatalf("e/c step %q, want the appended entry's", got)
	}
	p.Datasets = p.Datasets[:1]
	if got := p.dataset("e", "b"); got.Step != "" || len(p.Datasets) != 2 {
		t.Fatalf("after truncation: e/b %+v, %d entries", got, len(p.Datasets))
	}
	p.dataset("f", "a").Step = "new"
	if len(p.Datasets) != 3 || p.dataset("f", "a").Step != "new" {
		t.Fatalf("new entry not found: %+v", p.Datasets)
	}
}
