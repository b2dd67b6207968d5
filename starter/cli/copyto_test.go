package cli

import (
	"io"
	"testing"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// --copy-to is repeatable on both commands that start backups; the copy
// flags give every destination its role.
func TestCopyToFlagsOnBackupCommands(t *testing.T) {
	t.Parallel()
	a := &app{out: io.Discard, err: io.Discard}
	for name, mk := range map[string]func() *cobra.Command{"backup-dataset": a.backupCommand, "schedule create backup": a.scheduleBackupCommand} {
		cmd := mk()
		var bo bucketOptions
		// The commands bind their own bucketOptions: check through the flags.
		if err := cmd.Flags().Parse([]string{"--copy-to", "s3://one/x", "--copy-to", "s3://two",
			"--copy-role-arn", "arn:aws:iam::222233334444:role/copier", "--copy-external-id", "ext-1"}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v, _ := cmd.Flags().GetStringArray("copy-to"); len(v) != 2 {
			t.Errorf("%s --copy-to twice: %v", name, v)
		}
		bo.copyTo = []string{"s3://one/x", "s3://two"}
		bo.copyAccess.RoleARN, bo.copyAccess.ExternalID = "arn:aws:iam::222233334444:role/copier", "ext-1"
		d := dataset.BackupDataset{EnvID: "e", DatasetID: "d", BackupLocation: "s3://b/x"}
		bo.apply(&d)
		if len(d.CopyTo) != 2 || d.CopyTo[1].Location != "s3://two" || d.CopyTo[0].RoleARN != bo.copyAccess.RoleARN || d.CopyTo[0].ExternalID != "ext-1" {
			t.Errorf("%s: copies %+v", name, d.CopyTo)
		}
	}
}

// A copy destination that is no s3:// URL, is the backup location itself,
// or has a malformed role is refused with exit 2 before anything starts.
func TestCopyToRefusesBadInput(t *testing.T) {
	t.Parallel()
	base := []string{"backup-dataset", "--env-id", "e", "--dataset-id", "d", "--backup-location", "s3://bucket/x"}
	with := func(more ...string) []string { return append(append([]string{}, base...), more...) }
	requireRefused(t, [][]string{
		with("--copy-to", "http://bucket/y"),
		with("--copy-to", "s3://bucket/x"),
		with("--copy-to", "s3://other", "--copy-role-arn", "not-an-arn"),
		with("--copy-to", "s3://other", "--copy-external-id", "ext-1"), // an external id needs a role
	})
}
