package awsx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

func TestDeniedAction(t *testing.T) {
	t.Parallel()
	op := func(service, name string, err error) error {
		return fmt.Errorf("wrapped: %w", &smithy.OperationError{ServiceID: service, OperationName: name, Err: err})
	}
	api := func(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }
	for _, tc := range []struct {
		name   string
		err    error
		action string
		ok     bool
	}{
		{"dynamodb names it", op("DynamoDB", "ExportTableToPointInTime", api("AccessDeniedException",
			"User: arn:aws:iam::123456789012:user/w is not authorized to perform: dynamodb:ExportTableToPointInTime on resource: arn:aws:dynamodb:us-east-1:123456789012:table/t")),
			"dynamodb:ExportTableToPointInTime", true},
		{"moto's spelling", op("EC2", "CreateSnapshots", api("AccessDenied", "User: arn:aws:iam::123456789012:user/w is not authorized to perform: ec2:CreateSnapshots")),
			"ec2:CreateSnapshots", true},
		{"s3 put", op("S3", "PutObject", api("AccessDenied", "Access Denied")), "s3:PutObject", true},
		{"s3 head bucket", op("S3", "HeadBucket", api("Forbidden", "Forbidden")), "s3:ListBucket", true},
		{"s3 versions", op("S3", "ListObjectVersions", api("AccessDenied", "Access Denied")), "s3:ListBucketVersions", true},
		{"ec2 unnamed", op("EC2", "DeleteSnapshot", api("UnauthorizedOperation", "You are not authorized to perform this operation.")), "ec2:DeleteSnapshot", true},
		{"throttled", op("DynamoDB", "Scan", api("ThrottlingException", "slow down")), "", false},
		{"not aws", errors.New("boom"), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			action, ok := DeniedAction(tc.err)
			if action != tc.action || ok != tc.ok {
				t.Errorf("DeniedAction = %q, %v; want %q, %v", action, ok, tc.action, tc.ok)
			}
		})
	}
}
