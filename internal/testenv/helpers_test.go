package testenv

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func TestDiffItems(t *testing.T) {
	t.Parallel()
	want := map[string]string{"a": "1", "b": "2", "c": "3"}
	if d := DiffItems(want, map[string]string{"a": "1", "b": "2", "c": "3"}); d != "" {
		t.Errorf("equal maps: %q", d)
	}
	d := DiffItems(want, map[string]string{"a": "1", "b": "x", "d": "4"})
	for _, part := range []string{"1 missing [c]", "1 unexpected [d]", `1 changed [b="x" (want "2")]`} {
		if !strings.Contains(d, part) {
			t.Errorf("diff %q lacks %q", d, part)
		}
	}
}

func TestDecodeItems(t *testing.T) {
	t.Parallel()
	lines := `{"Item":{"key":{"S":"k1"},"value":{"S":"v1"}}}` + "\n\n" + `{"Item":{"value":{"S":"v2"},"key":{"S":"k2"}}}` + "\n"
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(lines))
	_ = zw.Close()
	got := map[string]string{}
	n, err := decodeItems(buf.Bytes(), true, got)
	if err != nil || n != 2 || got["k1"] != "v1" || got["k2"] != "v2" {
		t.Fatalf("decodeItems = %d, %v, %v", n, got, err)
	}
	if _, err := decodeItems([]byte(lines), false, got); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a key seen twice was not reported: %v", err)
	}
	if _, err := decodeItems([]byte(`{"Item":{"key":{"N":"1"}}}`), false, map[string]string{}); err == nil {
		t.Errorf("an item without string key and value was accepted")
	}
}

// TestStart starts a whole Env of its own and uses it through the helpers.
func TestStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal dev server and moto: skipped with -short")
	}
	e := Start(t)
	env := e.ID("smoke")
	e.CreateEnvDataset(t, env, "d1")
	items := e.Load(t, env, "d1", "item", 3)
	e.Put(t, env, "d1", map[string]string{"extra": "x"})
	items["extra"] = "x"
	if d := DiffItems(items, e.ReadDataset(t, env, "initial", "d1")); d != "" {
		t.Fatal(d)
	}
	e.RequireRunning(t, env)
	if loc := e.NewBackupLocation(t); !strings.HasPrefix(loc, "s3://lbtest-backups-") {
		t.Errorf("backup location %q", loc)
	}
	if len(e.workers) != 2 {
		t.Errorf("%d workers, want 2", len(e.workers))
	}
}
