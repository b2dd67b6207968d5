package backupstore

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// API is the part of the S3 client backups need.
type API interface {
	HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// NoBackupError says no complete backup of a dataset exists under a location.
type NoBackupError struct {
	Location Location
	Dataset  string
	BackupID string
}

func (e *NoBackupError) Error() string {
	if e.BackupID != "" {
		return fmt.Sprintf("no backup %s of dataset %q under %s", e.BackupID, e.Dataset, e.Location)
	}
	return fmt.Sprintf("no complete backup of dataset %q under %s (no %s found)", e.Dataset, e.Location, ManifestName)
}

// List returns every object under prefix, in key order.
func List(ctx context.Context, api API, bucket, prefix string) ([]types.Object, error) {
	var out []types.Object
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		out = append(out, page.Contents...)
	}
	sort.Slice(out, func(i, j int) bool { return aws.ToString(out[i].Key) < aws.ToString(out[j].Key) })
	return out, nil
}

// FindManifests lists the manifests of a dataset's backups under a location,
// oldest first. The location may be the backup root or any folder below it.
func FindManifests(ctx context.Context, api API, loc Location, dataset string) ([]ManifestRef, error) {
	prefix := loc.Prefix
	if prefix != "" {
		prefix += "/"
	}
	objs, err := List(ctx, api, loc.Bucket, prefix)
	if err != nil {
		return nil, err
	}
	var refs []ManifestRef
	for _, o := range objs {
		if ref, ok := ParseManifestKey(aws.ToString(o.Key)); ok && ref.Dataset == dataset {
			refs = append(refs, ref)
		}
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].BackupID < refs[j].BackupID })
	return refs, nil
}

// ReadManifest reads and checks one manifest.
func ReadManifest(ctx context.Context, api API, bucket, key string) (*Manifest, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("read manifest s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	var m Manifest
	if err := json.NewDecoder(out.Body).Decode(&m); err != nil {
		return nil, &BadManifestError{fmt.Errorf("decode manifest s3://%s/%s: %w", bucket, key, err)}
	}
	if err := m.Check(); err != nil {
		return nil, &BadManifestError{fmt.Errorf("manifest s3://%s/%s: %w", bucket, key, err)}
	}
	return &m, nil
}

// BadManifestError says a manifest was read but does not decode or does not
// add up: the backup is not usable, as opposed to S3 failing to answer.
type BadManifestError struct{ Err error }

func (e *BadManifestError) Error() string { return e.Err.Error() }
func (e *BadManifestError) Unwrap() error { return e.Err }

// WriteManifest stores a manifest as JSON.
func WriteManifest(ctx context.Context, api API, bucket, key string, m *Manifest) error {
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	_, err = api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("write manifest s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// Digest reads one exported data object and returns its size, SHA-256 and
// number of items (lines of DynamoDB JSON, gzip-compressed or not).
func Digest(ctx context.Context, api API, bucket, key string) (ObjectDigest, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return ObjectDigest{}, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	counter := &countingWriter{}
	// Stream: hash and size the stored bytes while counting the lines inside.
	tee := io.TeeReader(out.Body, io.MultiWriter(h, counter))
	items, err := countItems(tee, strings.HasSuffix(key, ".gz"))
	if err != nil {
		return ObjectDigest{}, fmt.Errorf("count items in s3://%s/%s: %w", bucket, key, err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return ObjectDigest{}, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return ObjectDigest{Key: key, Size: counter.n, Items: items, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func countItems(r io.Reader, gz bool) (int64, error) {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0, err
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024) // DynamoDB items are at most 400 KB
	var n int64
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	return n, sc.Err()
}

// IsNotFound reports whether an S3 error means the bucket or key is missing.
func IsNotFound(err error) bool {
	var nf *types.NotFound
	var nb *types.NoSuchBucket
	var nk *types.NoSuchKey
	return errors.As(err, &nf) || errors.As(err, &nb) || errors.As(err, &nk)
}
