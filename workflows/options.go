package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
)

// Activity options the dataset and Redis workflows share, named by purpose.
var (
	// ShortAWSCall is one or a few AWS API calls.
	ShortAWSCall = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: activities.NonRetryable,
		},
	}
	// Compensation must get through: it retries for a long time.
	Compensation = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    0, // unlimited, bounded by ScheduleToClose
		},
		ScheduleToCloseTimeout: 24 * time.Hour,
	}
)
