package awsx

import (
	"errors"
	"regexp"
	"strings"

	"github.com/aws/smithy-go"
)

// deniedCodes are the error codes AWS answers a request its caller may not
// make with: DynamoDB's and STS's, S3's (Forbidden for a HEAD, which has no
// body), EC2's, and the generic one moto answers for every service.
var deniedCodes = map[string]bool{
	"AccessDenied":          true,
	"AccessDeniedException": true,
	"Forbidden":             true,
	"UnauthorizedOperation": true,
}

// performRE finds the IAM action in AWS's "User: arn:... is not authorized
// to perform: dynamodb:ExportTableToPointInTime on resource: ..." messages.
var performRE = regexp.MustCompile(`perform: ([a-z0-9-]+:[A-Za-z0-9]+)`)

// s3Actions are the IAM actions of the S3 operations whose names differ
// from their action's (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations.html
// lists each operation's permission). S3's AccessDenied does not name it.
var s3Actions = map[string]string{
	"HeadBucket":                 "s3:ListBucket",
	"ListObjects":                "s3:ListBucket",
	"ListObjectsV2":              "s3:ListBucket",
	"ListObjectVersions":         "s3:ListBucketVersions",
	"HeadObject":                 "s3:GetObject",
	"GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
	"DeleteObjects":              "s3:DeleteObject",
	"CreateMultipartUpload":      "s3:PutObject",
	"UploadPart":                 "s3:PutObject",
	"CompleteMultipartUpload":    "s3:PutObject",
	"ListParts":                  "s3:ListMultipartUploadParts",
	"CopyObject":                 "s3:PutObject",
}

// DeniedAction reports whether err is AWS refusing a request for want of
// permission and, if so, the IAM action refused: the one AWS's message
// names, else the operation's (S3 operations mapped to their actions).
func DeniedAction(err error) (string, bool) {
	var api smithy.APIError
	if !errors.As(err, &api) || !deniedCodes[api.ErrorCode()] {
		return "", false
	}
	if m := performRE.FindStringSubmatch(api.ErrorMessage()); m != nil {
		return m[1], true
	}
	var op *smithy.OperationError
	if !errors.As(err, &op) {
		return "unknown action", true
	}
	service := strings.ToLower(strings.ReplaceAll(op.ServiceID, " ", ""))
	if service == "s3" {
		if a, ok := s3Actions[op.OperationName]; ok {
			return a, true
		}
	}
	return service + ":" + op.OperationName, true
}
