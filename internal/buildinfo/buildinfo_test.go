package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		bi   *debug.BuildInfo
		want Info
	}{
		{"no build info", nil, Info{Version: "devel", Commit: Unknown, GoVersion: runtime.Version()}},
		{"go run / go test: no version, no VCS", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			Info{Version: "devel", Commit: Unknown, GoVersion: "go1.26.8"}},
		{"tagged release", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.time", Value: "2026-11-01T10:00:00Z"}, {Key: "vcs.modified", Value: "false"},
		}}, Info{Version: "v1.4.0", Commit: "0123456789abcdef0123456789abcdef01234567", CommitTime: "2026-11-01T10:00:00Z", GoVersion: "go1.26.8"}},
		{"modified work tree", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261101100000-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789ab"}, {Key: "vcs.modified", Value: "true"},
		}}, Info{Version: "v0.0.0-20261101100000-0123456789ab", Commit: "0123456789ab", Modified: true, GoVersion: "go1.26.8"}},
	}
	for _, c := range cases {
		got := fromBuildInfo(c.bi)
		c.want.Platform = runtime.GOOS + "/" + runtime.GOARCH
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	got := Info{Version: "v1.4.0", Commit: "abc", CommitTime: "2026-11-01T10:00:00Z", Modified: true, GoVersion: "go1.26.8", Platform: "linux/amd64"}.Text("worker")
	want := "worker v1.4.0\ncommit: abc (2026-11-01T10:00:00Z) with uncommitted changes\ngo:     go1.26.8 linux/amd64\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := Read().Text("lifeboat"); !strings.Contains(got, runtime.Version()) {
		t.Errorf("Read().Text lacks the Go version: %q", got)
	}
}
