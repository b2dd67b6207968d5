package cli

import (
	"io"
	"testing"

	"github.com/spf13/cobra"
)

// Bad verify requests exit 2 with one line before Temporal or AWS is
// contacted: no workflow is started.
func TestBackupVerifyRefusesBadInput(t *testing.T) {
	t.Parallel()
	target := []string{"--backup-location", "s3://bucket/x", "--env-id", "e", "--dataset-id", "d"}
	with := func(more ...string) []string { return append(append([]string{"backup", "verify"}, target...), more...) }
	requireRefused(t, [][]string{
		{"backup", "verify", "--env-id", "e", "--dataset-id", "d"},                                         // no location
		{"backup", "verify", "--backup-location", "s3://bucket/x", "--dataset-id", "d"},                    // no env
		{"backup", "verify", "--backup-location", "s3://bucket/x", "--env-id", "e"},                        // no dataset
		{"backup", "verify", "--backup-location", "http://bucket/x", "--env-id", "e", "--dataset-id", "d"}, // not s3://
		{"backup", "verify", "--backup-location", "s3://", "--env-id", "e", "--dataset-id", "d"},           // no bucket
		{"backup", "verify", "--backup-location", "s3://bucket/x", "--env-id", "e", "--dataset-id", "bad.id"},
		{"backup", "verify", "--backup-location", "s3://bucket/x", "--env-id", "bad env", "--dataset-id", "d"},
		with("--backup-id", "latest"),           // not a backup id
		with("--backup-id", "20210901T120000Z"), // a store id, not a backup id
		with("--source-env-id", "bad/env"),
		with("--no-such-flag"),
	})
}

// --verify is a switch on both commands that start backups.
func TestVerifyFlagOnBackupCommands(t *testing.T) {
	t.Parallel()
	a := &app{out: io.Discard, err: io.Discard}
	for name, cmd := range map[string]*cobra.Command{"backup-dataset": a.backupCommand(), "schedule create backup": a.scheduleBackupCommand()} {
		f := cmd.Flags().Lookup("verify")
		if f == nil || f.Value.Type() != "bool" {
			t.Errorf("%s has no --verify switch", name)
			continue
		}
		if err := cmd.Flags().Parse([]string{"--verify"}); err != nil || f.Value.String() != "true" {
			t.Errorf("%s --verify: %v, value %s", name, err, f.Value)
		}
	}
}
