package client

import (
	"errors"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
)

func TestParseOverlap(t *testing.T) {
	for in, want := range map[string]enumspb.ScheduleOverlapPolicy{
		"skip":            enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		"Skip":            enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		"buffer-one":      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
		"BUFFER_ALL":      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL,
		"cancel-other":    enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER,
		"terminate-other": enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER,
		"allow-all":       enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
	} {
		got, err := ParseOverlap(in)
		if err != nil || got != want {
			t.Errorf("ParseOverlap(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := ParseOverlap(OverlapName(got)); back != got {
			t.Errorf("OverlapName(%v) = %q does not parse back", got, OverlapName(got))
		}
	}
	for _, bad := range []string{"", "unspecified", "never", "skip-all"} {
		var invalid *InvalidInputError
		if _, err := ParseOverlap(bad); !errors.As(err, &invalid) {
			t.Errorf("ParseOverlap(%q): %v, want InvalidInputError", bad, err)
		}
	}
}

func TestScheduleCheck(t *testing.T) {
	for name, tc := range map[string]struct {
		s  Schedule
		ok bool
	}{
		"cron":            {Schedule{ID: "nightly", Cron: "0 2 * * *"}, true},
		"every":           {Schedule{ID: "hourly", Every: time.Hour}, true},
		"time zone":       {Schedule{ID: "n", Cron: "@daily", TimeZone: "Europe/Berlin"}, true},
		"no timetable":    {Schedule{ID: "n"}, false},
		"both":            {Schedule{ID: "n", Cron: "@daily", Every: time.Hour}, false},
		"sub-second":      {Schedule{ID: "n", Every: time.Millisecond}, false},
		"bad id":          {Schedule{ID: "has space", Every: time.Hour}, false},
		"no id":           {Schedule{Every: time.Hour}, false},
		"bad zone":        {Schedule{ID: "n", Cron: "@daily", TimeZone: "Mars/Olympus"}, false},
		"negative window": {Schedule{ID: "n", Every: time.Hour, CatchupWindow: -time.Minute}, false},
		"rpo":             {Schedule{ID: "n", Every: time.Hour, RPO: 2 * time.Hour}, true},
		"negative rpo":    {Schedule{ID: "n", Every: time.Hour, RPO: -time.Hour}, false},
	} {
		err := tc.s.Check()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Check() = %v, want ok=%t", name, err, tc.ok)
		}
	}
}

func TestRunFilterQuery(t *testing.T) {
	got := RunFilter{Operation: "backup", Dataset: "prod/orders", ScheduleID: "nightly"}.Query("lifeboat")
	want := "LifeboatOperation = 'backup' AND LifeboatDatasets = 'prod/orders' AND LifeboatScheduleId = 'nightly' AND TaskQueue = 'lifeboat'"
	if got != want {
		t.Errorf("Query:\n got %s\nwant %s", got, want)
	}
}

// TestScheduleInterval: the target a scheduled backup gets from its
// timetable is the longest gap between two runs.
func TestScheduleInterval(t *testing.T) {
	t.Parallel()
	from := time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC) // a Wednesday
	for name, tc := range map[string]struct {
		s    Schedule
		want time.Duration
	}{
		"every":            {Schedule{Every: 6 * time.Hour}, 6 * time.Hour},
		"nightly":          {Schedule{Cron: "0 2 * * *"}, 24 * time.Hour},
		"daily descriptor": {Schedule{Cron: "@daily"}, 24 * time.Hour},
		"every 15 minutes": {Schedule{Cron: "*/15 * * * *"}, 15 * time.Minute},
		"twice a day":      {Schedule{Cron: "0 2,8 * * *"}, 18 * time.Hour},
		"weekdays":         {Schedule{Cron: "30 3 * * 1-5"}, 72 * time.Hour},
		"monthly":          {Schedule{Cron: "0 0 1 * *"}, 31 * 24 * time.Hour},
		// Not 47h: 02:00 does not exist on the night clocks go forward.
		"nightly in Berlin": {Schedule{Cron: "0 2 * * *", TimeZone: "Europe/Berlin"}, 24 * time.Hour},
		"unreadable":        {Schedule{Cron: "0 2 * * * * * *"}, 0},
		"never runs":        {Schedule{Cron: "0 0 30 2 *"}, 0},
		"no timetable":      {Schedule{}, 0},
		"RPO aside":         {Schedule{Every: time.Hour, RPO: 3 * time.Hour}, time.Hour},
	} {
		if got := tc.s.Interval(from); got != tc.want {
			t.Errorf("%s: Interval = %s, want %s", name, got, tc.want)
		}
	}
	if got := (Schedule{Every: time.Hour, RPO: 3 * time.Hour}).rpoSeconds(from); got != 3*3600 {
		t.Errorf("rpoSeconds with RPO 3h = %d, want 10800", got)
	}
	if got := (Schedule{Cron: "0 2 * * *"}).rpoSeconds(from); got != 24*3600 {
		t.Errorf("rpoSeconds of a nightly schedule = %d, want 86400", got)
	}
}
