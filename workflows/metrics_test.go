package workflows_test

import (
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/metrics"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

func TestEveryLifeboatMetricHasHelp(t *testing.T) {
	t.Parallel()
	for _, m := range workflows.Metrics {
		if metrics.Help[m] == "" {
			t.Errorf("metric %s has no HELP text in internal/metrics.Help", m)
		}
	}
}

func TestRefusalReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		reason string // "" when not a refusal
	}{
		{activities.Invalid(&registry.NotFoundError{Kind: "dataset", Env: "e", ID: "d"}), workflows.RefusedNotFound},
		{activities.Invalid(&registry.RedisClusterNotFoundError{Cluster: "c"}), workflows.RefusedNotFound},
		{activities.Classify(&registry.AlreadyExistsError{Kind: "store", Env: "e", ID: "s"}), workflows.RefusedExists},
		{activities.Invalid(&redisbackup.NoBackupError{Cluster: "c"}), workflows.RefusedNoBackup},
		{activities.Invalid(errors.New("retention policy keeps neither a count nor days")), workflows.RefusedInvalidInput},
		// As a workflow sees it after the server: the cause typed by its Go type name.
		{temporal.NewNonRetryableApplicationError("x", activities.ErrInvalidInput, temporal.NewApplicationError("x", "NotFoundError")), workflows.RefusedNotFound},
		{fmt.Errorf("activity error: %w", activities.Invalid(errors.New("bad"))), workflows.RefusedInvalidInput},
		// Failures, not refusals.
		{temporal.NewNonRetryableApplicationError("held", activities.ErrDatasetHeld, nil), ""},
		{temporal.NewNonRetryableApplicationError("boom", activities.ErrExportFailed, nil), ""},
		{errors.New("network down"), ""},
	}
	for _, c := range cases {
		reason, refused := workflows.RefusalReason(c.err)
		if reason != c.reason || refused != (c.reason != "") {
			t.Errorf("RefusalReason(%v) = %q, %t; want %q", c.err, reason, refused, c.reason)
		}
	}
}
