package iam

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// policy is an IAM policy document as deploy/iam/ ships it.
type policy struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string          `json:"Sid,omitempty"`
	Effect    string          `json:"Effect"`
	Principal json.RawMessage `json:"Principal,omitempty"`
	Action    strings1        `json:"Action"`
	Resource  strings1        `json:"Resource,omitempty"`
	Condition json.RawMessage `json:"Condition,omitempty"`
}

// strings1 is an IAM element that is a string or a list of strings.
type strings1 []string

func (s *strings1) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = strings1{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// loadPolicy reads deploy/iam/<name> with its {PLACEHOLDERS} replaced.
// Every placeholder must be given a value: one left over fails the test.
func loadPolicy(t *testing.T, name string, values map[string]string) policy {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "iam", name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for k, v := range values {
		text = strings.ReplaceAll(text, "{"+k+"}", v)
	}
	if left := placeholders(text); len(left) > 0 {
		t.Fatalf("%s: placeholders left unfilled: %v", name, left)
	}
	var p policy
	if err := json.Unmarshal([]byte(text), &p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// motoAliases are moto's spellings of the S3 actions Lifeboat needs: moto
// checks an S3 request as s3:<API operation> for these, where AWS checks
// the IAM action (docs/emulator.md).
var motoAliases = map[string][]string{
	"s3:ListBucket":                       {"s3:HeadBucket", "s3:ListObjectsV2", "s3:ListObjects"},
	"s3:ListBucketVersions":               {"s3:ListObjectVersions"},
	"s3:GetBucketObjectLockConfiguration": {"s3:GetObjectLockConfiguration"},
	"s3:PutObject":                        {"s3:CreateMultipartUpload", "s3:CompleteMultipartUpload", "s3:UploadPart", "s3:CopyObject"},
	"s3:DeleteObject":                     {"s3:DeleteObjects"},
	"s3:ListMultipartUploadParts":         {"s3:ListParts"},
}

// forMoto is p as moto can evaluate it. moto matches an S3 request's
// bucket or object ARN, but a DynamoDB, EC2 or CloudWatch Logs request
// only as "*": those statements get Resource "*" (their action lists are
// what is tested). S3 statements gain moto's spellings of their actions,
// on the bucket and its objects. Conditions stay: moto passes them when
// the request carries no value for their keys.
func forMoto(p policy) policy {
	out := policy{Version: p.Version}
	for _, s := range p.Statement {
		s.Action = slices.Clone(s.Action)
		if s3Only(s.Action) {
			for _, a := range s.Action {
				s.Action = append(s.Action, motoAliases[a]...)
			}
			var res strings1
			for _, r := range s.Resource {
				bucket, _, _ := strings.Cut(r, "/")
				res = append(res, bucket, bucket+"/*")
			}
			slices.Sort(res)
			s.Resource = slices.Compact(res)
		} else if len(s.Resource) > 0 {
			s.Resource = strings1{"*"}
		}
		out.Statement = append(out.Statement, s)
	}
	return out
}

func s3Only(actions []string) bool {
	for _, a := range actions {
		if !strings.HasPrefix(a, "s3:") {
			return false
		}
	}
	return true
}

// without is p less the statement sid.
func (p policy) without(sid string) policy {
	out := policy{Version: p.Version}
	for _, s := range p.Statement {
		if s.Sid != sid {
			out.Statement = append(out.Statement, s)
		}
	}
	return out
}

// only returns the actions statement sid alone grants, as moto evaluates
// p (resources ignored where moto ignores them): those its removal denies.
func (p policy) only(sid string) []string {
	others := map[string]bool{}
	var mine []string
	for _, s := range p.Statement {
		for _, a := range s.Action {
			if s.Sid == sid {
				mine = append(mine, a)
			} else {
				others[a] = true
			}
		}
	}
	var out []string
	for _, a := range mine {
		if !others[a] {
			out = append(out, a)
		}
	}
	return out
}

func (p policy) json(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (p policy) sids() []string {
	var out []string
	for _, s := range p.Statement {
		out = append(out, s.Sid)
	}
	return out
}

// TestPoliciesAreWellFormed checks every document in deploy/iam/: valid
// JSON, a Sid on every statement (the README and the tests name them),
// no Sid twice, and every {PLACEHOLDER} one the README explains.
func TestPoliciesAreWellFormed(t *testing.T) {
	t.Parallel()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "deploy", "iam", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "deploy", "iam", "*.json"))
	if err != nil || len(files) < 5 {
		t.Fatalf("deploy/iam holds %d policies (%v), want at least 5", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var p policy
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if p.Version != "2012-10-17" {
			t.Errorf("%s: Version %q", filepath.Base(f), p.Version)
		}
		seen := map[string]bool{}
		for i, s := range p.Statement {
			if s.Sid == "" || seen[s.Sid] {
				t.Errorf("%s: statement %d has Sid %q (missing or repeated)", filepath.Base(f), i, s.Sid)
			}
			seen[s.Sid] = true
			if !strings.Contains(string(readme), s.Sid) {
				t.Errorf("%s: README.md does not explain statement %s", filepath.Base(f), s.Sid)
			}
		}
		for _, ph := range placeholders(string(b)) {
			if !strings.Contains(string(readme), ph) {
				t.Errorf("%s: README.md does not explain placeholder %s", filepath.Base(f), ph)
			}
		}
	}
}

// placeholders lists the {NAME}s in text.
func placeholders(text string) []string {
	var out []string
	for {
		l := strings.Index(text, "{")
		if l < 0 {
			break
		}
		r := strings.Index(text[l:], "}")
		if r < 0 {
			break
		}
		name := text[l+1 : l+r]
		if name != "" && strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == "" {
			out = append(out, "{"+name+"}")
		}
		text = text[l+1:]
	}
	slices.Sort(out)
	return slices.Compact(out)
}
