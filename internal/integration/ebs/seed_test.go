package ebs

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/ebsgroups"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/cli"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// TestIntegrationSeedSnapshots migrates from the seed's jobs: snapshots
// their creator and copier left in two regions (Type=Automated, DeleteOn,
// Copy_Dest on primaries, Source_SnapshotId on copies, no Lifeboat tags),
// some due today or earlier, some later, some KeepForever. A two-region run
// expires exactly the due ones, primaries and copies, each by the chain of
// its source region; copies none of them (only Lifeboat's own group); and
// `snapshots list` shows the rest as kind seed, table and json. A second
// run the same day changes nothing.
func TestIntegrationSeedSnapshots(t *testing.T) {
	e := shared(t)
	ctx := testenv.Context(t, 10*time.Minute)
	const src, dst = "ap-south-1", "eu-west-3"
	today := ebstags.Day(time.Now())
	base := map[string]map[string]testenv.Snapshot{src: e.Snapshots(t, src), dst: e.Snapshots(t, dst)}
	// seedLeft is a region's snapshots without Lifeboat's (nor moto's own).
	seedLeft := func(region string) map[string]testenv.Snapshot {
		all := e.Snapshots(t, region)
		maps.DeleteFunc(all, func(id string, s testenv.Snapshot) bool {
			_, builtin := base[region][id]
			return builtin || ebstags.IsManaged(s.Tags)
		})
		return all
	}

	web := e.RunInstance(t, src, src+"a", map[string]string{"Backup": "Yes", "Copy_Dest": dst, "Name": "web"}, "/dev/sdf")
	legacyA := e.RunInstance(t, src, src+"a", map[string]string{"Name": "legacy-a"}, "/dev/sdf")
	legacyB := e.RunInstance(t, dst, dst+"a", map[string]string{"Name": "legacy-b"}, "/dev/sdf")
	volA := e.InstanceDevices(t, src, legacyA)["/dev/sdf"]
	volB := e.InstanceDevices(t, dst, legacyB)["/dev/sdf"]
	descA := ebstags.SnapshotDescription("legacy-a", legacyA, volA, "/dev/sdf", src)
	descB := ebstags.SnapshotDescription("legacy-b", legacyB, volB, "/dev/sdf", dst)
	// The seed's tags: the creator's on primaries; the copier carries them
	// to copies and adds Source_SnapshotId (no Source_Region).
	primary := func(region, vol, desc, dest string, offset int, kv ...string) string {
		tags := map[string]string{"Type": "Automated", "DeleteOn": day(today, offset), "Description": desc, "Copy_Dest": dest}
		for i := 0; i+1 < len(kv); i += 2 {
			tags[kv[i]] = kv[i+1]
		}
		return e.CreateSnapshot(t, region, vol, tags)
	}
	copyOf := func(region, vol, desc, source string, offset int, kv ...string) string {
		return primary(region, vol, desc, "", offset, append([]string{"Source_SnapshotId", source}, kv...)...)
	}
	a := map[string]string{ // in src
		"due-copied":     primary(src, volA, descA, dst, 0),
		"past-uncopied":  primary(src, volA, descA, dst, -1),
		"later-copied":   primary(src, volA, descA, dst, 3),
		"later-uncopied": primary(src, volA, descA, dst, 3),
		"keep":           primary(src, volA, descA, dst, -2, "KeepForever", "Yes"),
		"manual":         e.CreateSnapshot(t, src, volA, map[string]string{"DeleteOn": day(today, -5), "Description": descA}),
	}
	b := map[string]string{ // in dst
		"due":            primary(dst, volB, descB, src, 0),
		"later-uncopied": primary(dst, volB, descB, src, 1),
		"a-due-copy":     copyOf(dst, volB, descA, a["due-copied"], 0),
		"a-later-copy":   copyOf(dst, volB, descA, a["later-copied"], 3),
		"a-keep-copy":    copyOf(dst, volB, descA, a["keep"], -2), // KeepForever set on the primary after the copy
		"a-own-keep":     copyOf(dst, volB, descA, "snap-00000000000000gone", -4, "KeepForever", ""),
		"a-orphan-due":   copyOf(dst, volB, descA, "snap-0000000000000dead", -1),
	}
	a["b-due-copy"] = copyOf(src, volA, descB, b["due"], 0) // the copy, here, of dst's due primary
	initial := map[string]map[string]testenv.Snapshot{src: seedLeft(src), dst: seedLeft(dst)}

	lb := e.Client()
	runDay := func() *ebs.RunResult {
		t.Helper()
		run, err := lb.StartSnapshotRun(ctx, ebs.RunInput{Regions: []string{src, dst}, Options: ebs.Options{AsOf: day(today, 0)}})
		if err != nil {
			t.Fatalf("start run: %v", err)
		}
		res, err := lb.WaitSnapshotRun(ctx, run.ID, nil)
		if err != nil {
			t.Fatalf("run %s: %v (report %+v)", run.ID, err, res)
		}
		return res
	}
	res := runDay()
	chains := map[string]*ebs.ChainResult{}
	for _, r := range res.Regions {
		chains[r.Region] = r.Chain
	}

	// Expired: exactly the due ones, each by its source region's chain.
	if got, want := deletedIDs(chains[src].Expire), sortedIDs(a["due-copied"], a["past-uncopied"], b["a-due-copy"], b["a-orphan-due"]); !slices.Equal(got, want) {
		t.Errorf("%s's chain expired %v, want %v", src, got, want)
	}
	if got, want := deletedIDs(chains[dst].Expire), sortedIDs(b["due"], a["b-due-copy"]); !slices.Equal(got, want) {
		t.Errorf("%s's chain expired %v, want %v", dst, got, want)
	}
	left := map[string]map[string]testenv.Snapshot{src: seedLeft(src), dst: seedLeft(dst)}
	requireExactly(t, src, left[src], idSet(a, "later-copied", "later-uncopied", "keep", "manual"), a)
	requireExactly(t, dst, left[dst], idSet(b, "later-uncopied", "a-later-copy", "a-keep-copy", "a-own-keep"), b)
	if _, ok := left[dst][b["a-keep-copy"]].Tags["KeepForever"]; !ok {
		t.Errorf("KeepForever not carried to the seed copy %s of a kept primary", b["a-keep-copy"])
	}

	// Copied: Lifeboat's own group only; no seed primary got a (second) copy.
	for region, c := range chains {
		if c.Copy == nil {
			t.Fatalf("%s: no copy step result", region)
		}
		started := 0
		for _, d := range c.Copy.Destinations {
			started += d.Started
		}
		wantStarted, wantSkipped := 0, 2 // dst: due, later-uncopied
		if region == src {
			wantStarted, wantSkipped = 2, 5 // web's root and /dev/sdf; five seed primaries
		}
		if started != wantStarted || c.Copy.SeedSkipped != wantSkipped {
			t.Errorf("%s copy started %d (want %d), seed primaries skipped %d (want %d): %+v", region, started, wantStarted, c.Copy.SeedSkipped, wantSkipped, c.Copy)
		}
	}
	for region, other := range map[string]string{src: dst, dst: src} {
		for id, s := range initial[region] {
			if ebstags.IsCopy(s.Tags) {
				continue
			}
			before, after := countCopies(initial[other], id), countCopies(e.Snapshots(t, other), id)
			if after > before {
				t.Errorf("seed primary %s in %s got %d new copies in %s", id, region, after-before, other)
			}
		}
	}
	if n := len(groupsOf(e.Snapshots(t, src))[ebstags.GroupIDFor(web, today)]); n != 2 {
		t.Errorf("web's group has %d snapshots, want 2", n)
	}

	// Listed: the seed's snapshots that are left, as kind seed.
	e.UseForCLI(t, src)
	lifeboat := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue)
		if code := cli.Main(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("lifeboat %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		return out.String()
	}
	listed := func(region string) map[string]ebsgroups.Info {
		var rows []ebsgroups.Info
		out := lifeboat("snapshots", "list", "--region", region, "--output", "json")
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("snapshots list json: %v\n%s", err, out)
		}
		seeds := map[string]ebsgroups.Info{}
		for _, r := range rows {
			if r.Kind == ebsgroups.KindSeed {
				seeds[strings.TrimPrefix(r.GroupID, ebstags.SeedGroupPrefix)] = r
			} else if r.Kind != ebsgroups.KindGroup {
				t.Errorf("row %s has kind %q", r.GroupID, r.Kind)
			}
		}
		return seeds
	}
	seedA, seedB := listed(src), listed(dst)
	if got, want := slices.Sorted(maps.Keys(seedA)), sortedIDs(a["later-copied"], a["later-uncopied"], a["keep"]); !slices.Equal(got, want) {
		t.Errorf("%s lists seed snapshots %v, want %v", src, got, want)
	}
	if got, want := slices.Sorted(maps.Keys(seedB)), sortedIDs(b["later-uncopied"], b["a-later-copy"], b["a-keep-copy"], b["a-own-keep"]); !slices.Equal(got, want) {
		t.Errorf("%s lists seed snapshots %v, want %v", dst, got, want)
	}
	if r := seedA[a["later-copied"]]; r.DeleteOn != day(today, 3) || r.InstanceID != legacyA || r.ExpiredBy != src ||
		len(r.Copies) != 1 || r.Copies[0] != (ebsgroups.GroupCopies{Region: dst, Completed: 1, Total: 1}) {
		t.Errorf("%s row of a copied seed primary: %+v", src, r)
	}
	if r := seedA[a["keep"]]; !r.KeepForever {
		t.Errorf("%s row of a KeepForever seed primary: %+v", src, r)
	}
	if r := seedB[b["a-later-copy"]]; r.SourceRegion != src || r.SourceSnapshotID != a["later-copied"] || r.ExpiredBy != src || r.DeleteOn != day(today, 3) {
		t.Errorf("%s row of a seed copy: %+v", dst, r)
	}
	if r := seedB[b["later-uncopied"]]; r.ExpiredBy != dst || r.DeleteOn != day(today, 1) || len(r.Copies) != 0 {
		t.Errorf("%s row of an uncopied seed primary: %+v", dst, r)
	}
	table := lifeboat("snapshots", "list", "--region", src)
	row := regexp.MustCompile(`(?m)^seed:` + regexp.QuoteMeta(a["later-copied"]) + `\s+seed\s+` + legacyA + `\s+-\s+\S+\s+1\s+completed\s+` + day(today, 3) + `\s+-\s+` + dst + ` 1/1`)
	if !row.MatchString(table) || !strings.Contains(table, ebstags.GroupIDFor(web, today)) {
		t.Errorf("snapshots list table lacks the seed row (or web's group):\n%s", table)
	}
	one := lifeboat("snapshots", "list", "--region", dst, "--group-id", ebstags.SeedGroupPrefix+b["a-keep-copy"])
	if strings.Count(strings.TrimSpace(one), "\n") != 1 || !strings.Contains(one, "copy from "+src) || !strings.Contains(one, "forever") {
		t.Errorf("snapshots list --group-id seed:%s:\n%s", b["a-keep-copy"], one)
	}

	// A second run the same day deletes and copies nothing.
	again := runDay()
	for _, r := range again.Regions {
		started := 0
		for _, d := range r.Chain.Copy.Destinations {
			started += d.Started
		}
		if started != 0 || r.Chain.Expire.DeletedCount != 0 {
			t.Errorf("second run in %s: %d copies started, %d deleted", r.Region, started, r.Chain.Expire.DeletedCount)
		}
	}
	for _, region := range []string{src, dst} {
		if got := seedLeft(region); !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(left[region]))) {
			t.Errorf("second run changed the seed's snapshots in %s", region)
		}
	}
}

// idSet is the ids of the named snapshots.
func idSet(ids map[string]string, names ...string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		out[ids[n]] = true
	}
	return out
}

// countCopies counts the snapshots naming source as their Source_SnapshotId.
func countCopies(snaps map[string]testenv.Snapshot, source string) int {
	n := 0
	for _, s := range snaps {
		if s.Tags[ebstags.SourceSnapshotID] == source {
			n++
		}
	}
	return n
}
