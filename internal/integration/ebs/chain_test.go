package ebs

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// day is a date relative to the run's date, as YYYY-mm-dd.
func day(today time.Time, offset int) string { return ebstags.FormatDate(today.AddDate(0, 0, offset)) }

// TestIntegrationSnapshotsChain runs a two-region SnapshotRun on moto over
// instances with and without Backup, with Retention and Copy_Dest, and
// snapshots left by operators and by the seed's Lambdas, then checks that
// exactly the right snapshots exist in both regions with the right tags; a
// second run the same day changes nothing; a run on the next day starts
// generation 1.
func TestIntegrationSnapshotsChain(t *testing.T) {
	e := shared(t)
	ctx := testenv.Context(t, 10*time.Minute)
	const src, dst = "us-east-2", "eu-west-1"
	srcZone, dstZone := src+"a", dst+"b"
	today := ebstags.Day(time.Now())
	// moto holds snapshots of its built-in AMIs in every region: not ours.
	baseA, baseB := e.Snapshots(t, src), e.Snapshots(t, dst)
	snapshots := func(region string) map[string]testenv.Snapshot {
		base := baseA
		if region == dst {
			base = baseB
		}
		all := e.Snapshots(t, region)
		maps.DeleteFunc(all, func(id string, _ testenv.Snapshot) bool { _, ok := base[id]; return ok })
		return all
	}

	// Instances.
	web := e.RunInstance(t, src, srcZone, map[string]string{"Backup": "Yes", "Retention": "3", "Copy_Dest": dst, "Name": "web-1"}, "/dev/sdf")
	db := e.RunInstance(t, src, srcZone, map[string]string{"Backup": "Yes", "Name": "db-1"}, "/dev/sdf", "/dev/sdg")
	plain := e.RunInstance(t, src, srcZone, map[string]string{"Name": "no-backup-tag"}, "/dev/sdh")
	off := e.RunInstance(t, src, srcZone, map[string]string{"Backup": "No", "Name": "backup-off"})
	typo := e.RunInstance(t, src, srcZone, map[string]string{"Backup": "yes", "Name": "lower-case"})
	odd := e.RunInstance(t, src, srcZone, map[string]string{"Backup": "Yes", "Retention": "two weeks", "Copy_Dest": " EU-WEST-1 , mars-1"})
	dr := e.RunInstance(t, dst, dstZone, map[string]string{"Backup": "Yes", "Copy_Dest": src, "Name": "dr-1"})
	spare := e.RunInstance(t, dst, dstZone, nil, "/dev/sdh")
	scratchA := e.InstanceDevices(t, src, plain)["/dev/sdh"]
	scratchB := e.InstanceDevices(t, dst, spare)["/dev/sdh"]

	// Snapshots already there.
	auto := func(deleteOn string, kv ...string) map[string]string {
		m := map[string]string{"Type": "Automated", "DeleteOn": deleteOn}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	pre := map[string]string{ // name -> id
		"past":        e.CreateSnapshot(t, src, scratchA, auto(day(today, -1))),
		"today":       e.CreateSnapshot(t, src, scratchA, auto(day(today, 0))),
		"tomorrow":    e.CreateSnapshot(t, src, scratchA, auto(day(today, 1))),
		"keep":        e.CreateSnapshot(t, src, scratchA, auto(day(today, -3), "KeepForever", "")),
		"manual":      e.CreateSnapshot(t, src, scratchA, map[string]string{"DeleteOn": day(today, -3)}),
		"manual-type": e.CreateSnapshot(t, src, scratchA, map[string]string{"Type": "Manual", "DeleteOn": day(today, -3)}),
		"bad-date":    e.CreateSnapshot(t, src, scratchA, auto("someday")),
		"untagged":    e.CreateSnapshot(t, src, scratchA, nil),
	}
	pre["primary-kept"] = e.CreateSnapshot(t, src, scratchA, auto(day(today, -2), "KeepForever", "Yes", "Copy_Dest", dst))
	preB := map[string]string{
		"copy-of-kept": e.CreateSnapshot(t, dst, scratchB, auto(day(today, -2), "Source_SnapshotId", pre["primary-kept"], "Source_Region", src)),
		"orphan-copy":  e.CreateSnapshot(t, dst, scratchB, auto(day(today, -2), "Source_SnapshotId", "snap-0000000000000dead", "Source_Region", src)),
		"other-copy":   e.CreateSnapshot(t, dst, scratchB, auto(day(today, -2), "Source_SnapshotId", "snap-00000000000000eu", "Source_Region", "eu-central-1")),
		"past":         e.CreateSnapshot(t, dst, scratchB, auto(day(today, -1))),
		"future":       e.CreateSnapshot(t, dst, scratchB, auto(day(today, 5))),
	}

	// The run.
	lb := e.Client()
	run, err := lb.StartSnapshotRun(ctx, ebs.RunInput{Regions: []string{src, dst}, Options: ebs.Options{AsOf: day(today, 0)}})
	if err != nil {
		t.Fatalf("start run: %v", err)
	}
	res, err := lb.WaitSnapshotRun(ctx, run.ID, nil)
	if err != nil {
		t.Fatalf("run %s: %v (report %+v)", run.ID, err, res)
	}
	byRegion := map[string]ebs.RegionOutcome{}
	for _, r := range res.Regions {
		byRegion[r.Region] = r
		if r.Status != ebs.OutcomeOK {
			t.Errorf("%s: %s: %s", r.Region, r.Status, r.Error)
		}
	}
	a, b := byRegion[src].Chain, byRegion[dst].Chain
	if a.Create.Instances != 3 || a.Create.GroupsCreated != 3 || a.Create.Snapshots != 6 || a.Create.FailedCount != 0 {
		t.Errorf("%s create: %+v", src, a.Create)
	}
	problems := fmt.Sprint(a.Create.Problems)
	for _, want := range []string{odd + " Retention: \"two weeks\" is not a number of days: using 7 days", `"mars-1" is not a region`, typo + ` Backup="yes" is not "Yes"`} {
		if !strings.Contains(problems, want) {
			t.Errorf("%s create problems %s lack %q", src, problems, want)
		}
	}
	if strings.Contains(problems, off) || strings.Contains(problems, plain) {
		t.Errorf("problems name instances that are simply not backed up: %s", problems)
	}
	if a.Wait == nil || a.Wait.Completed != 6 || len(a.Wait.Errored) != 0 {
		t.Errorf("%s wait: %+v", src, a.Wait)
	}
	if b.Create.GroupsCreated != 1 || b.Create.Snapshots != 1 {
		t.Errorf("%s create: %+v", dst, b.Create)
	}

	// Source region: the day's groups, the kept snapshots, the DR copy.
	snapsA, snapsB := snapshots(src), snapshots(dst)
	groups := groupsOf(snapsA)
	wantGroups := map[string]struct {
		instance, name string
		devices        []string
		retention      int
		copyDest       string
	}{
		ebstags.GroupIDFor(web, today): {web, "web-1", []string{"/dev/sda1", "/dev/sdf"}, 3, dst},
		ebstags.GroupIDFor(db, today):  {db, "db-1", []string{"/dev/sda1", "/dev/sdf", "/dev/sdg"}, 7, ""},
		ebstags.GroupIDFor(odd, today): {odd, "", []string{"/dev/sda1"}, 7, dst},
	}
	if got := slices.Sorted(maps.Keys(groups)); !slices.Equal(got, slices.Sorted(maps.Keys(wantGroups))) {
		t.Fatalf("%s groups %v, want %v", src, got, slices.Sorted(maps.Keys(wantGroups)))
	}
	primaryIDs := map[string]bool{}
	for gid, want := range wantGroups {
		members := groups[gid]
		devs := e.InstanceDevices(t, src, want.instance)
		var gotDevices []string
		for _, s := range members {
			primaryIDs[s.ID] = true
			dev := s.Tags[ebstags.Device]
			gotDevices = append(gotDevices, dev)
			name := want.name
			if name == "" {
				name = want.instance
			}
			expect := map[string]string{
				"Type": "Automated", "DeleteOn": day(today, want.retention), "Managed-By": "Lifeboat",
				"Description":                 fmt.Sprintf("%s (%s) - %s (%s) - %s", name, want.instance, devs[dev], dev, src),
				"lifeboat:group-id":           gid,
				"lifeboat:generation":         "0",
				"lifeboat:group-size":         fmt.Sprint(len(want.devices)),
				"lifeboat:source-instance-id": want.instance,
				"lifeboat:source-volume-id":   devs[dev],
				"lifeboat:created-on":         day(today, 0),
			}
			if want.copyDest != "" {
				expect["Copy_Dest"] = want.copyDest
			}
			requireTags(t, src, s, expect)
			if _, ok := s.Tags["Copy_Dest"]; ok && want.copyDest == "" {
				t.Errorf("%s has Copy_Dest though its instance has none", s.ID)
			}
			if _, err := time.Parse(time.RFC3339, s.Tags["lifeboat:created-at"]); err != nil {
				t.Errorf("%s created-at %q: %v", s.ID, s.Tags["lifeboat:created-at"], err)
			}
			if s.State != "completed" {
				t.Errorf("%s is %s", s.ID, s.State)
			}
		}
		sort.Strings(gotDevices)
		if !slices.Equal(gotDevices, want.devices) {
			t.Errorf("group %s devices %v, want %v", gid, gotDevices, want.devices)
		}
	}
	drGroup := ebstags.GroupIDFor(dr, today)
	var drPrimary testenv.Snapshot
	for _, s := range snapsB {
		if s.Tags[ebstags.GroupID] == drGroup && s.Tags[ebstags.SourceSnapshotID] == "" {
			drPrimary = s
		}
	}
	if drPrimary.ID == "" {
		t.Fatalf("no primary of %s's group in %s", dr, dst)
	}
	wantA := map[string]bool{}
	for _, name := range []string{"tomorrow", "keep", "manual", "manual-type", "bad-date", "untagged", "primary-kept"} {
		wantA[pre[name]] = true
	}
	maps.Copy(wantA, primaryIDs)
	drCopy := requireCopy(t, snapsA, drPrimary, dst)
	wantA[drCopy] = true
	requireExactly(t, src, snapsA, wantA, pre)

	// Destination: copies of the copied groups, the kept copy, the DR group.
	wantB := map[string]bool{preB["copy-of-kept"]: true, preB["other-copy"]: true, preB["future"]: true, drPrimary.ID: true}
	for gid, want := range wantGroups {
		for _, s := range groups[gid] {
			if want.copyDest != "" {
				wantB[requireCopy(t, snapsB, s, src)] = true
			}
		}
	}
	requireExactly(t, dst, snapsB, wantB, preB)
	if v, ok := snapsB[preB["copy-of-kept"]].Tags["KeepForever"]; !ok || v != "Yes" {
		t.Errorf("KeepForever not carried to the copy of a kept primary: %v", snapsB[preB["copy-of-kept"]].Tags)
	}

	// Expiry removed exactly the expired automated snapshots, in both regions.
	if got := deletedIDs(a.Expire); !slices.Equal(got, sortedIDs(pre["past"], pre["today"], preB["orphan-copy"])) {
		t.Errorf("%s expiry deleted %v", src, got)
	}
	if got := deletedIDs(b.Expire); !slices.Equal(got, sortedIDs(preB["past"])) {
		t.Errorf("%s expiry deleted %v", dst, got)
	}
	// primary-kept is the seed's (no Lifeboat tags): never planned, so not
	// counted as copied already; its copy is the seed copier's.
	if a.Copy.Destinations[0].Started != 3 || a.Copy.Destinations[0].AlreadyCopied != 0 || a.Copy.SeedSkipped != 1 {
		t.Errorf("%s copy: %+v (seed primaries skipped %d)", src, a.Copy.Destinations, a.Copy.SeedSkipped)
	}

	// A second run the same day adds and deletes nothing.
	run2, err := lb.StartSnapshotRun(ctx, ebs.RunInput{Regions: []string{src, dst}, Options: ebs.Options{AsOf: day(today, 0)}})
	if err != nil {
		t.Fatalf("start second run: %v", err)
	}
	res2, err := lb.WaitSnapshotRun(ctx, run2.ID, nil)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	for _, r := range res2.Regions {
		c := r.Chain
		started := 0
		for _, d := range c.Copy.Destinations {
			started += d.Started
		}
		if c.Create.GroupsCreated != 0 || c.Create.GroupsExisting != c.Create.Instances || started != 0 || c.Expire.DeletedCount != 0 {
			t.Errorf("second run in %s did something: create %+v, copies started %d, deleted %d", r.Region, c.Create, started, c.Expire.DeletedCount)
		}
	}
	if again := snapshots(src); !slices.Equal(slices.Sorted(maps.Keys(again)), slices.Sorted(maps.Keys(snapsA))) {
		t.Errorf("second run changed %s's snapshots", src)
	}
	if again := snapshots(dst); !slices.Equal(slices.Sorted(maps.Keys(again)), slices.Sorted(maps.Keys(snapsB))) {
		t.Errorf("second run changed %s's snapshots", dst)
	}

	// The next day: generation 1, and yesterday's "tomorrow" expires.
	chain, err := lb.StartSnapshotStep(ctx, client.SnapshotStepChain, src, ebs.Options{AsOf: day(today, 1)})
	if err != nil {
		t.Fatalf("start next day's chain: %v", err)
	}
	next, err := lb.WaitSnapshotChain(ctx, chain.ID, nil)
	if err != nil {
		t.Fatalf("next day's chain: %v", err)
	}
	if next.Create.GroupsCreated != 3 {
		t.Errorf("next day: %+v", next.Create)
	}
	for _, s := range groupsOf(snapshots(src))[ebstags.GroupIDFor(web, today.AddDate(0, 0, 1))] {
		if s.Tags["lifeboat:generation"] != "1" || s.Tags["DeleteOn"] != day(today, 4) {
			t.Errorf("next day's snapshot %s: generation %s, DeleteOn %s", s.ID, s.Tags["lifeboat:generation"], s.Tags["DeleteOn"])
		}
	}
	if got := deletedIDs(next.Expire); !slices.Equal(got, sortedIDs(pre["tomorrow"])) {
		t.Errorf("next day's expiry deleted %v, want only %s", got, pre["tomorrow"])
	}
}

// groupsOf collects the primary Lifeboat snapshots of a region by group.
func groupsOf(snaps map[string]testenv.Snapshot) map[string][]testenv.Snapshot {
	out := map[string][]testenv.Snapshot{}
	for _, s := range snaps {
		if g := s.Tags[ebstags.GroupID]; g != "" && s.Tags[ebstags.SourceSnapshotID] == "" {
			out[g] = append(out[g], s)
		}
	}
	return out
}

func requireTags(t *testing.T, region string, s testenv.Snapshot, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := s.Tags[k]; !ok || got != v {
			t.Errorf("%s %s: tag %s = %q (present %v), want %q", region, s.ID, k, got, ok, v)
		}
	}
}

// requireCopy finds the one copy of a primary among a region's snapshots
// and checks its tags: the primary's, plus Source_SnapshotId and
// Source_Region. It returns the copy's id.
func requireCopy(t *testing.T, snaps map[string]testenv.Snapshot, primary testenv.Snapshot, sourceRegion string) string {
	t.Helper()
	var found []testenv.Snapshot
	for _, s := range snaps {
		if s.Tags[ebstags.SourceSnapshotID] == primary.ID {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Errorf("%d copies of %s, want 1", len(found), primary.ID)
		return ""
	}
	c := found[0]
	want := maps.Clone(primary.Tags)
	want[ebstags.SourceSnapshotID], want[ebstags.SourceRegion] = primary.ID, sourceRegion
	if !maps.Equal(c.Tags, want) {
		t.Errorf("copy %s of %s has tags\n%v\nwant\n%v", c.ID, primary.ID, c.Tags, want)
	}
	return c.ID
}

// requireExactly checks a region holds exactly the wanted snapshots; names
// label the ones a test created.
func requireExactly(t *testing.T, region string, snaps map[string]testenv.Snapshot, want map[string]bool, names map[string]string) {
	t.Helper()
	label := func(id string) string {
		for n, v := range names {
			if v == id {
				return id + " (" + n + ")"
			}
		}
		return id + " " + fmt.Sprint(snaps[id].Tags)
	}
	for id := range snaps {
		if !want[id] {
			t.Errorf("%s: unexpected snapshot %s", region, label(id))
		}
	}
	for id := range want {
		if _, ok := snaps[id]; !ok {
			t.Errorf("%s: snapshot %s is gone", region, label(id))
		}
	}
}

func deletedIDs(r *ebs.ExpireResult) []string {
	var out []string
	for _, reg := range r.Regions {
		for _, d := range reg.Deleted {
			out = append(out, d.SnapshotID)
		}
	}
	sort.Strings(out)
	return out
}

func sortedIDs(ids ...string) []string {
	sort.Strings(ids)
	return ids
}
