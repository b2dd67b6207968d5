package activities

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

// A worker runs a restore test's check command only when allowed to
// (--allow-check-commands); otherwise the command is refused, unrun, in one
// line saying how to allow it.
func TestRunCheckOnlyWhenAllowed(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	in := CheckCommandInput{Command: "touch " + marker + "; echo checked $LIFEBOAT_X", Env: map[string]string{"LIFEBOAT_X": "x1"}}
	var s testsuite.WorkflowTestSuite

	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(&Checks{})
	_, err := env.ExecuteActivity((&Checks{}).RunCheck, in)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrCheckCommandsOff || !app.NonRetryable() || !strings.Contains(app.Error(), "--allow-check-commands") {
		t.Fatalf("check command on a worker that does not allow them: %v, want a non-retryable %s naming the flag", err, ErrCheckCommandsOff)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the refused check command ran")
	}

	env = s.NewTestActivityEnvironment()
	allowed := &Checks{Allowed: true}
	env.RegisterActivity(allowed)
	val, err := env.ExecuteActivity(allowed.RunCheck, in)
	if err != nil {
		t.Fatal(err)
	}
	var res CheckCommandResult
	if err := val.Get(&res); err != nil || !strings.Contains(res.Output, "checked x1") {
		t.Fatalf("allowed check command: %+v, %v", res, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the allowed check command did not run")
	}
}
