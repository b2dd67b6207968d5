package backupstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A restore compares each downloaded object with the manifest. An object
// rewritten with the same size and item count is caught by its checksum
// alone: SHA-256 for format-1 manifests, MD5 from format 2 on, and only
// that format's checksum counts (the other is not recorded).
func TestMatchesCatchesAnObjectOfTheSameSize(t *testing.T) {
	t.Parallel()
	want := ObjectDigest{Key: "k", Size: 10, Items: 2, SHA256: strings.Repeat("a", 64), MD5: "md5-a=="}
	cases := []struct {
		name   string
		got    ObjectDigest
		format int
		why    string
	}{
		{"same", want, ManifestFormat, ""},
		{"same, format 1", want, 1, ""},
		{"shorter", ObjectDigest{Size: 9, Items: 2, SHA256: want.SHA256, MD5: want.MD5}, ManifestFormat, "size 9, manifest says 10"},
		{"an item lost", ObjectDigest{Size: 10, Items: 1, SHA256: want.SHA256, MD5: want.MD5}, ManifestFormat, "1 items, manifest says 2"},
		{"rewritten, format 1", ObjectDigest{Size: 10, Items: 2, SHA256: strings.Repeat("b", 64), MD5: want.MD5}, 1,
			"sha256 " + strings.Repeat("b", 64) + ", manifest says " + want.SHA256},
		{"rewritten, format 2", ObjectDigest{Size: 10, Items: 2, SHA256: want.SHA256, MD5: "md5-b=="}, ManifestFormat,
			"md5 md5-b==, manifest says md5-a=="},
		// The checksum a format does not record is not compared.
		{"format 1 ignores MD5", ObjectDigest{Size: 10, Items: 2, SHA256: want.SHA256, MD5: "other"}, 1, ""},
		{"format 2 ignores SHA-256", ObjectDigest{Size: 10, Items: 2, SHA256: "", MD5: want.MD5}, ManifestFormat, ""},
	}
	for _, c := range cases {
		if got := want.Matches(c.got, c.format); got != c.why {
			t.Errorf("%s: %q, want %q", c.name, got, c.why)
		}
	}
}

// DynamoDB's ExportManifest and dataFileS3Key name objects relative to the
// export's S3 prefix; ReadExport resolves them against it and finds the
// same export as with full keys.
func TestReadExportResolvesKeysRelativeToThePrefix(t *testing.T) {
	t.Parallel()
	const prefix = "root/e/s/d/b1/export"
	api := newMemS3()
	summaryKey, keys := putExport(t, api, prefix, 3, 4)
	rel := func(k string) string { return strings.TrimPrefix(k, prefix+"/") }

	// manifest-files.json with relative data keys.
	filesKey := strings.TrimSuffix(summaryKey, "manifest-summary.json") + "manifest-files.json"
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(api.objects[filesKey])), "\n") {
		var f ExportFile
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatal(err)
		}
		f.DataFileS3Key = rel(f.DataFileS3Key)
		b, _ := json.Marshal(f)
		lines = append(lines, string(b))
	}
	api.objects[filesKey] = []byte(strings.Join(lines, "\n") + "\n")
	// A summary naming manifest-files.json under another folder: only its
	// name is taken, from the summary's own folder.
	var summary ExportSummary
	if err := json.Unmarshal(api.objects[summaryKey], &summary); err != nil {
		t.Fatal(err)
	}
	summary.ManifestFilesS3Key = "elsewhere/manifest-files.json"
	api.objects[summaryKey], _ = json.Marshal(summary)

	got, err := ReadExport(context.Background(), api, "b", prefix, rel(summaryKey), nil)
	if err != nil {
		t.Fatalf("ReadExport(%q): %v", rel(summaryKey), err)
	}
	if got.SummaryKey != summaryKey || got.Items != 7 || len(got.Objects) != 2 {
		t.Fatalf("got summary %s, %d items, %d objects", got.SummaryKey, got.Items, len(got.Objects))
	}
	for i, o := range got.Objects {
		if o.Key != keys[i] {
			t.Errorf("object %d: key %s, want %s", i, o.Key, keys[i])
		}
	}
}

// A manifest that does not add up is refused before a restore trusts it.
func TestManifestCheckRefusesWhatDoesNotAddUp(t *testing.T) {
	t.Parallel()
	good := func(format int) *Manifest {
		return &Manifest{Format: format, DatasetID: "d", DataPrefix: "p/data/", ItemCount: 3, Bytes: 30, Objects: []ObjectDigest{
			{Key: "p/data/a", Size: 10, Items: 1, SHA256: strings.Repeat("a", 64), MD5: "a=="},
			{Key: "p/data/b", Size: 20, Items: 2, SHA256: strings.Repeat("b", 64), MD5: "b=="},
		}}
	}
	for _, format := range []int{1, ManifestFormat} {
		if err := good(format).Check(); err != nil {
			t.Errorf("format %d: a good manifest refused: %v", format, err)
		}
	}
	cases := map[string]struct {
		damage func(m *Manifest)
		format int
		want   string
	}{
		"unknown format":    {func(m *Manifest) { m.Format = ManifestFormat + 1 }, ManifestFormat, "manifest format 3 is not supported (want 1 or 2)"},
		"no dataset":        {func(m *Manifest) { m.DatasetID = "" }, ManifestFormat, "manifest lacks dataset id or data prefix"},
		"no data prefix":    {func(m *Manifest) { m.DataPrefix = "" }, ManifestFormat, "manifest lacks dataset id or data prefix"},
		"format 1 no sha":   {func(m *Manifest) { m.Objects[1].SHA256 = "" }, 1, "manifest object p/data/b has no SHA-256"},
		"format 1 bad sha":  {func(m *Manifest) { m.Objects[0].SHA256 = "abc" }, 1, "manifest object p/data/a has no SHA-256"},
		"format 2 no md5":   {func(m *Manifest) { m.Objects[1].MD5 = "" }, ManifestFormat, "manifest object p/data/b has no MD5"},
		"items disagree":    {func(m *Manifest) { m.ItemCount = 4 }, ManifestFormat, "manifest objects hold 3 items, manifest says 4"},
		"bytes disagree":    {func(m *Manifest) { m.Objects[0].Size = 11 }, 1, "manifest objects hold 31 bytes, manifest says 30"},
		"format 2 sha free": {func(m *Manifest) { m.Objects[0].SHA256 = "" }, ManifestFormat, ""},
	}
	for name, c := range cases {
		m := good(c.format)
		c.damage(m)
		err := m.Check()
		if got := fmt.Sprint(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
