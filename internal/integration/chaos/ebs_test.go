package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// The EBS scenario's regions: instances in ebsSource copy to ebsDest.
const ebsSource, ebsDest = "ap-southeast-1", "ap-southeast-2"

// TestChaosEBS: a snapshot chain (create, wait, copy, expire) over two
// regions, on new instances each run (1 to 3 volumes each, Backup=Yes,
// Copy_Dest the second region) and a snapshot due to expire, under faults,
// with one worker process killed a random delay after the run started and
// restarted 2-5 s later. Every run: the chain completes every step; each
// instance has one group today, of one snapshot per volume, every member
// tagged with the group's size and its device; each snapshot has exactly
// one copy in the second region; the expired snapshot is gone.
func TestChaosEBS(t *testing.T) {
	s := setup(t)
	sc := newScenario("ebs", "chain")
	for i := range runs(t) {
		seed := baseSeed() + uint64(i)
		var faults, kills, dups int
		var took time.Duration
		ok := t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			faults, kills, dups, took = ebsRun(t, s, seed)
		})
		sc.record(!ok, seed, faults, kills, dups, took)
	}
}

func ebsRun(t *testing.T, s *suite, seed uint64) (faults, kills, dups int, took time.Duration) {
	e := s.e
	ctx := testenv.Context(t, 8*time.Minute)
	r := rng(seed)
	zone := ebsSource + "a"
	today := ebstags.Day(time.Now())

	// Set up without faults: the test's own calls are not what is tested.
	tags := map[string]string{"Backup": "Yes", "Copy_Dest": ebsDest}
	instances := map[string][]string{} // instance -> every device, root first
	for range 3 {
		devs := []string{"/dev/sdf", "/dev/sdg"}[:r.IntN(3)]
		id := e.RunInstance(t, ebsSource, zone, tags, devs...)
		instances[id] = append([]string{"/dev/sda1"}, devs...)
	}
	scratch := e.RunInstance(t, ebsSource, zone, map[string]string{"Name": "chaos-scratch"}, "/dev/sdh")
	expired := e.CreateSnapshot(t, ebsSource, e.InstanceDevices(t, ebsSource, scratch)["/dev/sdh"],
		map[string]string{"Type": "Automated", "DeleteOn": ebstags.FormatDate(today.AddDate(0, 0, -1))})

	victim := s.workers[r.IntN(len(s.workers))]
	delay, restart := between(r, 0, 10*time.Second), between(r, 2*time.Second, 5*time.Second)
	t.Logf("seed %d: %d instances; kill %s %s after the run started, restart %s later", seed, len(instances), victim.name,
		delay.Round(time.Millisecond), restart.Round(time.Millisecond))
	if err := e.ResetEmulatorRequests(ctx); err != nil {
		t.Fatal(err)
	}
	s.faults(t, true, seed)
	faultsOn := true
	defer func() {
		if faultsOn {
			s.faults(t, false, 0)
		}
	}()
	start := time.Now()
	run, err := e.Client().StartSnapshotRun(ctx, ebs.RunInput{Regions: []string{ebsSource}})
	if err != nil {
		t.Fatalf("start run: %v", err)
	}
	k := killLater(ctx, t, victim, nil, delay, restart)
	res, err := e.Client().WaitSnapshotRun(ctx, run.ID, nil)
	took = time.Since(start)
	<-k.done
	faults, byKind := s.faultCount(t)
	s.faults(t, false, 0)
	faultsOn = false
	if !k.at.IsZero() {
		kills = 1
	}
	t.Logf("%s; run %s took %s; %d faults injected: %v", k, run.ID, took.Round(time.Millisecond), faults, byKind)
	if err != nil {
		t.Fatalf("run %s: %v (%+v)", run.ID, err, res)
	}
	if len(res.Regions) != 1 || res.Regions[0].Chain == nil {
		t.Fatalf("run %s: %+v", run.ID, res)
	}
	for _, st := range res.Regions[0].Chain.Steps {
		if st.Status != ebs.OutcomeOK {
			t.Errorf("chain step %s: %s %s", st.Step, st.Status, st.Error)
		}
	}

	// One group per instance today, one snapshot per volume, complete.
	primaries := map[string]testenv.Snapshot{}
	for id, sn := range e.Snapshots(t, ebsSource) {
		if _, ours := instances[sn.Tags[ebstags.SourceInstanceID]]; ours && sn.Tags[ebstags.SourceSnapshotID] == "" {
			primaries[id] = sn
		}
	}
	for inst, devs := range instances {
		group := ebstags.GroupIDFor(inst, today)
		perDevice := map[string]int{}
		groups := map[string]bool{}
		for _, sn := range primaries {
			if sn.Tags[ebstags.SourceInstanceID] != inst {
				continue
			}
			groups[sn.Tags[ebstags.GroupID]] = true
			perDevice[sn.Tags[ebstags.Device]]++
			if want := strconv.Itoa(len(devs)); sn.Tags[ebstags.GroupSize] != want {
				t.Errorf("%s of %s: group size %q, want %s", sn.ID, inst, sn.Tags[ebstags.GroupSize], want)
			}
		}
		if len(groups) != 1 || !groups[group] {
			t.Errorf("instance %s: groups %v, want only %s", inst, groups, group)
		}
		var got []string
		for dev, n := range perDevice {
			got = append(got, dev)
			if n > 1 {
				t.Errorf("instance %s: %d snapshots of %s today, want 1 (a duplicate)", inst, n, dev)
				dups += n - 1
			}
		}
		sort.Strings(got)
		want := slices.Sorted(slices.Values(devs))
		if !slices.Equal(got, want) {
			t.Errorf("instance %s: snapshots of %v, want %v (group incomplete)", inst, got, want)
		}
	}

	// Exactly one copy of each in the second region.
	copies := map[string]int{}
	for _, sn := range e.Snapshots(t, ebsDest) {
		if _, ours := primaries[sn.Tags[ebstags.SourceSnapshotID]]; ours {
			copies[sn.Tags[ebstags.SourceSnapshotID]]++
		}
	}
	for id, sn := range primaries {
		if n := copies[id]; n != 1 {
			t.Errorf("%s (%s of %s): %d copies in %s, want 1", id, sn.Tags[ebstags.Device], sn.Tags[ebstags.SourceInstanceID], n, ebsDest)
			dups += max(n-1, 0)
		}
	}
	if _, there := e.Snapshots(t, ebsSource)[expired]; there {
		t.Errorf("snapshot %s, due to expire yesterday, is still there", expired)
	}
	return faults, kills, dups, took
}
