package cli

import (
	"testing"

	"github.com/spf13/cobra"
)

// Restore tests take a backup location's role as restore-dataset does, and
// carry it in the workflow input (dataset and redis).
func TestRestoreTestCarriesTheRole(t *testing.T) {
	t.Parallel()
	const role, ext, owner = "arn:aws:iam::222233334444:role/reader", "ext-1", "333344445555"

	access := []string{"--backup-location", "s3://bucket/x", "--role-arn", role, "--external-id", ext, "--bucket-owner", owner}
	for _, kind := range []string{kindDataset, kindRedis} {
		var f restoreTestFlags
		cmd := &cobra.Command{}
		f.add(cmd)
		args := append([]string{"--kind", kind, "--env-id", "prod", "--cluster-id", "shop"}, access...)
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		if kind == kindDataset {
			in, err := f.datasetInput(cmd)
			if err != nil || in.RoleARN != role || in.ExternalID != ext || in.BucketOwner != owner {
				t.Errorf("dataset input %+v, %v: want the role, external id and owner", in, err)
			}
			continue
		}
		in, err := f.redisInput(cmd)
		if err != nil || in.RoleARN != role || in.ExternalID != ext || in.BucketOwner != owner {
			t.Errorf("redis input %+v, %v: want the role, external id and owner", in, err)
		}
	}

}

// A malformed role, an external id without a role, and role flags on the
// snapshots kind are refused with exit 2 before anything starts.
func TestRestoreTestRefusesBadRoles(t *testing.T) {
	t.Parallel()
	dataset := []string{"restore-test", "run", "--kind", "dataset", "--env-id", "prod", "--backup-location", "s3://bucket/x"}
	redis := []string{"restore-test", "run", "--kind", "redis", "--cluster-id", "shop", "--backup-location", "s3://bucket/x"}
	schedule := []string{"schedule", "create", "restore-test", "--schedule-id", "s", "--every", "24h", "--kind", "dataset",
		"--env-id", "prod", "--backup-location", "s3://bucket/x"}
	snapshots := []string{"restore-test", "run", "--kind", "snapshots", "--region", "us-east-1", "--group-id", "g",
		"--availability-zone", "us-east-1a"}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	requireRefused(t, [][]string{
		with(dataset, "--role-arn", "arn:aws:iam::12:user/x"),
		with(dataset, "--external-id", "ext-1"),
		with(redis, "--role-arn", "not-an-arn"),
		with(redis, "--bucket-owner", "12"),
		with(schedule, "--role-arn", "not-an-arn"),
		with(snapshots, "--role-arn", "arn:aws:iam::222233334444:role/reader"),
		with([]string{"redis", "restore-test", "--cluster-id", "shop", "--backup-location", "s3://bucket/x"}, "--role-arn", "not-an-arn"),
	})
}
