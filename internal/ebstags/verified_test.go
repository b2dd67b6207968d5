package ebstags

import (
	"testing"
	"time"
)

func TestVerifiedTag(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	if got := FormatVerified(at, true); got != "2026-12-02T02:04:05Z:ok" {
		t.Errorf("FormatVerified ok = %q", got)
	}
	if got := FormatVerified(at, false); got != "2026-12-02T02:04:05Z:failed" {
		t.Errorf("FormatVerified failed = %q", got)
	}
	for _, c := range []struct {
		in      string
		outcome string
		bad     bool
	}{
		{in: "2026-12-02T02:04:05Z:ok", outcome: VerifiedOK},
		{in: "2026-12-02T02:04:05Z:failed", outcome: VerifiedFailed},
		{in: "2026-12-02T02:04:05Z:maybe", bad: true},
		{in: "yesterday:ok", bad: true},
		{in: "ok", bad: true},
	} {
		got, outcome, err := ParseVerified(c.in)
		switch {
		case c.bad && err == nil:
			t.Errorf("ParseVerified(%q) accepted it", c.in)
		case !c.bad && (err != nil || outcome != c.outcome || !got.Equal(at)):
			t.Errorf("ParseVerified(%q) = %v, %q, %v", c.in, got, outcome, err)
		}
	}
}
