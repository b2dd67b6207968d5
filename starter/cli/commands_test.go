package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// One dev server, moto and pair of workers for the package's integration
// test, started only when it runs (not with -short).
var pkgEnv = testenv.Shared{Name: "cli"}

func TestMain(m *testing.M) { os.Exit(pkgEnv.Main(m)) }

// commandTree is the CLI's command tree, for tests that walk it.
func commandTree() *cobra.Command {
	a := &app{out: io.Discard, err: io.Discard}
	return a.rootCommand()
}

// walk calls fn for cmd and every command below it.
func walk(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, c := range cmd.Commands() {
		walk(c, fn)
	}
}

// cliCase is one run of the CLI in TestEveryCommand.
type cliCase struct {
	args []string
	code int
	// check, if set, looks at stdout (parsed JSON when args ask for it).
	check func(t *testing.T, stdout string, doc any)
	// checkErr, if set, looks at stderr.
	checkErr func(t *testing.T, stderr string)
	// progress: a waiting command prints progress lines on stderr before
	// its error; the one-line rule applies to the last line.
	progress bool
}

// TestEveryCommand runs every command of the CLI against a real stack
// (Temporal dev server, moto, two workers): each command at least once, list
// and status commands with --output json (stdout must be one JSON
// document), and each exit code of README's table (0 success, 1 failure,
// 2 bad input or not found, 3 a write refused) at least once. A command
// added without a case here fails the test.
func TestEveryCommand(t *testing.T) {
	e := pkgEnv.Get(t)
	// The CLI reads AWS settings from the environment: no t.Parallel. The
	// workers' DynamoDB and S3 are in us-east-1; snapshots name their region.
	e.UseForCLI(t, "us-east-1")
	const region = "ap-south-1"
	ctx := testenv.Context(t, 5*time.Minute)
	env, ds, loc := e.ID("cli"), "orders", e.NewBackupLocation(t)
	cluster, node := e.ID("shop"), e.ID("n")
	inst := e.RunInstance(t, region, region+"a", map[string]string{"Backup": "Yes", "Name": "cli"}, "/dev/sdf")
	target := []string{"--backup-location", loc, "--env-id", env, "--dataset-id", ds}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }

	run := func(args []string) (int, string, string) {
		var out, errOut bytes.Buffer
		all := with([]string{"--temporal-address", e.TemporalAddress, "--task-queue", e.Config.TaskQueue,
			"--control-table", e.Config.ControlTable, "--table-prefix", e.Config.TablePrefix}, args...)
		code := Main(ctx, all, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	// Values found by earlier cases, used by later ones.
	var backupWorkflow, restoreWorkflow, backupID, activeTable, snapGroup string
	firstLine := func(s string) string { return strings.SplitN(strings.TrimSpace(s), "\n", 2)[0] }
	field := func(doc any, i int, key string) string {
		t.Helper()
		list, ok := doc.([]any)
		if !ok || len(list) <= i {
			t.Fatalf("want a JSON array with at least %d entries, got %v", i+1, doc)
		}
		s, _ := list[i].(map[string]any)[key].(string)
		return s
	}

	steps := []func() cliCase{
		func() cliCase { return cliCase{args: []string{"env", "create", "--env-id", env}} },
		func() cliCase { return cliCase{args: []string{"env", "create", "--env-id", env}, code: ExitInvalid} }, // exists
		func() cliCase {
			return cliCase{args: []string{"dataset", "create", "--env-id", env, "--dataset-id", ds}}
		},
		func() cliCase {
			// stderr is not a terminal here: plain progress lines, no bar.
			return cliCase{args: []string{"data", "load", "--env-id", env, "--dataset-id", ds, "--count", "20"},
				checkErr: func(t *testing.T, stderr string) {
					if strings.Contains(stderr, "\r") || !strings.Contains(stderr, "20/20 items (100%)") || strings.Count(stderr, "\n") > 10 {
						t.Errorf("data load progress off a terminal: %q, want at most 10 plain lines ending at 100%%", stderr)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"data", "put", "--env-id", env, "--dataset-id", ds, "--key", "k1", "--value", "v1"}}
		},
		func() cliCase {
			return cliCase{args: []string{"data", "get", "--env-id", env, "--dataset-id", ds, "--key", "k1"},
				check: func(t *testing.T, out string, _ any) {
					if out != "v1\n" {
						t.Errorf("data get printed %q, want v1", out)
					}
				}}
		},
		// Not found is bad input: exit 2.
		func() cliCase {
			return cliCase{args: []string{"data", "get", "--env-id", env, "--dataset-id", ds, "--key", "nope"}, code: ExitInvalid}
		},
		func() cliCase {
			return cliCase{args: []string{"data", "count", "--env-id", env, "--dataset-id", ds},
				check: func(t *testing.T, out string, _ any) {
					if out != "21\n" {
						t.Errorf("data count printed %q, want 21", out)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"env", "show", "--env-id", env, "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					if m, _ := doc.(map[string]any); m["envId"] != env || m["activeStore"] != "initial" {
						t.Errorf("env show json: %v", doc)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"dataset", "list", "--env-id", env, "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					if field(doc, 0, "datasetId") != ds || field(doc, 0, "status") != "RUNNING" {
						t.Errorf("dataset list json: %v", doc)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: with([]string{"backup-dataset", "--wait"}, target...),
				check: func(_ *testing.T, out string, _ any) { backupWorkflow = firstLine(out) }}
		},
		func() cliCase {
			return cliCase{args: []string{"backup-status", "--env-id", env, "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					if _, ok := doc.([]any); !ok {
						t.Errorf("backup-status json is not an array: %v", doc)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"backup-status", "--workflow-id", backupWorkflow, "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					m, _ := doc.(map[string]any)
					if m["status"] != "Completed" || m["type"] != "DatasetBackup" || m["progress"] == nil {
						t.Errorf("backup-status --workflow-id json: %v", doc)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: with([]string{"backup", "list", "--output", "json"}, target...),
				check: func(t *testing.T, _ string, doc any) {
					if backupID = field(doc, 0, "backupId"); backupID == "" || field(doc, 0, "storeId") != "initial" {
						t.Errorf("backup list json: %v", doc)
					}
				}}
		},
		// The old spelling --note still sets --reason.
		func() cliCase {
			return cliCase{args: with([]string{"backup", "keep", "--backup-id", backupID, "--note", "audit"}, target...)}
		},
		func() cliCase {
			return cliCase{args: with([]string{"backup", "unkeep", "--backup-id", backupID}, target...)}
		},
		func() cliCase {
			return cliCase{args: with([]string{"backup", "keep", "--backup-id", "20000101T000000.000Z"}, target...), code: ExitInvalid}
		},
		func() cliCase {
			return cliCase{args: with([]string{"backup", "prune", "--retain", "1", "--dry-run"}, target...)}
		},
		func() cliCase {
			return cliCase{args: with([]string{"backup", "verify", "--backup-id", backupID}, target...)}
		},
		// backup verify recorded its verdict beside the backup.
		func() cliCase {
			return cliCase{args: with([]string{"backup", "list", "--output", "json"}, target...),
				check: func(t *testing.T, _ string, doc any) {
					list, _ := doc.([]any)
					if len(list) == 0 {
						t.Fatalf("backup list json after verify: %v", doc)
					}
					if v, _ := list[0].(map[string]any)["verified"].(map[string]any); v["outcome"] != "ok" {
						t.Errorf("backup list json after verify: verified %v, want outcome ok", v)
					}
				}}
		},
		// report: the dataset, backed up and verified, within its own 1h RPO: green.
		func() cliCase {
			return cliCase{args: []string{"dataset", "set-rpo", "--env-id", env, "--dataset-id", ds, "--rpo", "1h"}}
		},
		func() cliCase {
			return cliCase{args: []string{"dataset", "set-rpo", "--env-id", env, "--dataset-id", "nope", "--rpo", "1h"}, code: ExitInvalid}
		},
		func() cliCase {
			return cliCase{args: []string{"report", "--env-id", env, "--backup-location", loc, "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					m, _ := doc.(map[string]any)
					list, _ := m["resources"].([]any)
					if len(list) != 1 {
						t.Fatalf("report json: %v", doc)
					}
					r, _ := list[0].(map[string]any)
					if r["resource"] != env+"/"+ds || r["status"] != "ok" || r["coverage"] != "green" || r["rpoTargetSeconds"] != 3600.0 {
						t.Errorf("report json: %v, want %s/%s ok and green against 1h", r, env, ds)
					}
				}}
		},
		func() cliCase { return cliCase{args: []string{"report", "--output", "pdf"}, code: ExitInvalid} },
		// A restore test of the environment's newest backup passes and is
		// recorded beside it; a failing check command exits 1 in one line.
		func() cliCase {
			return cliCase{args: []string{"restore-test", "run", "--kind", "dataset", "--env-id", env, "--backup-location", loc, "--sample-size", "5"},
				check: func(t *testing.T, out string, _ any) {
					if !strings.Contains(out, "restore test passed") || !strings.Contains(out, "5 sampled items match") {
						t.Errorf("restore-test run printed %q", out)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: with([]string{"backup", "list", "--output", "json"}, target...),
				check: func(t *testing.T, _ string, doc any) {
					list, _ := doc.([]any)
					if len(list) == 0 {
						t.Fatalf("backup list json after restore-test: %v", doc)
					}
					if r, _ := list[0].(map[string]any)["restoreTest"].(map[string]any); r["outcome"] != "ok" || r["rtoSeconds"] == nil {
						t.Errorf("backup list json after restore-test: restoreTest %v, want outcome ok with an RTO", r)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"restore-test", "run", "--kind", "dataset", "--env-id", env, "--backup-location", loc,
				"--check-command", "echo rows missing; exit 3"}, code: ExitFailure, progress: true,
				checkErr: func(t *testing.T, stderr string) {
					if !strings.Contains(stderr, "exited 3") || !strings.Contains(stderr, "rows missing") {
						t.Errorf("failed restore test said %q, want the command's exit and output", stderr)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"restore-test", "run", "--kind", "redis"}, code: ExitInvalid}
		},
		func() cliCase {
			return cliCase{args: []string{"schedule", "create", "restore-test", "--schedule-id", env + "-rt", "--kind", "dataset",
				"--env-id", env, "--backup-location", loc, "--every", "168h"}}
		},
		func() cliCase { return cliCase{args: []string{"schedule", "delete", "--schedule-id", env + "-rt"}} },
		// --newId is the seed's spelling of --new-store-id.
		func() cliCase {
			return cliCase{args: with([]string{"restore-dataset", "--wait", "--newId", "r2"}, target...),
				check: func(_ *testing.T, out string, _ any) { restoreWorkflow = firstLine(out) }}
		},
		// Stores: after the restore, r2 is active and initial INACTIVE.
		func() cliCase {
			return cliCase{args: []string{"store", "list", "--env-id", env, "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					states := map[string]string{}
					list, _ := doc.([]any)
					for _, row := range list {
						m, _ := row.(map[string]any)
						states[m["storeId"].(string)] = m["state"].(string)
						if m["state"] == "ACTIVE" {
							activeTable, _ = m["table"].(string)
						}
					}
					if states["r2"] != "ACTIVE" || states["initial"] != "INACTIVE" || activeTable == "" {
						t.Errorf("store list json: %v", doc)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"store", "delete", "--env-id", env, "--inactive", "--dry-run"}}
		},
		func() cliCase {
			return cliCase{args: []string{"store", "delete", "--table", activeTable, "--yes"}, code: ExitInvalid}
		},
		func() cliCase {
			return cliCase{args: []string{"store", "delete", "--env-id", env, "--inactive", "--yes"}}
		},
		func() cliCase {
			return cliCase{args: []string{"version", "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					if m, _ := doc.(map[string]any); m["goVersion"] == "" || m["goVersion"] == nil {
						t.Errorf("version json: %v", doc)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"restore-status", "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					if _, ok := doc.([]any); !ok {
						t.Errorf("restore-status json is not an array: %v", doc)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"restore-status", "--workflow-id", restoreWorkflow, "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					m, _ := doc.(map[string]any)
					if m["status"] != "Completed" || m["workflowId"] != restoreWorkflow {
						t.Errorf("restore-status --workflow-id json: %v", doc)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"restore-status", "--workflow-id", "no-such-workflow"}, code: ExitInvalid}
		},
		// A paused dataset refuses writes: exit 3.
		func() cliCase {
			if err := e.Registry().Pause(ctx, env, ds, "cli-test", time.Now()); err != nil {
				t.Fatalf("pause: %v", err)
			}
			return cliCase{args: []string{"data", "put", "--env-id", env, "--dataset-id", ds, "--key", "k2", "--value", "v2"}, code: ExitRefused,
				check: func(t *testing.T, _ string, _ any) {
					if _, err := e.Registry().Resume(ctx, env, ds, "cli-test"); err != nil {
						t.Fatalf("resume: %v", err)
					}
				}}
		},
		// A failure that is not bad input: exit 1.
		func() cliCase {
			return cliCase{args: []string{"schedule", "list", "--temporal-address", "127.0.0.1:1"}, code: ExitFailure}
		},

		// Schedules.
		func() cliCase {
			return cliCase{args: with([]string{"schedule", "create", "backup", "--schedule-id", env + "-b", "--every", "24h", "--paused", "--reason", "cli test"}, target...)}
		},
		func() cliCase {
			// Another region than the instance's: the triggered run must not
			// race the snapshots create and verify cases below over the same
			// instance-day group.
			return cliCase{args: []string{"schedule", "create", "snapshots", "--schedule-id", env + "-s", "--regions", "eu-west-3", "--cron", "0 3 * * *"}}
		},
		func() cliCase {
			return cliCase{args: []string{"schedule", "list", "--output", "json"},
				check: func(t *testing.T, out string, _ any) {
					if !strings.Contains(out, `"scheduleId": "`+env+`-b"`) {
						t.Errorf("schedule list json lacks %s-b:\n%s", env, out)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"schedule", "describe", "--schedule-id", env + "-b", "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					m, _ := doc.(map[string]any)
					if m["scheduleId"] != env+"-b" || m["paused"] != true || m["reason"] != "cli test" || m["input"] == nil {
						t.Errorf("schedule describe json: %v", doc)
					}
				}}
		},
		func() cliCase { return cliCase{args: []string{"schedule", "unpause", "--schedule-id", env + "-b"}} },
		func() cliCase {
			return cliCase{args: []string{"schedule", "pause", "--schedule-id", env + "-b", "--note", "old spelling"}}
		},
		func() cliCase { return cliCase{args: []string{"schedule", "trigger", "--schedule-id", env + "-s"}} },
		func() cliCase { return cliCase{args: []string{"schedule", "delete", "--schedule-id", env + "-b"}} },
		func() cliCase { return cliCase{args: []string{"schedule", "delete", "--schedule-id", env + "-s"}} },
		func() cliCase {
			return cliCase{args: []string{"schedule", "describe", "--schedule-id", env + "-none"}, code: ExitInvalid}
		},

		// EBS snapshots.
		func() cliCase { return cliCase{args: []string{"snapshots", "create", "--region", region, "--wait"}} },
		func() cliCase {
			return cliCase{args: []string{"snapshots", "copy", "--region", region, "--dry-run"}}
		},
		func() cliCase {
			return cliCase{args: []string{"snapshots", "expire", "--region", region, "--dry-run", "--as-of", "2026-11-26T10:00:00Z"}}
		},
		func() cliCase {
			return cliCase{args: []string{"snapshots", "run", "--regions", region, "--dry-run"}}
		},
		func() cliCase {
			return cliCase{args: []string{"snapshots", "list", "--region", region, "--instance-id", inst, "--output", "json"},
				check: func(t *testing.T, _ string, doc any) {
					if field(doc, 0, "instanceId") != inst || field(doc, 0, "groupId") == "" {
						t.Errorf("snapshots list json: %v", doc)
					}
					snapGroup = field(doc, 0, "groupId")
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"snapshots", "verify", "--region", region, "--group-id", snapGroup},
				check: func(t *testing.T, out string, _ any) {
					if !strings.Contains(out, "is sound") || !strings.Contains(out, "lifeboat:verified=") {
						t.Errorf("snapshots verify printed %q", out)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"restore-test", "run", "--kind", "snapshots", "--region", region, "--group-id", snapGroup,
				"--availability-zone", region + "a"},
				check: func(t *testing.T, out string, _ any) {
					if !strings.Contains(out, "restore test passed") || !strings.Contains(out, "lifeboat:restore-tested=") {
						t.Errorf("restore-test run --kind snapshots printed %q", out)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"snapshots", "restore", "--region", region, "--group-id", "lbg-none",
				"--target-instance-id", inst, "--availability-zone", region + "a"}, code: ExitInvalid}
		},

		// Redis: registering touches no node; backups and restores of an
		// unknown cluster are refused.
		func() cliCase {
			return cliCase{args: []string{"redis", "cluster", "register", "--cluster-id", cluster, "--node", node + "=127.0.0.1:1"}}
		},
		func() cliCase {
			return cliCase{args: []string{"redis", "cluster", "list", "--output", "json"},
				check: func(t *testing.T, out string, _ any) {
					if !strings.Contains(out, `"clusterId": "`+cluster+`"`) || !strings.Contains(out, `"nodeId": "`+node+`"`) {
						t.Errorf("redis cluster list json lacks %s/%s:\n%s", cluster, node, out)
					}
				}}
		},
		func() cliCase { return cliCase{args: []string{"redis", "cluster", "release", "--cluster", cluster}} }, // old spelling
		func() cliCase {
			return cliCase{args: []string{"redis", "cluster", "set-rpo", "--cluster-id", cluster, "--rpo", "6h"}}
		},
		func() cliCase {
			return cliCase{args: []string{"redis", "backups", "--cluster-id", cluster, "--backup-location", loc, "--output", "json"},
				check: func(t *testing.T, out string, _ any) {
					if strings.TrimSpace(out) != "[]" {
						t.Errorf("redis backups json of a cluster without backups: %q, want []", out)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"schedule", "create", "redis", "--schedule-id", env + "-r", "--cluster-id", cluster,
				"--backup-location", loc, "--every", "24h", "--retain", "7"}}
		},
		func() cliCase { return cliCase{args: []string{"schedule", "delete", "--schedule-id", env + "-r"}} },
		func() cliCase {
			return cliCase{args: []string{"redis", "prune", "--cluster-id", cluster, "--backup-location", loc, "--retain", "1", "--dry-run"}}
		},
		func() cliCase {
			return cliCase{args: []string{"redis", "backup", "--cluster-id", "no-such-cluster", "--backup-location", loc}, code: ExitInvalid}
		},
		func() cliCase {
			return cliCase{args: []string{"redis", "verify", "--cluster-id", cluster, "--backup-location", loc}, code: ExitInvalid}
		},
		func() cliCase {
			return cliCase{args: []string{"redis", "restore", "--cluster-id", "no-such-cluster", "--backup-location", loc, "--at", "2026-11-21"}, code: ExitInvalid}
		},
		// A restore test of no backup is refused before any scratch node
		// starts; its schedule needs only the bucket.
		func() cliCase {
			return cliCase{args: []string{"redis", "restore-test", "--cluster-id", cluster, "--backup-location", loc}, code: ExitInvalid,
				checkErr: func(t *testing.T, stderr string) {
					if !strings.Contains(stderr, "no complete backup") {
						t.Errorf("redis restore-test of no backup: %q", stderr)
					}
				}}
		},
		func() cliCase {
			return cliCase{args: []string{"restore-test", "run", "--kind", "redis", "--cluster-id", cluster, "--backup-location", loc}, code: ExitInvalid}
		},
		func() cliCase {
			return cliCase{args: []string{"schedule", "create", "restore-test", "--kind", "redis", "--schedule-id", env + "-rt", "--cluster-id", cluster,
				"--backup-location", loc, "--every", "168h", "--check-command", "true"}}
		},
		func() cliCase { return cliCase{args: []string{"schedule", "delete", "--schedule-id", env + "-rt"}} },
		// Bad input found by the CLI itself.
		func() cliCase { return cliCase{args: []string{"backup-status", "--output", "yaml"}, code: ExitInvalid} },
	}

	root := commandTree()
	ran := map[string]bool{}
	jsonOK := map[string]bool{}
	codes := map[int]bool{}
	for _, step := range steps {
		c := step()
		cmd, _, err := root.Find(c.args)
		if err != nil || cmd == root {
			t.Fatalf("%v: not a command: %v", c.args, err)
		}
		path := cmd.CommandPath()
		wantJSON := slices.Contains(c.args, "json")
		code, out, errOut := run(c.args)
		ran[path] = true
		codes[code] = true
		t.Logf("lifeboat %s -> %d\n%s%s", strings.Join(c.args, " "), code, out, errOut)
		if code != c.code {
			t.Errorf("lifeboat %s: exit %d, want %d; stderr %q", strings.Join(c.args, " "), code, c.code, errOut)
			continue
		}
		if code != 0 {
			msg := errOut
			if c.progress {
				lines := strings.Split(strings.TrimSpace(errOut), "\n")
				msg = lines[len(lines)-1] + "\n"
			}
			requireOneLine(t, c.args, msg)
		}
		var doc any
		if wantJSON && code == 0 {
			dec := json.NewDecoder(strings.NewReader(out))
			if err := dec.Decode(&doc); err != nil {
				t.Errorf("lifeboat %s: stdout is not JSON: %v\n%s", strings.Join(c.args, " "), err, out)
				continue
			}
			if dec.More() {
				t.Errorf("lifeboat %s: stdout holds more than one JSON document:\n%s", strings.Join(c.args, " "), out)
			}
			jsonOK[path] = true
		}
		if c.check != nil {
			c.check(t, out, doc)
		}
		if c.checkErr != nil {
			c.checkErr(t, errOut)
		}
	}

	walk(root, func(cmd *cobra.Command) {
		if cmd.HasSubCommands() {
			return
		}
		path := cmd.CommandPath()
		if !ran[path] {
			t.Errorf("%s has no case in TestEveryCommand: add one", path)
		}
		if cmd.Flags().Lookup("output") != nil && !jsonOK[path] {
			t.Errorf("%s has --output but no case ran it with --output json", path)
		}
	})
	for _, code := range []int{0, ExitFailure, ExitInvalid, ExitRefused} {
		if !codes[code] {
			t.Errorf("no case exited %d", code)
		}
	}
}

// requireOneLine fails unless stderr is one line with no part said twice
// (a wrapped error repeating its cause).
func requireOneLine(t *testing.T, args []string, stderr string) {
	t.Helper()
	msg := strings.TrimSpace(stderr)
	if msg == "" || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "lifeboat: ") {
		t.Errorf("lifeboat %s: stderr %q, want one line starting lifeboat: ", strings.Join(args, " "), stderr)
		return
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(strings.TrimPrefix(msg, "lifeboat: "), ": ") {
		if len(part) >= 12 && seen[part] {
			t.Errorf("lifeboat %s: %q says %q twice", strings.Join(args, " "), msg, part)
		}
		seen[part] = true
	}
}

// An unknown subcommand is bad input for every command group: exit 2 with
// one line naming it, not help and exit 0.
func TestUnknownSubcommandsExitTwo(t *testing.T) {
	t.Parallel()
	walk(commandTree(), func(cmd *cobra.Command) {
		if !cmd.HasSubCommands() {
			return
		}
		args := append(strings.Fields(cmd.CommandPath())[1:], "bogus")
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, &out, &errOut)
		if code != ExitInvalid || !strings.Contains(errOut.String(), `unknown command "bogus"`) || out.Len() != 0 {
			t.Errorf("lifeboat %s: exit %d, stdout %q, stderr %q; want exit 2 and one line naming it", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		requireOneLine(t, args, errOut.String())
	})
	// A stray word after a command is refused too.
	requireRefused(t, [][]string{{"data", "get", "--env-id", "e", "--dataset-id", "d", "--key", "k", "extra"}})
}

// Every command has a Short line and an Example, and every flag's help
// reads well: pflag takes a backquoted word in a flag's help for the name
// of its value (backup keep once showed "--backup-id backup list").
func TestHelpTexts(t *testing.T) {
	t.Parallel()
	walk(commandTree(), func(cmd *cobra.Command) {
		path := cmd.CommandPath()
		if strings.TrimSpace(cmd.Short) == "" {
			t.Errorf("%s has no Short", path)
		}
		if strings.TrimSpace(cmd.Example) == "" {
			t.Errorf("%s has no Example", path)
		}
		for _, line := range strings.Split(cmd.Example, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "lifeboat ") && !strings.HasPrefix(l, "--") {
				t.Errorf("%s: example line %q does not start with lifeboat", path, l)
			}
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			if strings.Contains(f.Usage, "`") {
				t.Errorf("%s --%s: backquotes in the help become the value's name: %q", path, f.Name, f.Usage)
			}
			if len(f.Usage) < 10 {
				t.Errorf("%s --%s: help %q says too little", path, f.Name, f.Usage)
			}
		})
	})
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"--help"}, &out, io.Discard); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"DynamoDB", "EBS snapshots", "Redis", "Exit codes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("root help does not mention %s", want)
		}
	}
}

// Every time flag reads the same formats; a date is a UTC day.
func TestParseTime(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in         string
		start, end time.Time
		date       string
		wantErr    bool
	}{
		{in: "2026-11-22", start: day, end: day.Add(24*time.Hour - time.Nanosecond), date: "2026-11-22"},
		{in: "2026-11-22T06:00:00Z", start: day.Add(6 * time.Hour), end: day.Add(6 * time.Hour), date: "2026-11-22"},
		{in: "2026-11-22T06:00:00.5+02:00", start: day.Add(4*time.Hour + 500*time.Millisecond), end: day.Add(4*time.Hour + 500*time.Millisecond), date: "2026-11-22"},
		{in: "2026-11-22T01:00:00+02:00", start: day.Add(-time.Hour), end: day.Add(-time.Hour), date: "2026-11-21"},
		{in: "yesterday", wantErr: true},
		{in: "2026-13-01", wantErr: true},
		{in: "22/11/2026", wantErr: true},
	}
	for _, c := range cases {
		w, err := parseTime("at", c.in)
		if c.wantErr {
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), "--at") {
				t.Errorf("parseTime(%q) = %v, want a usage error naming --at", c.in, err)
			}
			continue
		}
		if err != nil || !w.start().Equal(c.start) || !w.end().Equal(c.end) || w.day() != c.date {
			t.Errorf("parseTime(%q) = start %v end %v day %s, %v; want %v %v %s", c.in, w.start(), w.end(), w.day(), err, c.start, c.end, c.date)
		}
	}
}

// Old spellings set the new flags and stay out of help.
func TestOldSpellingsAreHiddenAliases(t *testing.T) {
	t.Parallel()
	root := commandTree()
	for _, c := range []struct {
		path     []string
		old, new string
	}{
		{[]string{"restore-dataset"}, "new-id", "new-store-id"},
		{[]string{"backup", "keep"}, "note", "reason"},
		{[]string{"schedule", "pause"}, "note", "reason"},
		{[]string{"schedule", "create", "backup"}, "note", "reason"},
		{[]string{"redis", "restore"}, "cluster", "cluster-id"},
		{[]string{"redis", "restore"}, "node", "node-id"},
		{[]string{"redis", "restore"}, "source-cluster", "source-cluster-id"},
		{[]string{"redis", "restore"}, "source-node", "source-node-id"},
		{[]string{"redis", "restore"}, "date", "at"},
		{[]string{"redis", "backup"}, "cluster", "cluster-id"},
		{[]string{"redis", "backups"}, "cluster", "cluster-id"},
		{[]string{"redis", "cluster", "register"}, "cluster", "cluster-id"},
		{[]string{"redis", "cluster", "release"}, "cluster", "cluster-id"},
	} {
		cmd, _, err := root.Find(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags([]string{"--" + c.old, "x1"}); err != nil {
			t.Errorf("%s --%s: %v", cmd.CommandPath(), c.old, err)
			continue
		}
		old, nw := cmd.Flags().Lookup(c.old), cmd.Flags().Lookup(c.new)
		if !old.Hidden || nw.Hidden || nw.Value.String() != "x1" || !given(cmd, c.new) {
			t.Errorf("%s --%s: hidden %t, --%s = %q (given %t)", cmd.CommandPath(), c.old, old.Hidden, c.new, nw.Value.String(), given(cmd, c.new))
		}
	}
}

// snapshots copy does not depend on the date: it has no --as-of (it once
// took one and ignored it).
func TestSnapshotsCopyHasNoAsOf(t *testing.T) {
	t.Parallel()
	requireRefused(t, [][]string{{"snapshots", "copy", "--region", "us-east-1", "--as-of", "2026-11-22"}})
}
