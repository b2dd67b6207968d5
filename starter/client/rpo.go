package client

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Interval is the longest time between two runs of the schedule: Every, or
// for a cron expression the longest gap between its runs over the year
// after from (a weekday-only schedule's is the weekend). Daylight-saving
// shifts aside: the expression is read in UTC, as the gaps are the same in
// any zone but on the nights clocks change (a run skipped or an hour off
// once a year should not set the target for all of it). Zero when it
// cannot tell: an expression this parser cannot read (the Temporal server
// reads more forms) or one that never runs.
func (s Schedule) Interval(from time.Time) time.Duration {
	if s.Every > 0 {
		return s.Every
	}
	sched, err := cron.ParseStandard(s.Cron)
	if err != nil {
		return 0
	}
	first := sched.Next(from.UTC())
	if first.IsZero() {
		return 0
	}
	var longest time.Duration
	// 2,000 runs cover a year of anything hourly or rarer; more frequent
	// expressions repeat within a day.
	end := first.AddDate(1, 0, 1)
	for prev, i := first, 0; i < 2000 && prev.Before(end); i++ {
		next := sched.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}

// rpoSeconds is the target a scheduled backup is given: RPO when set, else
// the schedule's interval; 0 when neither is known.
func (s Schedule) rpoSeconds(now time.Time) int64 {
	if s.RPO > 0 {
		return int64(s.RPO / time.Second)
	}
	return int64(s.Interval(now) / time.Second)
}
