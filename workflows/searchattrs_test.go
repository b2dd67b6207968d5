package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

func TestFitKeywords(t *testing.T) {
	t.Parallel()
	ids := func(n, width int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("prod/%0*d", width, i)
		}
		return out
	}
	for _, tc := range []struct {
		name        string
		values      []string
		wantTrimmed bool
	}{
		{"one", []string{"prod/orders"}, false},
		{"duplicates and order", []string{"b/x", "a/y", "b/x"}, false},
		{"60 datasets of 36 characters", ids(60, 36), true},
		{"1,000 short ids", ids(1000, 3), true},
		{"20,000 datasets", ids(20000, 36), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kept, trimmed := FitKeywords(tc.values, MaxKeywordListBytes)
			raw, err := json.Marshal(kept)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) > MaxKeywordListBytes {
				t.Fatalf("%d bytes, budget %d", len(raw), MaxKeywordListBytes)
			}
			all := slices.Compact(slices.Sorted(slices.Values(tc.values)))
			if trimmed != tc.wantTrimmed {
				t.Fatalf("trimmed = %v, want %v", trimmed, tc.wantTrimmed)
			}
			if !trimmed {
				if !slices.Equal(kept, all) {
					t.Fatalf("kept %v, want %v", kept, all)
				}
				return
			}
			n := len(kept) - 1
			if n < 1 {
				t.Fatalf("kept no value: %v", kept)
			}
			if !slices.Equal(kept[:n], all[:n]) {
				t.Fatalf("kept %v, want the first sorted values", kept[:n])
			}
			if want := MoreKeyword(len(all) - n); kept[n] != want {
				t.Fatalf("last keyword %q, want %q", kept[n], want)
			}
			// The budget is used: one more value would not have fitted.
			next := append(slices.Clone(kept[:n]), all[n], MoreKeyword(len(all)-n-1))
			if b, _ := json.Marshal(next); len(b) <= MaxKeywordListBytes {
				t.Fatalf("stopped early at %d values (%d bytes with one more)", n, len(b))
			}
		})
	}
}
