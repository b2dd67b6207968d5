package backupstore

import "testing"

func TestParseLocation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw, bucket, prefix string
		ok                  bool
	}{
		{"s3://my-backup-bucket/backupPrefix", "my-backup-bucket", "backupPrefix", true},
		{"s3://bucket", "bucket", "", true},
		{"s3://bucket/a/b/", "bucket", "a/b", true},
		{"https://bucket/a", "", "", false},
		{"s3://", "", "", false},
		{"s3://Bad_Bucket/x", "", "", false},
		{"bucket/prefix", "", "", false},
		{"s3://bucket/a//b", "", "", false},
	}
	for _, c := range cases {
		loc, err := ParseLocation(c.raw)
		if (err == nil) != c.ok {
			t.Errorf("ParseLocation(%q) error = %v, want ok=%v", c.raw, err, c.ok)
			continue
		}
		if c.ok && (loc.Bucket != c.bucket || loc.Prefix != c.prefix) {
			t.Errorf("ParseLocation(%q) = %+v", c.raw, loc)
		}
	}
}

func TestParseManifestKey(t *testing.T) {
	t.Parallel()
	ref, ok := ParseManifestKey("root/env1/initial/ds1/20210901T120000Z/manifest.json")
	if !ok || ref.Env != "env1" || ref.Dataset != "ds1" || ref.BackupID != "20210901T120000Z" {
		t.Fatalf("ParseManifestKey = %+v, %v", ref, ok)
	}
	if _, ok := ParseManifestKey("root/env1/initial/ds1/20210901T120000Z/export/data.json.gz"); ok {
		t.Fatal("data object taken for a manifest")
	}
	loc := Location{Bucket: "b", Prefix: "root"}
	if got := loc.BackupFolder("e", "s", "d", "x"); got != "root/e/s/d/x" {
		t.Fatalf("BackupFolder = %s", got)
	}
	if got := (Location{Bucket: "b"}).BackupFolder("e", "s", "d", "x"); got != "e/s/d/x" {
		t.Fatalf("BackupFolder without prefix = %s", got)
	}
}

func TestParseLocationWith(t *testing.T) {
	t.Parallel()
	const role = "arn:aws:iam::222233334444:role/lifeboat-backup-writer"
	loc, err := ParseLocationWith("s3://bucket/p", Access{RoleARN: role, ExternalID: "x-1"})
	if err != nil {
		t.Fatal(err)
	}
	if loc.Owner() != "222233334444" || loc.Role().ARN != role || loc.Role().ExternalID != "x-1" {
		t.Errorf("location %+v: owner %q, role %+v", loc, loc.Owner(), loc.Role())
	}
	loc, err = ParseLocationWith("s3://bucket/p", Access{RoleARN: role, BucketOwner: "555566667777"})
	if err != nil || loc.Owner() != "555566667777" {
		t.Errorf("explicit owner: %+v, %v", loc, err)
	}
	if loc, _ := ParseLocation("s3://bucket"); loc.Owner() != "" {
		t.Errorf("own-account location has owner %q", loc.Owner())
	}
	for _, a := range []Access{{RoleARN: "arn:aws:iam::1:role/x"}, {BucketOwner: "12"}, {ExternalID: "no-role"}} {
		if _, err := ParseLocationWith("s3://bucket/p", a); err == nil {
			t.Errorf("%+v accepted", a)
		}
	}
}
