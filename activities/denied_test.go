package activities

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"
)

func TestDeniedIsOneNonRetryableLineNamingTheAction(t *testing.T) {
	t.Parallel()
	aws := &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject",
		Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}}
	err := Denied(fmt.Errorf("write manifest s3://b/k:\n%w", aws))
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrAccessDenied || !app.NonRetryable() {
		t.Fatalf("Denied = %#v, want a non-retryable %s application error", err, ErrAccessDenied)
	}
	if msg := app.Message(); strings.Contains(msg, "\n") || !strings.Contains(msg, "s3:PutObject") || !strings.Contains(msg, "write manifest") {
		t.Errorf("message %q: want one line naming s3:PutObject and what was done", msg)
	}
	if !errors.As(err, new(*smithy.OperationError)) {
		t.Error("the AWS error is not kept as the cause")
	}
	// Named once: the interceptor's Denied over an activity's own leaves it.
	if again := Denied(err); again != err {
		t.Errorf("Denied twice = %q, want the first answer %q unchanged", again, app.Message())
	}
	other := errors.New("throttled")
	if Denied(other) != other || Denied(nil) != nil {
		t.Error("Denied changed an error that is not a refusal")
	}
}
