package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/gate"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

func TestKebabAcceptsSeedSpellings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"datasetId": "dataset-id", "backupLocation": "backup-location", "sourceDatasetId": "source-dataset-id",
		"newId": "new-id", "pointInTime": "point-in-time", "dataset-id": "dataset-id", "wait": "wait",
	} {
		if got := string(kebab(nil, in)); got != want {
			t.Errorf("kebab(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want int
	}{
		{&gate.WritesPausedError{Env: "e", Dataset: "d", Status: "PAUSED", HeldBy: "w"}, ExitRefused},
		{fmt.Errorf("put: %w", &gate.WritesPausedError{}), ExitRefused},
		{usagef("--env-id is required"), ExitInvalid},
		{&client.InvalidInputError{Msg: "bucket missing"}, ExitInvalid},
		{&registry.NotFoundError{Kind: "dataset", Env: "e", ID: "d"}, ExitInvalid},
		{&client.WorkflowFailedError{WorkflowID: "w", Msg: "export failed"}, ExitFailure},
		{errors.New("network down"), ExitFailure},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestReadDatasetsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The seed's example file, verbatim.
	good := write("good.json", `[
{"datasetId": "eb5b4f04d32a", "backupLocation": "s3://example-sdp-s3-backup-test/ws-crd-demo-noDataPrefix", "pointInTime": "2021-08-30T14:14:17.530Z"},
{"datasetId": "282fc9d58b16", "backupLocation": "s3://example-sdp-s3-backup-test/ws-crd-demo", "pointInTime": "2021-08-30T14:14:17.530Z"}
]`)
	var ds []dataset.BackupDataset
	if err := readDatasetsFile(good, &ds); err != nil {
		t.Fatalf("seed example refused: %v", err)
	}
	if len(ds) != 2 || ds[1].DatasetID != "282fc9d58b16" || ds[0].PointInTime == nil || ds[0].PointInTime.Nanosecond() != 530_000_000 {
		t.Fatalf("decoded %+v", ds)
	}
	for name, body := range map[string]string{
		"unknown.json":  `[{"datasetId": "a", "backupLocation": "s3://b/c", "bogus": 1}]`,
		"broken.json":   `[{"datasetId": "a"`,
		"trailing.json": `[] []`,
		"object.json":   `{"datasetId": "a"}`,
	} {
		var out []dataset.BackupDataset
		err := readDatasetsFile(write(name, body), &out)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%s: got %v, want a usage error", name, err)
		}
	}
}

func TestBadFlagsExitTwoWithOneLine(t *testing.T) {
	t.Parallel()
	cases := [][]string{
		{"backup-dataset", "--env-id", "e", "--dataset-id", "d", "--backup-location", "http://not-s3/x"},
		{"backup-dataset", "--env-id", "e", "--dataset-id", "d"},
		{"backup-dataset", "--env-id", "e", "--dataset-id", "d", "--backup-location", "s3://bucket/x", "--point-in-time", "yesterday"},
		{"restore-dataset", "--env-id", "e", "--dataset-id", "bad.id", "--backup-location", "s3://bucket/x"},
		{"data", "load", "--env-id", "e", "--dataset-id", "d", "--count", "0"},
		{"backup-dataset", "--no-such-flag"},
	}
	requireRefused(t, cases)
}

// requireRefused runs each command line and fails unless it exits 2 with
// one line on stderr. The commands must be refused before anything is
// contacted.
func requireRefused(t *testing.T, cases [][]string) {
	t.Helper()
	for _, args := range cases {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, &out, &errOut)
		if code != ExitInvalid {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, ExitInvalid, errOut.String())
		}
		if lines := strings.Count(strings.TrimSpace(errOut.String()), "\n"); lines != 0 {
			t.Errorf("%v: want one line on stderr, got %q", args, errOut.String())
		}
	}
}
