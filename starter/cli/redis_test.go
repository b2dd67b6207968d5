package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/starter/client"
)

// Bad Redis requests are refused before anything is contacted: exit 2 and
// one line saying why.
func TestRedisBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	loc := "s3://bucket/prefix"
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"redis", "backup", "--backup-location", loc}, "--cluster-id is required"},
		{[]string{"redis", "backup", "--cluster", "c1"}, "--backup-location is required"},
		{[]string{"redis", "backup", "--cluster", "c.1", "--backup-location", loc}, "invalid cluster id"},
		{[]string{"redis", "backup", "--cluster", "c1", "--backup-location", "s3://B"}, "invalid backup location"},
		{[]string{"redis", "backup", "--cluster", "c1", "--backup-location", loc, "--format", "json"}, "unknown format"},
		{[]string{"redis", "restore", "--cluster", "c1", "--backup-location", loc, "--date", "1/9/2021"}, "invalid date"},
		{[]string{"redis", "restore", "--cluster", "c1", "--backup-location", loc, "--backup-id", "latest"}, "invalid backup id"},
		{[]string{"redis", "restore", "--cluster", "c1", "--backup-location", loc, "--date", "2021-09-01", "--backup-id", "20210901T000000.000Z"}, "not both"},
		{[]string{"redis", "restore", "--cluster", "c1", "--backup-location", loc, "--source-node", "n1"}, "--source-node-id needs --node-id"},
		{[]string{"redis", "restore", "--cluster", "c1", "--backup-location", loc, "--node", "n/1"}, "invalid node id"},
		{[]string{"redis", "cluster", "register", "--cluster", "c1"}, "--node is required"},
		{[]string{"redis", "cluster", "register", "--cluster", "c1", "--node", "n1=localhost"}, "want host:port"},
		{[]string{"redis", "cluster", "register", "--cluster", "c1", "--node", "n1=h:1", "--node", "n1=h:2"}, "given twice"},
		{[]string{"redis", "backups", "--cluster", "c1"}, "--backup-location is required"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), c.args, &out, &errOut)
		msg := strings.TrimSpace(errOut.String())
		if code != ExitInvalid || !strings.Contains(msg, c.says) || strings.Contains(msg, "\n") {
			t.Errorf("lifeboat %s: exit %d, %q; want exit 2 and one line saying %q", strings.Join(c.args, " "), code, msg, c.says)
		}
	}
}

func TestRedisExitCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want int
	}{
		{redisInputError(&registry.RedisClusterNotFoundError{Cluster: "c1"}), ExitInvalid},
		{redisInputError(fmt.Errorf("register: %w", &registry.RedisClusterExistsError{Cluster: "c1"})), ExitInvalid},
		{redisInputError(&client.WorkflowFailedError{WorkflowID: "w", Type: activities.ErrRedisClusterHeld, Msg: "busy"}), ExitInvalid},
		{redisInputError(&client.InvalidInputError{Msg: "AOF needs appendonly yes"}), ExitInvalid},
		{redisInputError(&client.WorkflowFailedError{WorkflowID: "w", Type: activities.ErrChecksumMismatch, Msg: "corrupt"}), ExitFailure},
		{redisInputError(&client.WorkflowFailedError{WorkflowID: "w", Type: activities.ErrRedisNodeFailed, Msg: "n2 down"}), ExitFailure},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if got := humanBytes(7 << 20); got != "7.0 MiB" {
		t.Errorf("humanBytes = %s", got)
	}
}
