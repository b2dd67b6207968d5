package ebstags

import (
	"fmt"
	"strings"
	"time"
)

// Verified is the tag a SnapshotsVerify run leaves on every snapshot of the
// group it checked (primaries and copies): "<RFC3339 time>:<ok|failed>".
// A group has no folder to hold a verified.json, and the tag travels with
// the snapshots it speaks of.
const Verified = "lifeboat:verified"

// Outcomes of a verification, in the Verified tag.
const (
	VerifiedOK     = "ok"
	VerifiedFailed = "failed"
)

// FormatVerified is a Verified tag value.
func FormatVerified(at time.Time, ok bool) string {
	outcome := VerifiedOK
	if !ok {
		outcome = VerifiedFailed
	}
	return at.UTC().Format(time.RFC3339) + ":" + outcome
}

// ParseVerified reads a Verified tag value (the time holds colons too: the
// outcome is after the last one).
func ParseVerified(v string) (at time.Time, outcome string, err error) {
	i := strings.LastIndex(v, ":")
	if i < 0 {
		return time.Time{}, "", fmt.Errorf("%s=%q: want <RFC3339 time>:<ok|failed>", Verified, v)
	}
	outcome = v[i+1:]
	if outcome != VerifiedOK && outcome != VerifiedFailed {
		return time.Time{}, "", fmt.Errorf("%s=%q: outcome %q is not ok or failed", Verified, v, outcome)
	}
	at, err = time.Parse(time.RFC3339, v[:i])
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%s=%q: %w", Verified, v, err)
	}
	return at, outcome, nil
}
