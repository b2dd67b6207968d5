package backupstore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CopyAPI is the S3 client as a backup copy needs it: read the source,
// check the destination bucket, upload (multipart for large objects) and
// check what arrived.
type CopyAPI interface {
	API
	BucketAPI
	manager.UploadAPIClient
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// DefaultCopyPartSize is the multipart part size of a copy: objects up to
// it are uploaded in one PutObject, whose ETag is the MD5 of the data.
const DefaultCopyPartSize = 64 << 20

// sourceETagKey is the user metadata on a copied object naming the source
// object's ETag: a retried copy skips an object already there with the same
// size and this ETag.
const sourceETagKey = "lifeboat-source-etag"

// Copier streams objects from one location to another, each side with its
// own credentials (the contexts given carry each location's role). The
// dataset and Redis backup copies share it.
//
// A copy streams through the worker rather than using S3's server-side
// CopyObject: a server-side copy into another account needs one identity
// that may both read the source and write the destination, that is a bucket
// policy on the source bucket granting the destination role s3:GetObject,
// which Lifeboat can neither check beforehand nor set up. Streaming needs
// no more than what each location already grants its own role, at the cost
// of the bytes passing through the worker. Objects above PartSize go up in
// parts (the SDK's transfer manager).
type Copier struct {
	S3 CopyAPI
	// PartSize is the multipart threshold and part size (default
	// DefaultCopyPartSize); tests make it small.
	PartSize int64
}

// Copied is one object at the destination.
type Copied struct {
	ETag     string
	Size     int64
	Modified time.Time
	// Skipped: it was there already (a retry), nothing was sent.
	Skipped bool
}

// CopyMismatchError says a copied object is not what was sent: the
// destination holds other bytes than the source.
type CopyMismatchError struct{ Msg string }

func (e *CopyMismatchError) Error() string { return e.Msg }

// CopyObject streams one object to the destination, unless it is there
// already, and checks what arrived: its size, and its ETag against the one
// computed from the bytes sent (the MD5, or for a multipart upload the MD5
// of the parts' MD5s). The bytes read are checked against the source's
// single-part ETag too. progress counts the bytes read.
func (c *Copier) CopyObject(srcCtx, dstCtx context.Context, srcBucket, srcKey, dstBucket, dstKey string, progress *atomic.Int64) (Copied, error) {
	sh, err := c.head(srcCtx, srcBucket, srcKey)
	if err != nil {
		return Copied{}, err
	}
	srcETag, size := strings.Trim(aws.ToString(sh.ETag), `"`), aws.ToInt64(sh.ContentLength)
	if h, err := c.head(dstCtx, dstBucket, dstKey); err == nil && aws.ToInt64(h.ContentLength) == size && h.Metadata[sourceETagKey] == srcETag {
		progress.Add(size)
		return Copied{ETag: strings.Trim(aws.ToString(h.ETag), `"`), Size: size, Modified: aws.ToTime(h.LastModified), Skipped: true}, nil
	}
	// IfMatch: the bytes read are those of the version just looked at.
	src, err := c.S3.GetObject(srcCtx, &s3.GetObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(srcKey), IfMatch: sh.ETag})
	if err != nil {
		return Copied{}, fmt.Errorf("read s3://%s/%s: %w", srcBucket, srcKey, err)
	}
	defer src.Body.Close()

	partSize := c.PartSize
	if partSize <= 0 {
		partSize = DefaultCopyPartSize
	}
	body := newPartHasher(src.Body, partSize, progress)
	//lint:ignore SA1019 feature/s3/manager is deprecated for transfermanager, which is still pre-1.0 (as activities/redis).
	up := manager.NewUploader(c.S3, func(u *manager.Uploader) { u.PartSize = partSize })
	//lint:ignore SA1019 see above.
	if _, err := up.Upload(dstCtx, &s3.PutObjectInput{
		Bucket: aws.String(dstBucket), Key: aws.String(dstKey), Body: body,
		Metadata: map[string]string{sourceETagKey: srcETag},
		// Object Lock buckets refuse a put without a checksum.
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}); err != nil {
		return Copied{}, fmt.Errorf("copy s3://%s/%s to s3://%s/%s: %w", srcBucket, srcKey, dstBucket, dstKey, err)
	}
	if body.n != size {
		return Copied{}, fmt.Errorf("copy s3://%s/%s: read %d bytes, the object has %d", srcBucket, srcKey, body.n, size)
	}
	if !strings.Contains(srcETag, "-") && srcETag != body.md5() && sh.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		return Copied{}, fmt.Errorf("copy s3://%s/%s: the bytes read have MD5 %s, the source's ETag is %s", srcBucket, srcKey, body.md5(), srcETag)
	}
	h, err := c.head(dstCtx, dstBucket, dstKey)
	if err != nil {
		return Copied{}, err
	}
	got := strings.Trim(aws.ToString(h.ETag), `"`)
	if aws.ToInt64(h.ContentLength) != size {
		return Copied{}, &CopyMismatchError{fmt.Sprintf("copy s3://%s/%s holds %d bytes, the source %d", dstBucket, dstKey, aws.ToInt64(h.ContentLength), size)}
	}
	// An SSE-KMS object's ETag is no MD5: its size is all there is to check.
	if h.ServerSideEncryption != types.ServerSideEncryptionAwsKms && got != body.etag(got) {
		return Copied{}, &CopyMismatchError{fmt.Sprintf("copy s3://%s/%s has ETag %s, the bytes sent give %s", dstBucket, dstKey, got, body.etag(got))}
	}
	return Copied{ETag: got, Size: size, Modified: aws.ToTime(h.LastModified)}, nil
}

func (c *Copier) head(ctx context.Context, bucket, key string) (*s3.HeadObjectOutput, error) {
	h, err := c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("check s3://%s/%s: %w", bucket, key, err)
	}
	return h, nil
}

// partHasher reads an object once and computes both ETags S3 may give its
// upload: the MD5 of the whole, and the multipart one (the MD5 of each
// part's MD5, then "-" and the number of parts). The transfer manager reads
// a plain io.Reader in order, one PartSize at a time.
type partHasher struct {
	r        io.Reader
	partSize int64
	whole    hash.Hash
	part     hash.Hash
	inPart   int64
	parts    []byte // the parts' MD5s, concatenated
	n        int64
	progress *atomic.Int64
}

func newPartHasher(r io.Reader, partSize int64, progress *atomic.Int64) *partHasher {
	return &partHasher{r: r, partSize: partSize, whole: md5.New(), part: md5.New(), progress: progress}
}

func (h *partHasher) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	b := p[:n]
	h.n += int64(n)
	h.progress.Add(int64(n))
	h.whole.Write(b)
	for len(b) > 0 {
		take := min(int64(len(b)), h.partSize-h.inPart)
		h.part.Write(b[:take])
		h.inPart += take
		b = b[take:]
		if h.inPart == h.partSize {
			h.parts = h.part.Sum(h.parts)
			h.part.Reset()
			h.inPart = 0
		}
	}
	return n, err
}

func (h *partHasher) md5() string { return hex.EncodeToString(h.whole.Sum(nil)) }

// etag is the ETag expected of the upload, in the form of got: the MD5 of
// the whole for a single-part ETag, else the multipart ETag.
func (h *partHasher) etag(got string) string {
	if !strings.Contains(got, "-") {
		return h.md5()
	}
	parts := h.parts
	count := len(parts) / md5.Size
	if h.inPart > 0 {
		parts = h.part.Sum(parts)
		count++
	}
	sum := md5.Sum(parts)
	return fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), count)
}
