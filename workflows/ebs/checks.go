package ebs

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// invalid is an InvalidInput error: the request cannot succeed as given.
func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrInvalidInput, nil)
}

// runDay is the UTC date a run evaluates: --as-of, or today by the
// workflow's clock (deterministic on replay).
func runDay(ctx workflow.Context, asOf string) (time.Time, error) {
	if asOf == "" {
		return ebstags.Day(workflow.Now(ctx)), nil
	}
	d, err := ebstags.ParseDate(asOf)
	if err != nil {
		return time.Time{}, invalid("as-of: %v", err)
	}
	return d, nil
}

func checkRegion(region string) error {
	if !ebstags.ValidRegion(region) {
		return invalid("%q is not an AWS region name (like us-east-1)", region)
	}
	return nil
}

// historyFull reports whether a long workflow should continue as new.
func historyFull(ctx workflow.Context, limit int) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= orDefault(limit, DefaultHistoryLimit)
}

func capAppend[T any](list []T, v ...T) []T {
	room := ebsact.ListCap - len(list)
	if room <= 0 {
		return list
	}
	if len(v) > room {
		v = v[:room]
	}
	return append(list, v...)
}
