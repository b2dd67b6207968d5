// Package s3mem is an in-memory S3 for unit tests of backup copies.
package s3mem

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3 is an in-memory S3 as a backup copy (backupstore.Copier) uses it: single-part puts have
// the MD5 as ETag, multipart uploads the MD5 of the parts' MD5s.
type S3 struct {
	mu      sync.Mutex
	objects map[string]Object // bucket/key
	uploads map[string][][]byte
	upMeta  map[string]map[string]string // an upload's metadata, kept by the object
	Puts    []string                     // keys written, in order
	Parts   int                          // parts uploaded
	FailPut string                       // a key whose upload fails
}

type Object struct {
	Data     []byte
	ETag     string
	Meta     map[string]string
	Modified time.Time
}

func New() *S3 {
	return &S3{objects: map[string]Object{}, uploads: map[string][][]byte{}, upMeta: map[string]map[string]string{}}
}

// MD5Hex is the hex MD5 of b: a single-part upload's ETag.
func MD5Hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// Put stores an object, failing for FailPut.
func (m *S3) Put(bucket, key string, data []byte, etag string, meta map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if key == m.FailPut {
		return errors.New("injected failure")
	}
	m.objects[bucket+"/"+key] = Object{Data: data, ETag: etag, Meta: meta, Modified: time.Now()}
	m.Puts = append(m.Puts, key)
	return nil
}

func (m *S3) HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return &s3.HeadBucketOutput{}, nil
}

func (m *S3) GetBucketVersioning(context.Context, *s3.GetBucketVersioningInput, ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error) {
	return &s3.GetBucketVersioningOutput{Status: types.BucketVersioningStatusEnabled}, nil
}

func (m *S3) GetObjectLockConfiguration(context.Context, *s3.GetObjectLockConfigurationInput, ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
	return &s3.GetObjectLockConfigurationOutput{}, nil
}

func (m *S3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out s3.ListObjectsV2Output
	for k, o := range m.objects {
		b, key, _ := strings.Cut(k, "/")
		if b == aws.ToString(in.Bucket) && strings.HasPrefix(key, aws.ToString(in.Prefix)) {
			out.Contents = append(out.Contents, types.Object{Key: aws.String(key), Size: aws.Int64(int64(len(o.Data))), ETag: aws.String(`"` + o.ETag + `"`)})
		}
	}
	sort.Slice(out.Contents, func(i, j int) bool { return *out.Contents[i].Key < *out.Contents[j].Key })
	return &out, nil
}

// Get reads bucket/key.
func (m *S3) Get(in string) (Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[in]
	if !ok {
		return o, &types.NotFound{}
	}
	return o, nil
}

func (m *S3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	o, err := m.Get(aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key))
	if err != nil {
		return nil, err
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.Data)), ContentLength: aws.Int64(int64(len(o.Data))), ETag: aws.String(`"` + o.ETag + `"`)}, nil
}

func (m *S3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	o, err := m.Get(aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key))
	if err != nil {
		return nil, err
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(o.Data))), ETag: aws.String(`"` + o.ETag + `"`), Metadata: o.Meta, LastModified: aws.Time(o.Modified)}, nil
}

func (m *S3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	return &s3.PutObjectOutput{}, m.Put(aws.ToString(in.Bucket), aws.ToString(in.Key), data, MD5Hex(data), in.Metadata)
}

func (m *S3) CreateMultipartUpload(_ context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := fmt.Sprintf("up%d", len(m.uploads))
	m.uploads[id], m.upMeta[id] = nil, in.Metadata
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String(id), Bucket: in.Bucket, Key: in.Key}, nil
}

func (m *S3) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := m.uploads[aws.ToString(in.UploadId)]
	for len(parts) < int(aws.ToInt32(in.PartNumber)) {
		parts = append(parts, nil)
	}
	parts[aws.ToInt32(in.PartNumber)-1] = data
	m.uploads[aws.ToString(in.UploadId)] = parts
	m.Parts++
	return &s3.UploadPartOutput{ETag: aws.String(`"` + MD5Hex(data) + `"`)}, nil
}

func (m *S3) CompleteMultipartUpload(_ context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	m.mu.Lock()
	parts, meta := m.uploads[aws.ToString(in.UploadId)], m.upMeta[aws.ToString(in.UploadId)]
	m.mu.Unlock()
	var data, sums []byte
	for _, p := range parts {
		data = append(data, p...)
		s := md5.Sum(p)
		sums = append(sums, s[:]...)
	}
	etag := fmt.Sprintf("%s-%d", MD5Hex(sums), len(parts))
	return &s3.CompleteMultipartUploadOutput{}, m.Put(aws.ToString(in.Bucket), aws.ToString(in.Key), data, etag, meta)
}

func (m *S3) AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return &s3.AbortMultipartUploadOutput{}, nil
}
