package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
)

// ErrAccessDenied is the error type of an activity AWS refused for want of
// permission: retrying cannot grant it, so it is not retried, and its one
// line names the IAM action to allow (deploy/iam/ holds the policies).
const ErrAccessDenied = "AccessDenied"

// Denied turns err into a non-retryable AccessDenied error naming the IAM
// action when AWS refused the request for want of permission, and returns
// any other error unchanged.
func Denied(err error) error {
	if err == nil {
		return nil
	}
	// An activity that already judged the refusal bad input (a role the
	// user named that cannot be assumed, a bucket it may not use) said
	// so in its own words: the request is wrong, not Lifeboat's grants.
	// Nor is a refusal already named (an activity's own Denied, then the
	// interceptor's) named twice.
	var app *temporal.ApplicationError
	if errors.As(err, &app) && (app.Type() == ErrInvalidInput || app.Type() == ErrAccessDenied) {
		return err
	}
	action, ok := awsx.DeniedAction(err)
	if !ok {
		return err
	}
	msg := fmt.Sprintf("AccessDenied: AWS refused %s to Lifeboat's identity (grant it: deploy/iam/): %s",
		action, strings.Join(strings.Fields(err.Error()), " "))
	return temporal.NewNonRetryableApplicationError(msg, ErrAccessDenied, err)
}

// DeniedInterceptor applies Denied to every activity's error, so a missing
// permission fails its step at once, wherever the AWS call was made.
type DeniedInterceptor struct {
	interceptor.WorkerInterceptorBase
}

// InterceptActivity implements interceptor.WorkerInterceptor.
func (*DeniedInterceptor) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &deniedActivity{}
	i.Next = next
	return i
}

type deniedActivity struct {
	interceptor.ActivityInboundInterceptorBase
}

func (a *deniedActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	out, err := a.Next.ExecuteActivity(ctx, in)
	return out, Denied(err)
}
