package backupstore

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
)

// A DeleteObjects answer's per-key AccessDenied is a refusal naming
// s3:DeleteObjectVersion; Object Lock's AccessDenied keeps S3's words
// (no grant helps), and other codes are not refusals.
func TestBatchErrorNamesTheRefusedAction(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code, msg string
		action    string // "" when not a refusal to name
	}{
		{"AccessDenied", "Access Denied", "s3:DeleteObjectVersion"},
		{"AccessDenied", "Access Denied because object protected by object lock.", ""},
		{"InternalError", "We encountered an internal error.", ""},
	} {
		err := batchError(types.Error{Code: aws.String(c.code), Message: aws.String(c.msg), Key: aws.String("k")})
		action, denied := awsx.DeniedAction(err)
		if denied != (c.action != "") || action != c.action {
			t.Errorf("%s %q: DeniedAction = %q, %v; want %q", c.code, c.msg, action, denied, c.action)
		}
	}
}
