package deploytest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var systemdDir = filepath.Join(repoRoot, "deploy", "systemd")

// The worker's path once installed (make install PREFIX=/usr/local).
const installedWorker = "/usr/local/bin/lifeboat-worker"

var units = []string{"lifeboat-worker.service", "lifeboat-redis-sidecar@.service"}

// unitFile is a parsed unit: section → key → values in order.
type unitFile map[string]map[string][]string

// parseUnit reads systemd's unit syntax: [Section], Key=Value, # and ;
// comments, lines continued with a trailing backslash.
func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	var cont string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cont != "" {
			line = cont + " " + line
			cont = ""
		}
		if strings.HasSuffix(line, `\`) {
			cont = strings.TrimSuffix(line, `\`)
			continue
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: cannot parse %q", path, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

func (u unitFile) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// TestSystemdUnitsVerify runs systemd-analyze verify, which reports unknown
// keys and bad values (as warnings: its exit code stays 0, so any line about
// our units fails the test). The worker's install path is swapped for a
// stand-in executable, since verify checks that ExecStart's program exists.
func TestSystemdUnitsVerify(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	stand := filepath.Join(dir, "lifeboat-worker")
	if err := os.WriteFile(stand, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range units {
		b, err := os.ReadFile(filepath.Join(systemdDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(installedWorker)) {
			t.Errorf("%s does not run %s", name, installedWorker)
		}
		b = bytes.ReplaceAll(b, []byte(installedWorker), []byte(stand))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The template is verified as an instance, with %i filled in.
	for _, name := range []string{"lifeboat-worker.service", "lifeboat-redis-sidecar@n1.service"} {
		cmd := exec.Command(analyze, "verify", "--man=no", name)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
			continue
		}
		stem := strings.SplitN(name, "@", 2)[0]
		stem = strings.TrimSuffix(stem, ".service")
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			switch {
			case line == "":
			case strings.Contains(line, stem):
				t.Errorf("systemd-analyze verify %s: %s", name, line)
			default:
				t.Logf("systemd-analyze verify %s (not about our unit): %s", name, line)
			}
		}
	}
}

// TestSystemdUnitsSettings: what the units promise in their comments and
// README, and the names they give the worker.
func TestSystemdUnitsSettings(t *testing.T) {
	t.Parallel()
	w := loadWorkerNames(t)
	var checks []*nameCheck
	for _, name := range units {
		u := parseUnit(t, filepath.Join(systemdDir, name))
		svc := u["Service"]
		for key, want := range map[string]string{
			"Restart": "on-failure", "KillSignal": "SIGTERM", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
			"PrivateTmp": "yes", "CapabilityBoundingSet": "",
		} {
			if _, ok := svc[key]; !ok || u.last("Service", key) != want {
				t.Errorf("%s: %s=%q, want %q", name, key, u.last("Service", key), want)
			}
		}
		if u.last("Service", "TimeoutStopSec") == "" {
			t.Errorf("%s: no TimeoutStopSec", name)
		}
		if u.last("Service", "DynamicUser") != "yes" && u.last("Service", "User") == "" {
			t.Errorf("%s: runs as root (no DynamicUser= or User=)", name)
		}
		if !slices.Contains(svc["EnvironmentFile"], "/etc/lifeboat/worker.env") {
			t.Errorf("%s: does not read /etc/lifeboat/worker.env", name)
		}

		execStart := u.last("Service", "ExecStart")
		c := &nameCheck{w: w, where: name}
		c.args(strings.Fields(execStart))
		for _, e := range svc["Environment"] {
			k, _, _ := strings.Cut(e, "=")
			c.env(k, regexp.MustCompile(`\$\{?`+regexp.QuoteMeta(k)+`\b`).MatchString(execStart))
		}
		checks = append(checks, c)
	}

	// The sidecar stops Redis itself: a dependency that stops the sidecar
	// with Redis would kill it in the middle of a restore.
	sidecar := parseUnit(t, filepath.Join(systemdDir, "lifeboat-redis-sidecar@.service"))
	for _, key := range []string{"Requires", "BindsTo", "PartOf", "Requisite"} {
		for _, v := range sidecar["Unit"][key] {
			if strings.Contains(v, "redis") {
				t.Errorf("lifeboat-redis-sidecar@.service: %s=%s: stopping Redis would stop the sidecar", key, v)
			}
		}
	}
	if rw := sidecar["Service"]["ReadWritePaths"]; !slices.Contains(rw, "/var/lib/redis") {
		t.Errorf("lifeboat-redis-sidecar@.service: Redis's data directory is not writable (ReadWritePaths=%v)", rw)
	}

	// Every name in the example env file, commented examples included.
	b, err := os.ReadFile(filepath.Join(systemdDir, "worker.env"))
	if err != nil {
		t.Fatal(err)
	}
	c := &nameCheck{w: w, where: "worker.env"}
	for _, m := range regexp.MustCompile(`(?m)^#?([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(string(b), -1) {
		c.env(m[1], false)
	}
	reportNames(t, append(checks, c))
}
