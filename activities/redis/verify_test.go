package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// verifyS3 serves one object for VerifyRedisNode's download.
type verifyS3 struct {
	ClusterS3API // other calls are not used
	obj          *rangedS3
}

func (v verifyS3) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return v.obj.GetObject(ctx, in, opts...)
}

func runVerifyNode(t *testing.T, body []byte, sum string) error {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	a := &Clusters{S3: verifyS3{obj: &rangedS3{body: body}}}
	env.RegisterActivity(a)
	n := redisbackup.Node{Node: "n1", Bytes: int64(len(body)), Files: []redisbackup.File{
		{Name: "dump.rdb", Role: redisbackup.RoleRDB, Key: "p/c/b/n1/dump.rdb", Size: int64(len(body)), SHA256: sum}}}
	_, err := env.ExecuteActivity(a.VerifyRedisNode, VerifyRedisNodeInput{Bucket: "bkt", Cluster: "c", BackupID: "b", Persistence: redisbackup.FormatRDB, Node: n})
	return err
}

func appErr(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("want an application error, got %v", err)
	}
	return app
}

// Garbage whose checksum the manifest carries passes the checksum and is
// rejected by redis-check-rdb; a wrong checksum is caught before the
// checker runs. Either way the temporary folder goes.
func TestVerifyRedisNodeChecksumThenChecker(t *testing.T) {
	if _, err := exec.LookPath(CheckRDB); err != nil {
		t.Skipf("%s not installed (redis-tools)", CheckRDB)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	body := []byte(strings.Repeat("not an RDB file ", 64))
	sum := sha256.Sum256(body)

	app := appErr(t, runVerifyNode(t, body, hex.EncodeToString(sum[:])))
	if app.Type() != activities.ErrBackupCorrupt || !strings.Contains(app.Message(), "node n1: redis-check-rdb rejects dump.rdb") ||
		!strings.Contains(app.Message(), "Wrong signature") {
		t.Errorf("garbage with a matching checksum: %s %q", app.Type(), app.Message())
	}
	app = appErr(t, runVerifyNode(t, body, hex.EncodeToString(make([]byte, 32))))
	if app.Type() != activities.ErrChecksumMismatch || !strings.Contains(app.Message(), "node n1:") || !strings.Contains(app.Message(), "checksum mismatch") {
		t.Errorf("a wrong checksum: %s %q", app.Type(), app.Message())
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in the temporary folder: %v", left)
	}
}

// A worker without the checker says so, naming the tool and the node.
func TestVerifyRedisNodeWithoutChecker(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	app := appErr(t, runVerifyNode(t, []byte("x"), strings.Repeat("0", 64)))
	if app.Type() != ErrCheckerMissing || !app.NonRetryable() ||
		!strings.Contains(app.Message(), "node n1: cannot check dump.rdb: redis-check-rdb is not on this worker's PATH") {
		t.Errorf("no checker: %s %q", app.Type(), app.Message())
	}
}

func TestCheckerVerdict(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ out, want string }{
		{"[offset 0] Checking RDB file g.rdb\n--- RDB ERROR DETECTED ---\n[offset 9] Wrong signature trying to load DB from file\n[info] 0 keys read\n",
			"[offset 9] Wrong signature trying to load DB from file"},
		{"Start checking Multi Part AOF\nAOF appendonly.aof.1.base.rdb format error\nAOF analyzed: size=200\nAOF appendonly.aof.1.base.rdb is not valid. Use the --fix option to try fixing it.\n",
			"AOF appendonly.aof.1.base.rdb format error"},
		{"something\nlast words\n", "last words"},
		{"", "no output"},
	} {
		if got := CheckerVerdict([]byte(c.out)); got != c.want {
			t.Errorf("CheckerVerdict(%q) = %q, want %q", c.out, got, c.want)
		}
	}
}
