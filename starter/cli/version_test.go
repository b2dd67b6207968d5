package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/buildinfo"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	// An unreachable Temporal: version must not dial.
	if code := Main(context.Background(), []string{"version", "--temporal-address", "127.0.0.1:1"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "lifeboat ") || !strings.HasPrefix(lines[1], "commit: ") ||
		!strings.Contains(lines[2], runtime.Version()) {
		t.Errorf("version printed %q", out.String())
	}

	out.Reset()
	if code := Main(context.Background(), []string{"version", "--output", "json"}, &out, &errOut); code != 0 {
		t.Fatalf("--output json: exit %d: %s", code, errOut.String())
	}
	var info buildinfo.Info
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		t.Fatalf("--output json: %v", err)
	}
	if info.Version == "" || info.Commit == "" || info.GoVersion != runtime.Version() {
		t.Errorf("--output json: %+v", info)
	}

	requireRefused(t, [][]string{{"version", "--output", "yaml"}, {"version", "extra"}})
}
