// Package buildinfo says which build of Lifeboat is running: the module
// version, the VCS commit and the Go toolchain, as the Go linker recorded
// them (debug.ReadBuildInfo). `lifeboat version` and `worker --version`
// print it.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Unknown stands for what the build did not record.
const Unknown = "unknown"

// Info is one build's identity.
type Info struct {
	// Version is the module version: a tag (v1.2.3), a pseudo-version
	// derived from the commit, or "devel" for a build from a work tree
	// Go could not version.
	Version string `json:"version"`
	// Commit is the VCS revision, or "unknown" (built outside a git
	// checkout, with -buildvcs=false, or by `go run`/`go test`).
	Commit string `json:"commit"`
	// CommitTime is the commit's time (RFC 3339), empty when unknown.
	CommitTime string `json:"commitTime,omitempty"`
	// Modified is true when the work tree had uncommitted changes.
	Modified bool `json:"modified"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Read returns the running binary's build information.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: "devel", Commit: Unknown, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return info
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		// Go appends +dirty to a pseudo-version of a modified tree;
		// Modified says so on its own line.
		info.Version = strings.TrimSuffix(v, "+dirty")
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				info.Commit = s.Value
			}
		case "vcs.time":
			info.CommitTime = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// Text is the multi-line form the commands print, after a line naming
// the program.
func (i Info) Text(program string) string {
	commit := i.Commit
	if i.CommitTime != "" {
		commit += " (" + i.CommitTime + ")"
	}
	if i.Modified {
		commit += " with uncommitted changes"
	}
	return fmt.Sprintf("%s %s\ncommit: %s\ngo:     %s %s\n", program, i.Version, commit, i.GoVersion, i.Platform)
}
