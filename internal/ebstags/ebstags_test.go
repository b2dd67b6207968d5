package ebstags

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseInstance(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		tags      map[string]string
		enabled   bool
		retention int
		dests     []string
		problems  []string // substrings, one per expected problem
	}{
		{"no tags", map[string]string{}, false, 7, nil, nil},
		{"enabled, defaults", map[string]string{"Backup": "Yes"}, true, 7, nil, nil},
		{"No is silent", map[string]string{"Backup": "No"}, false, 7, nil, nil},
		{"lower-case yes is reported, not enabled", map[string]string{"Backup": "yes"}, false, 7, nil, []string{`Backup="yes"`}},
		{"true is reported", map[string]string{"Backup": "true"}, false, 7, nil, []string{`Backup="true"`}},
		{"retention", map[string]string{"Backup": "Yes", "Retention": "30"}, true, 30, nil, nil},
		{"retention with spaces", map[string]string{"Backup": "Yes", "Retention": " 14 "}, true, 14, nil, nil},
		{"retention one day", map[string]string{"Backup": "Yes", "Retention": "1"}, true, 1, nil, nil},
		{"retention not a number", map[string]string{"Backup": "Yes", "Retention": "two weeks"}, true, 7, nil, []string{"Retention", "not a number", "using 7 days"}},
		{"retention zero", map[string]string{"Backup": "Yes", "Retention": "0"}, true, 7, nil, []string{"outside 1..36500"}},
		{"retention negative", map[string]string{"Backup": "Yes", "Retention": "-3"}, true, 7, nil, []string{"outside"}},
		{"retention fractional", map[string]string{"Backup": "Yes", "Retention": "1.5"}, true, 7, nil, []string{"not a number"}},
		{"retention empty", map[string]string{"Backup": "Yes", "Retention": ""}, true, 7, nil, []string{"not a number"}},
		{"one destination", map[string]string{"Backup": "Yes", "Copy_Dest": "us-west-2"}, true, 7, []string{"us-west-2"}, nil},
		{"list of destinations", map[string]string{"Backup": "Yes", "Copy_Dest": "us-west-2, eu-west-1,,us-west-2"}, true, 7, []string{"us-west-2", "eu-west-1"}, nil},
		{"destination upper case", map[string]string{"Backup": "Yes", "Copy_Dest": "US-WEST-2"}, true, 7, []string{"us-west-2"}, nil},
		{"gov region", map[string]string{"Backup": "Yes", "Copy_Dest": "us-gov-west-1"}, true, 7, []string{"us-gov-west-1"}, nil},
		{"bad destination", map[string]string{"Backup": "Yes", "Copy_Dest": "mars-1,us-west-2"}, true, 7, []string{"us-west-2"}, []string{`"mars-1" is not a region`}},
		{"own region", map[string]string{"Backup": "Yes", "Copy_Dest": "us-east-1"}, true, 7, nil, []string{"own region"}},
		{"name", map[string]string{"Backup": "Yes", "Name": "web-1"}, true, 7, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := ParseInstance("us-east-1", c.tags)
			if got.Enabled != c.enabled || got.RetentionDays != c.retention || !slices.Equal(got.CopyDest, c.dests) {
				t.Errorf("got enabled=%v retention=%d dests=%v, want %v %d %v", got.Enabled, got.RetentionDays, got.CopyDest, c.enabled, c.retention, c.dests)
			}
			if got.Name != c.tags["Name"] {
				t.Errorf("name %q", got.Name)
			}
			if len(c.problems) == 0 && len(got.Problems) > 0 {
				t.Errorf("unexpected problems %v", got.Problems)
			}
			all := strings.Join(got.Problems, "; ")
			for _, p := range c.problems {
				if !strings.Contains(all, p) {
					t.Errorf("problems %q lack %q", all, p)
				}
			}
		})
	}
}

func TestDeleteOnDate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		run  time.Time
		days int
		want string
	}{
		{time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), 7, "2026-11-29"},
		{time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), 1, "2026-11-23"},
		{time.Date(2026, 11, 22, 23, 59, 59, 0, time.UTC), 1, "2026-11-23"},
		{time.Date(2026, 12, 28, 12, 0, 0, 0, time.UTC), 7, "2027-01-04"},  // year end
		{time.Date(2028, 2, 27, 12, 0, 0, 0, time.UTC), 2, "2028-02-29"},   // leap day
		{time.Date(2027, 2, 27, 12, 0, 0, 0, time.UTC), 2, "2027-03-01"},   // no leap day
		{time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), 30, "2026-04-27"},  // month lengths
		{time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC), 365, "2027-01-31"}, // a year
		{time.Date(2026, 11, 22, 1, 0, 0, 0, time.FixedZone("UTC+3", 3*3600)), // 2026-11-21 22:00 UTC
			7, "2026-11-28"},
		{time.Date(2026, 11, 21, 22, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)), // 2026-11-22 03:00 UTC
			7, "2026-11-29"},
	}
	for _, c := range cases {
		if got := DeleteOnDate(c.run, c.days); got != c.want {
			t.Errorf("DeleteOnDate(%s, %d) = %s, want %s", c.run, c.days, got, c.want)
		}
	}
}

func TestDue(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 11, 22, 15, 4, 5, 0, time.UTC)
	cases := []struct {
		deleteOn string
		due      bool
		bad      bool
	}{
		{"2026-11-21", true, false},
		{"2026-11-22", true, false}, // the day itself
		{"2026-11-23", false, false},
		{"2020-01-01", true, false},
		{" 2026-11-22 ", true, false},
		{"2026-11-22T00:00:00Z", false, true},
		{"22/11/2026", false, true},
		{"", false, true},
		{"2026-02-30", false, true},
	}
	for _, c := range cases {
		due, err := Due(c.deleteOn, today)
		if due != c.due || (err != nil) != c.bad {
			t.Errorf("Due(%q) = %v, %v; want %v, bad=%v", c.deleteOn, due, err, c.due, c.bad)
		}
	}
}

func TestDescriptionAndGroupID(t *testing.T) {
	t.Parallel()
	if got := SnapshotDescription("web-1", "i-0abc", "vol-1", "/dev/sdf", "us-east-1"); got != "web-1 (i-0abc) - vol-1 (/dev/sdf) - us-east-1" {
		t.Errorf("description %q", got)
	}
	if got := SnapshotDescription("", "i-0abc", "vol-1", "/dev/sda1", "eu-west-1"); got != "i-0abc (i-0abc) - vol-1 (/dev/sda1) - eu-west-1" {
		t.Errorf("description without a name %q", got)
	}
	day := time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC)
	if got := GroupIDFor("i-0abc", day); got != "lbg-i-0abc-20261122" {
		t.Errorf("group id %q", got)
	}
	if GroupIDFor("i-0abc", day) != GroupIDFor("i-0abc", day.Add(-23*time.Hour)) {
		t.Error("group id differs within one UTC day")
	}
	if GroupIDFor("i-0abc", day) == GroupIDFor("i-0abc", day.Add(time.Hour)) {
		t.Error("group id the same on the next UTC day")
	}
}

func TestNextGeneration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		existing []string
		want     int
	}{
		{nil, 0},
		{[]string{"0"}, 1},
		{[]string{"0", "3", "1"}, 4},
		{[]string{"bad", "-1", ""}, 0},
		{[]string{"2", "bad"}, 3},
	}
	for _, c := range cases {
		if got := NextGeneration(c.existing); got != c.want {
			t.Errorf("NextGeneration(%v) = %d, want %d", c.existing, got, c.want)
		}
	}
}

func TestCopyTags(t *testing.T) {
	t.Parallel()
	src := map[string]string{
		Type: TypeAutomated, DeleteOn: "2026-11-29", KeepForever: "", GroupID: "g", Description: "d",
		"aws:backup:source-resource": "x", "team": "db",
		Verified: "2026-12-01T00:00:00Z:ok", // not the copy's: nothing has verified it
	}
	got := CopyTags(src, "snap-1", "us-east-1")
	want := map[string]string{
		Type: TypeAutomated, DeleteOn: "2026-11-29", KeepForever: "", GroupID: "g", Description: "d", "team": "db",
		SourceSnapshotID: "snap-1", SourceRegion: "us-east-1",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("tag %s = %q (present %v), want %q", k, g, ok, v)
		}
	}
	if !IsCopy(got) || IsCopy(src) {
		t.Error("IsCopy")
	}
}

// seedDesc is a Description tag as the seed's creator writes it.
const seedDesc = "web-1 (i-0123) - vol-0456 (/dev/sdf) - us-east-1"

func TestCopySourceRegionAndOwner(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		tags       map[string]string
		src, owner string // in us-west-2
	}{
		{"primary", map[string]string{Description: seedDesc}, "", "us-west-2"},
		{"Lifeboat copy", map[string]string{SourceSnapshotID: "snap-1", SourceRegion: "us-east-1", Description: "x - eu-west-1"}, "us-east-1", "us-east-1"},
		{"seed copy", map[string]string{SourceSnapshotID: "snap-1", Description: seedDesc}, "us-east-1", "us-east-1"},
		{"seed v1 description", map[string]string{SourceSnapshotID: "snap-1", Description: "web-1 - vol-0456 (/dev/sdf)"}, "", "us-west-2"},
		{"no description", map[string]string{SourceSnapshotID: "snap-1"}, "", "us-west-2"},
		{"description naming its own region", map[string]string{SourceSnapshotID: "snap-1", Description: "a - b - us-west-2"}, "us-west-2", "us-west-2"},
	}
	for _, c := range cases {
		if got := CopySourceRegion(c.tags); got != c.src {
			t.Errorf("%s: CopySourceRegion = %q, want %q", c.name, got, c.src)
		}
		if got := OwnerRegion(c.tags, "us-west-2"); got != c.owner {
			t.Errorf("%s: OwnerRegion = %q, want %q", c.name, got, c.owner)
		}
	}
}

func TestSeedSnapshotsAreNeverCopyable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		tags           map[string]string
		seed, copyable bool
	}{
		{"seed primary", map[string]string{Type: TypeAutomated, DeleteOn: "2026-11-22", CopyDest: "us-west-2", Description: seedDesc}, true, false},
		{"seed copy", map[string]string{Type: TypeAutomated, DeleteOn: "2026-11-22", SourceSnapshotID: "snap-1", Description: seedDesc}, true, false},
		{"Lifeboat primary", map[string]string{Type: TypeAutomated, ManagedBy: ManagedByLifeboat, GroupID: "lbg-i-1-20261122", CopyDest: "us-west-2"}, false, true},
		{"Lifeboat copy", map[string]string{Type: TypeAutomated, ManagedBy: ManagedByLifeboat, GroupID: "lbg-i-1-20261122", SourceSnapshotID: "snap-1"}, false, false},
		{"manual", map[string]string{DeleteOn: "2026-11-22"}, false, false},
	}
	for _, c := range cases {
		if got := IsSeed(c.tags); got != c.seed {
			t.Errorf("%s: IsSeed = %v", c.name, got)
		}
		if got := Copyable(c.tags); got != c.copyable {
			t.Errorf("%s: Copyable = %v", c.name, got)
		}
	}
}

func TestParseDescription(t *testing.T) {
	t.Parallel()
	inst, vol, dev, ok := ParseDescription(SnapshotDescription("web-1 (blue)", "i-0123", "vol-0456", "/dev/sdf", "us-east-1"))
	if !ok || inst != "i-0123" || vol != "vol-0456" || dev != "/dev/sdf" {
		t.Errorf("ParseDescription = %q %q %q %v", inst, vol, dev, ok)
	}
	for _, bad := range []string{"", "web-1 - vol-0456 (/dev/sdf)", "Created by CreateImage"} {
		if _, _, _, ok := ParseDescription(bad); ok {
			t.Errorf("ParseDescription(%q) accepted", bad)
		}
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	auto := func(kv ...string) map[string]string {
		m := map[string]string{Type: TypeAutomated}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name          string
		tags          map[string]string
		region, owner string
		want          Verdict
	}{
		{"past", auto(DeleteOn, "2026-11-01"), "us-east-1", "us-east-1", Verdict{Delete: true}},
		{"today", auto(DeleteOn, "2026-11-22"), "us-east-1", "us-east-1", Verdict{Delete: true}},
		{"tomorrow", auto(DeleteOn, "2026-11-23"), "us-east-1", "us-east-1", Verdict{Reason: KeepNotDue}},
		{"manual, no Type", map[string]string{DeleteOn: "2026-11-01"}, "us-east-1", "us-east-1", Verdict{Reason: KeepNotAutomated}},
		{"other Type", map[string]string{Type: "Manual", DeleteOn: "2026-11-01"}, "us-east-1", "us-east-1", Verdict{Reason: KeepNotAutomated}},
		{"KeepForever", auto(DeleteOn, "2026-11-01", KeepForever, "Yes"), "us-east-1", "us-east-1", Verdict{Reason: KeepForeverSet}},
		{"KeepForever empty value", auto(DeleteOn, "2026-11-01", KeepForever, ""), "us-east-1", "us-east-1", Verdict{Reason: KeepForeverSet}},
		{"no DeleteOn", auto(), "us-east-1", "us-east-1", Verdict{Reason: KeepNoDeleteOn}},
		{"bad DeleteOn", auto(DeleteOn, "soon"), "us-east-1", "us-east-1", Verdict{Reason: KeepBadDeleteOn}},
		{"own copy in destination", auto(DeleteOn, "2026-11-01", SourceRegion, "us-east-1", SourceSnapshotID, "snap-1"), "us-west-2", "us-east-1", Verdict{Delete: true}},
		{"other region's copy in destination", auto(DeleteOn, "2026-11-01", SourceRegion, "eu-west-1", SourceSnapshotID, "snap-1"), "us-west-2", "us-east-1", Verdict{Reason: KeepOtherOwner}},
		{"other region's copy at home", auto(DeleteOn, "2026-11-01", SourceRegion, "eu-west-1", SourceSnapshotID, "snap-1"), "us-east-1", "us-east-1", Verdict{Reason: KeepOtherOwner}},
		{"seed copy without Source_Region at home", auto(DeleteOn, "2026-11-01", SourceSnapshotID, "snap-1"), "us-east-1", "us-east-1", Verdict{Delete: true}},
		{"seed copy without Source_Region in destination", auto(DeleteOn, "2026-11-01", SourceSnapshotID, "snap-1"), "us-west-2", "us-east-1", Verdict{Reason: KeepOtherOwner}},
		// The seed's copier sets Source_SnapshotId only; its Description
		// (carried from the primary) ends with the source region.
		{"seed copy in destination, by its source's run", auto(DeleteOn, "2026-11-01", SourceSnapshotID, "snap-1", Description, seedDesc), "us-west-2", "us-east-1", Verdict{Delete: true}},
		{"seed copy due today in destination", auto(DeleteOn, "2026-11-22", SourceSnapshotID, "snap-1", Description, seedDesc), "us-west-2", "us-east-1", Verdict{Delete: true}},
		{"seed copy not due in destination", auto(DeleteOn, "2026-11-23", SourceSnapshotID, "snap-1", Description, seedDesc), "us-west-2", "us-east-1", Verdict{Reason: KeepNotDue}},
		{"seed copy KeepForever in destination", auto(DeleteOn, "2026-11-01", SourceSnapshotID, "snap-1", Description, seedDesc, KeepForever, "Yes"), "us-west-2", "us-east-1", Verdict{Reason: KeepForeverSet}},
		{"seed copy, not by its destination's run", auto(DeleteOn, "2026-11-01", SourceSnapshotID, "snap-1", Description, seedDesc), "us-west-2", "us-west-2", Verdict{Reason: KeepOtherOwner}},
		{"seed copy, not by a third region's run", auto(DeleteOn, "2026-11-01", SourceSnapshotID, "snap-1", Description, seedDesc), "us-west-2", "eu-west-1", Verdict{Reason: KeepOtherOwner}},
		{"seed primary at home", auto(DeleteOn, "2026-11-22", CopyDest, "us-west-2", Description, seedDesc), "us-east-1", "us-east-1", Verdict{Delete: true}},
		{"seed primary, not by its copy destination's run", auto(DeleteOn, "2026-11-22", CopyDest, "us-west-2", Description, seedDesc), "us-east-1", "us-west-2", Verdict{Reason: KeepOtherOwner}},
	}
	for _, c := range cases {
		if got := Expiry(c.tags, c.region, c.owner, today); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestParseCopyDestinations(t *testing.T) {
	t.Parallel()
	const own, other = "111111111111", "123456789012"
	cases := []struct {
		name     string
		tag      string
		dests    []string // Dest.String
		problems []string // substrings, one per expected problem
	}{
		{"region", "eu-west-1", []string{"eu-west-1"}, nil},
		{"another account", other + ":eu-west-1", []string{other + ":eu-west-1"}, nil},
		{"another account, the source region", other + ":us-east-1", []string{other + ":us-east-1"}, nil},
		{"own account named is the plain region", own + ":eu-west-1, eu-west-1", []string{"eu-west-1"}, nil},
		{"mixed, upper case, spaces, duplicates", " EU-WEST-1 ," + other + ": US-WEST-2,," + other + ":us-west-2", []string{"eu-west-1", other + ":us-west-2"}, nil},
		{"unknown region", "eu-wset-1,us-west-2", []string{"us-west-2"}, []string{`"eu-wset-1" is not a region: ignored`}},
		{"unknown region in another account", other + ":moon-1", nil, []string{`"moon-1" is not a region`}},
		{"account too short", "12345:eu-west-1", nil, []string{`"12345" is not an AWS account id (12 digits): ignored`}},
		{"account not digits", "prod:eu-west-1", nil, []string{`"prod" is not an AWS account id`}},
		{"account too long", "1234567890123:eu-west-1", nil, []string{"not an AWS account id"}},
		{"no region", other + ":", nil, []string{"is not a region"}},
		{"no account", ":eu-west-1", nil, []string{"not an AWS account id"}},
		{"the source", "us-east-1", nil, []string{"own region in its own account"}},
		{"the source, account named", own + ":us-east-1", nil, []string{"own region in its own account"}},
	}
	for _, c := range cases {
		dests, problems := ParseCopyDestinations(c.tag, own, "us-east-1")
		var got []string
		for _, d := range dests {
			got = append(got, d.String())
		}
		if !slices.Equal(got, c.dests) {
			t.Errorf("%s: dests %v, want %v", c.name, got, c.dests)
		}
		if len(problems) != len(c.problems) {
			t.Errorf("%s: problems %q, want %d", c.name, problems, len(c.problems))
			continue
		}
		for i, p := range c.problems {
			if !strings.Contains(problems[i], p) || !strings.HasPrefix(problems[i], "Copy_Dest: ") {
				t.Errorf("%s: problem %q lacks %q", c.name, problems[i], p)
			}
		}
	}
	// The source's own chain sees only the destinations in its account.
	regions, _ := ParseCopyDest("eu-west-1,"+other+":us-west-2", "us-east-1")
	if !slices.Equal(regions, []string{"eu-west-1"}) {
		t.Errorf("ParseCopyDest: %v, want only eu-west-1", regions)
	}
	// An instance's configuration refuses the source named with its account.
	cfg := ParseInstanceIn(own, "us-east-1", map[string]string{"Backup": "Yes", "Copy_Dest": own + ":us-east-1," + other + ":us-east-1"})
	if !slices.Equal(cfg.CopyDest, []string{other + ":us-east-1"}) || len(cfg.Problems) != 1 {
		t.Errorf("ParseInstanceIn: dests %v problems %v", cfg.CopyDest, cfg.Problems)
	}
}

func TestValidRegion(t *testing.T) {
	t.Parallel()
	for _, r := range []string{"us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "cn-north-1", "il-central-1"} {
		if !ValidRegion(r) {
			t.Errorf("%s refused", r)
		}
	}
	for _, r := range []string{"", "us-east", "US-EAST-1", "us_east_1", "us-east-1a", "useast1", "eu-wset-1", "xx-west-1", "mars-north-1"} {
		if ValidRegion(r) {
			t.Errorf("%q accepted", r)
		}
	}
}

func TestRestoreTestedRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	v := FormatRestoreTested(at, false, 12340*time.Millisecond)
	if v != "2026-12-02T03:04:05Z:failed:12.3" {
		t.Fatalf("FormatRestoreTested = %q", v)
	}
	gotAt, outcome, rto, err := ParseRestoreTested(v)
	if err != nil || !gotAt.Equal(at) || outcome != VerifiedFailed || rto != 12300*time.Millisecond {
		t.Fatalf("ParseRestoreTested(%q) = %v %q %v %v", v, gotAt, outcome, rto, err)
	}
	for _, bad := range []string{"", "2026-12-02T03:04:05Z:ok", "2026-12-02T03:04:05Z:ok:-1", "x:ok:1"} {
		if _, _, _, err := ParseRestoreTested(bad); err == nil {
			t.Errorf("ParseRestoreTested(%q) accepted", bad)
		}
	}
}

func TestExpiryInAccount(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	const acct, owner = "123456789012", "us-east-1"
	ours := func(kv ...string) map[string]string {
		m := map[string]string{Type: TypeAutomated, ManagedBy: ManagedByLifeboat, SourceSnapshotID: "snap-1",
			SourceRegion: owner, SourceAccount: acct, DeleteOn: "2026-11-22"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "-" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name         string
		tags         map[string]string
		ownerAccount string
		want         Verdict
	}{
		{"our copy, due", ours(), acct, Verdict{Delete: true}},
		{"our copy, not due", ours(DeleteOn, "2026-11-23"), acct, Verdict{Reason: KeepNotDue}},
		{"our copy, KeepForever", ours(KeepForever, "yes"), acct, Verdict{Reason: KeepForeverSet}},
		{"our copy, bad DeleteOn", ours(DeleteOn, "soon"), acct, Verdict{Reason: KeepBadDeleteOn}},
		{"no Source_Account (seed-like copy)", ours(SourceAccount, "-"), acct, Verdict{Reason: KeepNotOurs}},
		{"another account's Lifeboat", ours(SourceAccount, "999999999999"), acct, Verdict{Reason: KeepNotOurs}},
		{"another source region", ours(SourceRegion, "eu-west-1"), acct, Verdict{Reason: KeepNotOurs}},
		{"not Lifeboat's", ours(ManagedBy, "-"), acct, Verdict{Reason: KeepNotOurs}},
		{"a primary of that account", ours(SourceSnapshotID, "-"), acct, Verdict{Reason: KeepNotOurs}},
		{"worker account unknown", ours(), "", Verdict{Reason: KeepNotOurs}},
		{"not automated", ours(Type, "-"), acct, Verdict{Reason: KeepNotAutomated}},
	}
	for _, c := range cases {
		if got := ExpiryInAccount(c.tags, c.ownerAccount, owner, today); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
