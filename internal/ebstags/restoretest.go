package ebstags

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RestoreTested is the tag a snapshots restore test leaves on every
// snapshot of the group it restored: "<RFC3339 time>:<ok|failed>:<RTO
// seconds>", the RTO being how long the volumes took to become available.
const RestoreTested = "lifeboat:restore-tested"

// RestoreTest marks the scratch volumes a snapshots restore test creates:
// its value is the test's workflow id. The test deletes exactly the
// volumes carrying its id, and no other.
const RestoreTest = "lifeboat:restore-test"

// FormatRestoreTested is a RestoreTested tag value.
func FormatRestoreTested(at time.Time, ok bool, rto time.Duration) string {
	return FormatVerified(at, ok) + ":" + strconv.FormatFloat(rto.Seconds(), 'f', 1, 64)
}

// ParseRestoreTested reads a RestoreTested tag value.
func ParseRestoreTested(v string) (at time.Time, outcome string, rto time.Duration, err error) {
	i := strings.LastIndex(v, ":")
	if i < 0 {
		return time.Time{}, "", 0, fmt.Errorf("%s=%q: want <RFC3339 time>:<ok|failed>:<seconds>", RestoreTested, v)
	}
	secs, err := strconv.ParseFloat(v[i+1:], 64)
	if err != nil || secs < 0 {
		return time.Time{}, "", 0, fmt.Errorf("%s=%q: RTO %q is not a number of seconds", RestoreTested, v, v[i+1:])
	}
	at, outcome, err = ParseVerified(v[:i])
	if err != nil {
		return time.Time{}, "", 0, fmt.Errorf("%s=%q: %w", RestoreTested, v, err)
	}
	return at, outcome, time.Duration(secs * float64(time.Second)), nil
}
