package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// TestRequestsOverTheLimitsExit2 runs backup and restore requests over
// Lifeboat's input limits: each exits 2 with one line naming the limit,
// before Temporal is dialled (the address is unreachable).
func TestRequestsOverTheLimitsExit2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name string, n, idLen int) string {
		entries := make([]map[string]string, n)
		for i := range entries {
			id := fmt.Sprintf("d%0*d", idLen-1, i)
			entries[i] = map[string]string{"envId": "prod", "datasetId": id, "backupLocation": "s3://backups/lifeboat"}
		}
		raw, err := json.Marshal(entries)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	wide := file("wide.json", dataset.MaxDatasets+1, 36)
	long := file("long.json", 1, 64)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"backup of 1,001", []string{"backup-dataset", "--datasets", wide}, "1001 datasets in one backup: the limit is 1000 datasets per request"},
		{"restore of 1,001", []string{"restore-dataset", "--datasets", wide, "--new-id", "s2"}, "1001 datasets in one restore: the limit is 1000 datasets per request"},
		{"backup of a 64-character id", []string{"backup-dataset", "--datasets", long}, "use 1-63 letters"},
		{"restore of a 64-character id", []string{"restore-dataset", "--env-id", "prod", "--dataset-id", strings.Repeat("x", 64), "--backup-location", "s3://backups/lifeboat"}, "use 1-63 letters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := Main(context.Background(), append([]string{"--temporal-address", "127.0.0.1:1"}, tc.args...), &out, &errOut)
			if code != ExitInvalid {
				t.Fatalf("exit %d, want %d; stderr %q", code, ExitInvalid, errOut.String())
			}
			msg := errOut.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.want) {
				t.Fatalf("stderr %q, want one line with %q", msg, tc.want)
			}
		})
	}
}
