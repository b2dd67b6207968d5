package backupstore

import (
	"context"
	"slices"
	"testing"
)

// Backups cut at the same instant (the same id in two stores) and folders
// whose names are not times still come out in one order, run after run:
// newest first, then by id (descending), then by store, whatever order S3
// lists them in.
func TestSortNewestFirstBreaksTies(t *testing.T) {
	t.Parallel()
	a, b := complete(1, false), complete(1, false)
	a.StoreID, b.StoreID = "s-a", "s-b"
	newer := complete(0, false)
	odd1, odd2 := incomplete(3), incomplete(3) // folders named by hand: no time, so oldest
	odd1.ID, odd2.ID = "manual-1", "manual-2"
	want := []string{newer.Name(), a.Name(), b.Name(), odd2.Name(), odd1.Name()}
	for _, in := range [][]Backup{{a, b, newer, odd1, odd2}, {odd1, b, odd2, a, newer}, {b, a, odd2, newer, odd1}} {
		SortNewestFirst(in)
		var got []string
		for _, x := range in {
			got = append(got, x.Name())
		}
		if !slices.Equal(got, want) {
			t.Errorf("order %v, want %v", got, want)
		}
	}
}

func TestListBackupsOrdersByIDThenStore(t *testing.T) {
	t.Parallel()
	api := newMemS3()
	loc := Location{Bucket: "b", Prefix: "root"}
	// The same backup id in two stores (a restore into a new store keeps
	// backing up under the same ids' clock), and an older one.
	putBackup(t, api, loc, "s2", 0)
	putBackup(t, api, loc, "s1", 0)
	putBackup(t, api, loc, "s2", 1)
	found, err := ListBackups(context.Background(), api, loc, "e", "d")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range found.Backups {
		got = append(got, b.Name())
	}
	older, newer := complete(1, false).ID, complete(0, false).ID
	if want := []string{"s2/" + older, "s1/" + newer, "s2/" + newer}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
