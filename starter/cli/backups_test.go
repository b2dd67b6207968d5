package cli

import "testing"

func TestBackupCommandsRefuseBadInput(t *testing.T) {
	t.Parallel()
	target := []string{"--backup-location", "s3://bucket/x", "--env-id", "e", "--dataset-id", "d"}
	cases := [][]string{
		append([]string{"backup", "prune"}, target...),                                         // no rule
		append([]string{"backup", "prune", "--retain", "-1"}, target...),                       // negative
		append([]string{"backup", "prune", "--retain", "2", "--retain-days", "-7"}, target...), // negative days
		append([]string{"backup", "prune", "--retain", "two"}, target...),                      // not a number
		{"backup", "prune", "--retain", "2", "--env-id", "e", "--dataset-id", "d"},             // no location
		{"backup", "prune", "--retain", "2", "--backup-location", "http://x/y", "--env-id", "e", "--dataset-id", "d"},
		{"backup", "list", "--backup-location", "s3://bucket/x", "--env-id", "e", "--dataset-id", "bad.id"},
		append([]string{"backup", "keep"}, target...), // no backup id
		append([]string{"backup", "unkeep"}, target...),
	}
	requireRefused(t, cases)
}
