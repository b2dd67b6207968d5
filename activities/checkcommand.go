package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// CheckCommandInput is a restore test's user-supplied check command and
// the variables naming the scratch target it checks.
type CheckCommandInput struct {
	// Command is run by /bin/sh -c on the worker, with the worker's
	// environment plus Env, so it can name the target as "$LIFEBOAT_…".
	Command string            `json:"command"`
	Env     map[string]string `json:"env"`
	// TimeoutSeconds bounds the command (DefaultCheckTimeout when 0).
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// CheckCommandResult is a check command that exited 0.
type CheckCommandResult struct {
	// Output is the start of what it printed (stdout and stderr).
	Output string `json:"output,omitempty"`
	Millis int64  `json:"millis"`
}

// DefaultCheckTimeout bounds a check command given no timeout.
const DefaultCheckTimeout = 10 * time.Minute

// maxCheckOutput is how much of a check command's output is kept.
const maxCheckOutput = 4096

// Checks runs restore tests' check commands on the worker (the one
// activity group every domain shares).
type Checks struct {
	// Env is given to every check command besides its own variables: the
	// worker's AWS region and endpoint, so the command reaches what the
	// worker reaches.
	Env map[string]string
	// Allowed says the worker runs check commands at all (config's
	// AllowCheckCommands); otherwise RunCheck refuses them.
	Allowed bool
}

// CheckCommandsOff is the refusal of a check command by a worker that does
// not run them.
func CheckCommandsOff() error {
	return temporal.NewNonRetryableApplicationError(
		"this worker does not run check commands: start the workers with --allow-check-commands (LIFEBOAT_ALLOW_CHECK_COMMANDS=true) "+
			"if whoever may start workflows on the task queue may run commands on them, or drop --check-command",
		ErrCheckCommandsOff, nil)
}

// RunCheck runs a restore test's check command with the worker's
// variables (c.Env) and the test's (in.Env, which win): RunCheckCommand.
func (c *Checks) RunCheck(ctx context.Context, in CheckCommandInput) (*CheckCommandResult, error) {
	if !c.Allowed {
		return nil, CheckCommandsOff()
	}
	env := make(map[string]string, len(c.Env)+len(in.Env))
	for k, v := range c.Env {
		env[k] = v
	}
	for k, v := range in.Env {
		env[k] = v
	}
	in.Env = env
	return RunCheckCommand(ctx, in)
}

// RunCheckCommand runs a restore test's check command, heartbeating while
// it runs; it is killed when the activity is cancelled or its timeout
// passes. A non-zero exit (or a timeout) fails with ErrCheckCommand, not
// retried, whose one-line message holds the first lines of its output.
func RunCheckCommand(ctx context.Context, in CheckCommandInput) (*CheckCommandResult, error) {
	if strings.TrimSpace(in.Command) == "" {
		return nil, Invalid(errors.New("empty check command"))
	}
	timeout := DefaultCheckTimeout
	if in.TimeoutSeconds > 0 {
		timeout = time.Duration(in.TimeoutSeconds) * time.Second
	}
	hb := KeepAlive(ctx, HeartbeatEvery, nil)
	defer hb.Stop()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, "/bin/sh", "-c", in.Command)
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(in.Env))
	for k := range in.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+in.Env[k])
	}
	out := &capped{max: maxCheckOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second // a child holding the pipes open does not hold the activity
	start := time.Now()
	err := cmd.Run()
	res := &CheckCommandResult{Output: out.String(), Millis: time.Since(start).Milliseconds()}
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err() // the activity was cancelled: no verdict
	}
	why := err.Error()
	var exit *exec.ExitError
	switch {
	case cctx.Err() != nil:
		why = "did not finish within " + timeout.String()
	case errors.As(err, &exit):
		why = fmt.Sprintf("exited %d", exit.ExitCode())
	}
	msg := fmt.Sprintf("check command %s", why)
	if first := FirstLines(res.Output, 3, 300); first != "" {
		msg += ": " + first
	}
	return nil, temporal.NewNonRetryableApplicationError(msg, ErrCheckCommand, err, res)
}

// FirstLines is the first n non-empty lines of s joined with " | ", cut
// at max characters: a command's output as a one-line reason.
func FirstLines(s string, n, max int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
			if len(lines) == n {
				break
			}
		}
	}
	out := strings.Join(lines, " | ")
	if len(out) > max {
		out = out[:max] + "…"
	}
	return out
}

// capped keeps the first max bytes written to it.
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }
