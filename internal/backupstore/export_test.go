package backupstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// putExport writes an export the way DynamoDB lays it out: _started, data
// files, manifest-files.json, manifest-summary.json. It returns the summary
// key and the data keys.
func putExport(t *testing.T, api *memS3, prefix string, itemsPerFile ...int) (string, []string) {
	t.Helper()
	dir := prefix + "/AWSDynamoDB/01700000000000-abcd1234"
	api.objects[dir+"/_started"] = nil
	var lines []string
	var keys []string
	total := 0
	for i, n := range itemsPerFile {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		for j := range n {
			fmt.Fprintf(zw, `{"Item":{"pk":{"S":"k%d-%d"}}}`+"\n", i, j)
		}
		_ = zw.Close()
		key := fmt.Sprintf("%s/data/file%d.json.gz", dir, i)
		api.objects[key] = buf.Bytes()
		sum := md5.Sum(buf.Bytes())
		line, _ := json.Marshal(ExportFile{ItemCount: int64(n), MD5Checksum: base64.StdEncoding.EncodeToString(sum[:]),
			ETag: hex.EncodeToString(sum[:]), DataFileS3Key: key})
		lines = append(lines, string(line))
		keys = append(keys, key)
		total += n
	}
	api.objects[dir+"/manifest-files.json"] = []byte(strings.Join(lines, "\n") + "\n")
	summary, _ := json.Marshal(ExportSummary{Version: "2020-06-30", ExportArn: "arn:export", ManifestFilesS3Key: dir + "/manifest-files.json",
		ItemCount: int64(total), OutputFormat: "DYNAMODB_JSON", ExportType: "FULL_EXPORT"})
	api.objects[dir+"/manifest-summary.json"] = summary
	return dir + "/manifest-summary.json", keys
}

func TestReadExportTakesDynamoDBsCounts(t *testing.T) {
	t.Parallel()
	api := newMemS3()
	summaryKey, keys := putExport(t, api, "root/e/s/d/b1/export", 3, 0, 5)
	for _, given := range []string{summaryKey, ""} { // from DescribeExport, or found by listing
		got, err := ReadExport(context.Background(), api, "b", "root/e/s/d/b1/export", given, nil)
		if err != nil {
			t.Fatalf("ReadExport(%q): %v", given, err)
		}
		if got.Items != 8 || len(got.Objects) != 3 || got.SummaryKey != summaryKey {
			t.Fatalf("ReadExport(%q) = %d items, %d objects, summary %s", given, got.Items, len(got.Objects), got.SummaryKey)
		}
		for i, o := range got.Objects {
			d, err := Digest(context.Background(), api, "b", keys[i], nil)
			if err != nil {
				t.Fatal(err)
			}
			if why := o.Matches(d, ManifestFormat); why != "" || o.Key != keys[i] {
				t.Errorf("object %d (%s): %s", i, o.Key, why)
			}
		}
		if len(got.OwnFiles) != 3 { // _started and the two manifests
			t.Errorf("own files %v", got.OwnFiles)
		}
	}
	// Nothing but the two small manifests is read: no data file download.
	for _, l := range api.lists {
		if !strings.HasPrefix(l, "root/e/s/d/b1/export/") {
			t.Errorf("listed %s", l)
		}
	}
}

func TestReadExportRefusesWhatDoesNotAddUp(t *testing.T) {
	t.Parallel()
	cases := map[string]func(api *memS3, keys []string){
		"missing data file": func(api *memS3, keys []string) { delete(api.objects, keys[1]) },
		"changed data file": func(api *memS3, keys []string) { api.objects[keys[0]] = []byte("other") },
		"extra data file": func(api *memS3, keys []string) {
			api.objects[strings.Replace(keys[0], "file0", "stray", 1)] = []byte("x")
		},
		"counts disagree": func(api *memS3, keys []string) {
			for k, v := range api.objects {
				if strings.HasSuffix(k, "manifest-files.json") {
					api.objects[k] = bytes.Replace(v, []byte(`"itemCount":3`), []byte(`"itemCount":4`), 1)
				}
			}
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			api := newMemS3()
			summaryKey, keys := putExport(t, api, "p/export", 3, 2)
			damage(api, keys)
			_, err := ReadExport(context.Background(), api, "b", "p/export", summaryKey, nil)
			if !IsBadExport(err) {
				t.Fatalf("got %v, want a BadExportError", err)
			}
		})
	}
}

func TestFindManifestsReadsOneLevelAtATime(t *testing.T) {
	t.Parallel()
	api := newMemS3()
	loc := Location{Bucket: "b", Prefix: "root"}
	var want []string
	for _, env := range []string{"e1", "e2"} {
		for _, ds := range []string{"d", "other"} {
			for _, id := range []string{"20210901T120000.000Z", "20210902T120000.000Z"} {
				folder := loc.BackupFolder(env, "initial", ds, id)
				putExport(t, api, ExportFolder(folder), 2)
				api.objects[folder+"/"+ManifestName] = []byte("{}")
				if ds == "d" {
					want = append(want, env+"/"+id)
				}
			}
		}
	}
	for _, start := range []Location{loc, {Bucket: "b", Prefix: "root/e1"}, {Bucket: "b", Prefix: "root/e1/initial/d"},
		{Bucket: "b", Prefix: "root/e1/initial/d/20210901T120000.000Z"}} {
		api.lists = nil
		refs, err := FindManifests(context.Background(), api, start, "d")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.Env+"/"+r.BackupID)
		}
		exp := slices.DeleteFunc(slices.Clone(want), func(s string) bool {
			return !strings.HasPrefix(s, "e1/") && start.Prefix != "root" ||
				start.Prefix == "root/e1/initial/d/20210901T120000.000Z" && !strings.HasSuffix(s, "20210901T120000.000Z")
		})
		slices.SortStableFunc(exp, func(a, b string) int { return strings.Compare(a[strings.Index(a, "/"):], b[strings.Index(b, "/"):]) })
		if !slices.Equal(got, exp) {
			t.Errorf("from %s: got %v, want %v", start, got, exp)
		}
		for _, l := range api.lists {
			if !strings.HasSuffix(l, "|/") || strings.Contains(l, "/export/") {
				t.Errorf("from %s: listed %q (a listing without delimiter, or inside a backup)", start, l)
			}
		}
	}
}

func TestDigestTellsCorruptDataFromAFailedRead(t *testing.T) {
	t.Parallel()
	api := newMemS3()
	api.objects["d/broken.json.gz"] = []byte("not gzip at all")
	_, err := Digest(context.Background(), api, "b", "d/broken.json.gz", nil)
	var bad *BadDataError
	if !errors.As(err, &bad) || bad.Key != "d/broken.json.gz" {
		t.Fatalf("got %v, want a BadDataError", err)
	}
	_, err = Digest(context.Background(), api, "b", "d/missing.json.gz", nil)
	if errors.As(err, &bad) || !IsNotFound(err) {
		t.Fatalf("missing object: got %v, want a not-found error", err)
	}
}
