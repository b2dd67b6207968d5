package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Keys DynamoDB would refuse are bad input: exit 2 with one line naming the
// limit, before AWS is contacted. An endpoint that counts requests stands in
// for AWS; a valid key reaching it shows it would have seen the others.
func TestDataKeysCheckedBeforeAnythingIsContacted(t *testing.T) {
	var requests atomic.Int64
	aws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.Error(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}`, http.StatusBadRequest)
	}))
	defer aws.Close()
	t.Setenv("AWS_ENDPOINT_URL", aws.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")

	ids := []string{"--env-id", "e", "--dataset-id", "d"}
	long := strings.Repeat("k", 3*1024)
	cases := []struct {
		name string
		args []string
		want string // in the one line on stderr
	}{
		{"put empty key", append([]string{"data", "put", "--key", "", "--value", "v"}, ids...), "item key is empty"},
		{"put 3 KB key", append([]string{"data", "put", "--key", long, "--value", "v"}, ids...), "3072 bytes, at most 2048"},
		{"put 2049-byte key", append([]string{"data", "put", "--key", long[:2049]}, ids...), "at most 2048"},
		{"put multibyte key over the limit", append([]string{"data", "put", "--key", strings.Repeat("é", 1025)}, ids...), "2050 bytes"},
		{"get empty key", append([]string{"data", "get", "--key", ""}, ids...), "item key is empty"},
		{"get 3 KB key", append([]string{"data", "get", "--key", long}, ids...), "at most 2048"},
		{"load prefix too long", append([]string{"data", "load", "--count", "5", "--prefix", long}, ids...), "--prefix"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), c.args, &out, &errOut)
		msg := strings.TrimSpace(errOut.String())
		if code != ExitInvalid {
			t.Errorf("%s: exit %d, want %d (stderr %q)", c.name, code, ExitInvalid, msg)
		}
		if strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) || len(msg) > 200 {
			t.Errorf("%s: stderr %q, want one short line saying %q", c.name, msg, c.want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests reached AWS for keys that are bad input", n)
	}
	// The longest allowed key is not bad input: it gets as far as AWS.
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), append([]string{"data", "put", "--key", long[:2048]}, ids...), &out, &errOut); code == ExitInvalid {
		t.Errorf("a 2048-byte key was refused as bad input: %s", errOut.String())
	}
	if requests.Load() == 0 {
		t.Errorf("a valid key never reached the endpoint: the test cannot tell whether AWS was contacted")
	}
}
