package backupstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// VerifiedName is the record a verification leaves in a backup's folder,
// beside its manifest (datasets' and Redis clusters' alike). It is written
// whatever the outcome, and replaced by the next verification.
const VerifiedName = "verified.json"

// Outcomes of a verification.
const (
	VerifiedOK     = "ok"
	VerifiedFailed = "failed"
)

// Verification is what verified.json holds: when a backup was checked,
// what was checked and what came of it.
type Verification struct {
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"` // ok or failed
	// Checked says what the run did, in a sentence.
	Checked string `json:"checked"`
	// Problem is the one-line reason of a failed outcome.
	Problem    string `json:"problem,omitempty"`
	WorkflowID string `json:"workflowId,omitempty"`
	BackupID   string `json:"backupId"`
	Objects    int    `json:"objects,omitempty"` // files or objects checked
	Bytes      int64  `json:"bytes,omitempty"`
}

// Short is the record as a listing column: "ok 2026-12-02T03:04:05Z".
func (v *Verification) Short() string {
	if v == nil {
		return "-"
	}
	return v.Outcome + " " + v.At.UTC().Format(time.RFC3339)
}

// VerifiedKey is the record's key in a backup folder (a key prefix without
// the trailing slash).
func VerifiedKey(folder string) string { return path.Join(folder, VerifiedName) }

// WriteVerification stores v as the folder's verified.json.
func WriteVerification(ctx context.Context, api API, bucket, folder string, v *Verification) error {
	return putRecord(ctx, api, bucket, VerifiedKey(folder), v)
}

// ReadVerification reads a folder's verified.json; it returns nil and no
// error when the backup was never verified.
func ReadVerification(ctx context.Context, api API, bucket, folder string) (*Verification, error) {
	return getRecord[Verification](ctx, api, bucket, VerifiedKey(folder))
}

// putRecord writes v as a small JSON record beside a backup, with a
// checksum (Object Lock buckets refuse a put without one).
func putRecord(ctx context.Context, api API, bucket, key string, v any) error {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path.Base(key), err)
	}
	_, err = api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType:       aws.String("application/json"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return fmt.Errorf("write s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// getRecord reads a record putRecord wrote; nil and no error when absent.
func getRecord[T any](ctx context.Context, api API, bucket, key string) (*T, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	var v T
	if err := json.NewDecoder(out.Body).Decode(&v); err != nil {
		return nil, fmt.Errorf("decode s3://%s/%s: %w", bucket, key, err)
	}
	return &v, nil
}
