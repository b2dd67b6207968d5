package dataset

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// CopyAPI is the S3 client as a backup copy needs it: read the source,
// check the destination bucket, upload (multipart for large objects) and
// check what arrived.
type CopyAPI interface {
	backupstore.API
	backupstore.BucketAPI
	manager.UploadAPIClient
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Copies copies finished backups to other locations.
//
// A copy streams each object from the source (read with the source
// location's credentials) to the destination (written with the
// destination's), through the worker, rather than with S3's server-side
// CopyObject: a server-side copy into another account needs one identity
// that may both read the source and write the destination, that is a bucket
// policy on the source bucket granting the destination role s3:GetObject,
// which Lifeboat can neither check beforehand nor set up. Streaming needs
// no more than what each location already grants its own role, at the cost
// of the bytes passing through the worker. Objects above PartSize go up in
// parts (the SDK's transfer manager).
type Copies struct {
	S3 CopyAPI
	// PartSize is the multipart threshold and part size (default
	// DefaultCopyPartSize); tests make it small.
	PartSize int64
}

// DefaultCopyPartSize is the multipart part size of a copy: objects up to
// it are uploaded in one PutObject, whose ETag is the MD5 of the data.
const DefaultCopyPartSize = 64 << 20

// sourceETagKey is the user metadata on a copied object naming the source
// object's ETag: a retried copy skips an object already there with the same
// size and this ETag.
const sourceETagKey = "lifeboat-source-etag"

// CopyBackupInput names one finished backup and where to copy it.
type CopyBackupInput struct {
	Source    backupstore.Location `json:"source"`
	Dest      backupstore.Location `json:"dest"`
	EnvID     string               `json:"envId"`
	StoreID   string               `json:"storeId"`
	DatasetID string               `json:"datasetId"`
	BackupID  string               `json:"backupId"`
}

// CopyBackupResult is a finished copy.
type CopyBackupResult struct {
	ManifestURL string `json:"manifestUrl"`
	Objects     int    `json:"objects"`
	Bytes       int64  `json:"bytes"`
	// Skipped objects were already at the destination (a retry).
	Skipped int `json:"skipped,omitempty"`
}

// CopyBackup copies every object of a backup's folder to the same relative
// layout under the destination, checks each copied object's size and
// checksum there, and writes the manifest (its keys and ETags rewritten for
// the destination) last, so that an unfinished copy has none and is never
// listed as a backup. It is idempotent: objects already copied are skipped.
func (a *Copies) CopyBackup(ctx context.Context, in CopyBackupInput) (*CopyBackupResult, error) {
	srcCtx, dstCtx := in.Source.WithRole(ctx), in.Dest.WithRole(ctx)
	srcFolder := in.Source.BackupFolder(in.EnvID, in.StoreID, in.DatasetID, in.BackupID)
	dstFolder := in.Dest.BackupFolder(in.EnvID, in.StoreID, in.DatasetID, in.BackupID)
	if in.Source.Bucket == in.Dest.Bucket && srcFolder == dstFolder {
		return nil, activities.Invalid(fmt.Errorf("copy destination %s is the backup's own location", in.Dest))
	}
	m, err := backupstore.ReadManifest(srcCtx, a.S3, in.Source.Bucket, path.Join(srcFolder, backupstore.ManifestName))
	if err != nil {
		return nil, err
	}
	bucket, err := backupstore.CheckBucket(dstCtx, a.S3, in.Dest)
	if err != nil {
		if e := activities.InvalidAccess(in.Dest, err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("copy destination %s: %w", in.Dest, err)
	}
	if err := bucket.Require(in.Dest.Bucket, m.Bucket != nil && m.Bucket.AllowUnversioned); err != nil {
		return nil, activities.Invalid(err)
	}
	objects, err := backupstore.List(srcCtx, a.S3, in.Source.Bucket, srcFolder+"/")
	if err != nil {
		return nil, err
	}
	var done, bytes atomic.Int64
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, func() any {
		return fmt.Sprintf("copied %d of %d objects, %d bytes", done.Load(), len(objects), bytes.Load())
	})
	defer hb.Stop()

	out := &CopyBackupResult{}
	etags := map[string]string{} // destination key -> its ETag
	var started time.Time
	manifestKey := path.Join(srcFolder, backupstore.ManifestName)
	for _, o := range objects {
		key := aws.ToString(o.Key)
		if key == manifestKey {
			continue // rewritten and written last
		}
		dstKey := dstFolder + strings.TrimPrefix(key, srcFolder)
		c, err := a.copyObject(srcCtx, dstCtx, in.Source.Bucket, key, in.Dest.Bucket, dstKey, &bytes)
		if err != nil {
			if e := activities.InvalidAccess(in.Dest, err); e != nil {
				return nil, e
			}
			return nil, err
		}
		etags[dstKey] = c.etag
		if started.IsZero() || c.modified.Before(started) {
			started = c.modified
		}
		if c.skipped {
			out.Skipped++
		}
		out.Objects++
		out.Bytes += c.size
		done.Add(1)
	}

	moved := func(k string) string { return dstFolder + strings.TrimPrefix(k, srcFolder) }
	dm := *m
	dm.DataPrefix = moved(m.DataPrefix)
	if m.ExportManifest != "" {
		dm.ExportManifest = moved(m.ExportManifest)
	}
	dm.Objects = make([]backupstore.ObjectDigest, len(m.Objects))
	for i, o := range m.Objects {
		o.Key = moved(o.Key)
		if _, ok := etags[o.Key]; !ok {
			return nil, activities.Corrupt(fmt.Errorf("backup %s: s3://%s/%s is in the manifest but not in the backup folder", m.BackupID, in.Source.Bucket, m.Objects[i].Key))
		}
		if o.ETag != "" {
			o.ETag = etags[o.Key] // a multipart upload has its own ETag
		}
		dm.Objects[i] = o
	}
	dm.ExportFiles = make([]string, len(m.ExportFiles))
	for i, k := range m.ExportFiles {
		dm.ExportFiles[i] = moved(k)
	}
	if started.IsZero() {
		started = time.Now().UTC()
	}
	dm.StartedAt, dm.CreatedAt, dm.Bucket = &started, time.Now().UTC(), bucket
	// The source's key belongs to the source account: the copy is encrypted
	// as the destination bucket's default says.
	dm.KMSKeyID = ""
	dstManifest := path.Join(dstFolder, backupstore.ManifestName)
	if err := backupstore.WriteManifest(dstCtx, a.S3, in.Dest.Bucket, dstManifest, &dm); err != nil {
		return nil, err
	}
	out.ManifestURL = "s3://" + in.Dest.Bucket + "/" + dstManifest
	return out, nil
}

// copied is one object at the destination.
type copied struct {
	etag     string
	size     int64
	modified time.Time
	skipped  bool
}

// copyObject streams one object to the destination, unless it is there
// already, and checks what arrived: its size, and its ETag against the one
// computed from the bytes sent (the MD5, or for a multipart upload the MD5
// of the parts' MD5s). The bytes read are checked against the source's
// single-part ETag too.
func (a *Copies) copyObject(srcCtx, dstCtx context.Context, srcBucket, srcKey, dstBucket, dstKey string, bytes *atomic.Int64) (copied, error) {
	sh, err := a.head(srcCtx, srcBucket, srcKey)
	if err != nil {
		return copied{}, err
	}
	srcETag, size := strings.Trim(aws.ToString(sh.ETag), `"`), aws.ToInt64(sh.ContentLength)
	if h, err := a.head(dstCtx, dstBucket, dstKey); err == nil && aws.ToInt64(h.ContentLength) == size && h.Metadata[sourceETagKey] == srcETag {
		bytes.Add(size)
		return copied{etag: strings.Trim(aws.ToString(h.ETag), `"`), size: size, modified: aws.ToTime(h.LastModified), skipped: true}, nil
	}
	// IfMatch: the bytes read are those of the version just looked at.
	src, err := a.S3.GetObject(srcCtx, &s3.GetObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(srcKey), IfMatch: sh.ETag})
	if err != nil {
		return copied{}, fmt.Errorf("read s3://%s/%s: %w", srcBucket, srcKey, err)
	}
	defer src.Body.Close()

	partSize := a.PartSize
	if partSize <= 0 {
		partSize = DefaultCopyPartSize
	}
	body := newPartHasher(src.Body, partSize, bytes)
	//lint:ignore SA1019 feature/s3/manager is deprecated for transfermanager, which is still pre-1.0 (as activities/redis).
	up := manager.NewUploader(a.S3, func(u *manager.Uploader) { u.PartSize = partSize })
	//lint:ignore SA1019 see above.
	if _, err := up.Upload(dstCtx, &s3.PutObjectInput{
		Bucket: aws.String(dstBucket), Key: aws.String(dstKey), Body: body,
		Metadata: map[string]string{sourceETagKey: srcETag},
		// Object Lock buckets refuse a put without a checksum.
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}); err != nil {
		return copied{}, fmt.Errorf("copy s3://%s/%s to s3://%s/%s: %w", srcBucket, srcKey, dstBucket, dstKey, err)
	}
	if body.n != size {
		return copied{}, fmt.Errorf("copy s3://%s/%s: read %d bytes, the object has %d", srcBucket, srcKey, body.n, size)
	}
	if !strings.Contains(srcETag, "-") && srcETag != body.md5() && sh.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		return copied{}, fmt.Errorf("copy s3://%s/%s: the bytes read have MD5 %s, the source's ETag is %s", srcBucket, srcKey, body.md5(), srcETag)
	}
	h, err := a.head(dstCtx, dstBucket, dstKey)
	if err != nil {
		return copied{}, err
	}
	got := strings.Trim(aws.ToString(h.ETag), `"`)
	if aws.ToInt64(h.ContentLength) != size {
		return copied{}, activities.Corrupt(fmt.Errorf("copy s3://%s/%s holds %d bytes, the source %d", dstBucket, dstKey, aws.ToInt64(h.ContentLength), size))
	}
	// An SSE-KMS object's ETag is no MD5: its size is all there is to check.
	if h.ServerSideEncryption != types.ServerSideEncryptionAwsKms && got != body.etag(got) {
		return copied{}, activities.Corrupt(fmt.Errorf("copy s3://%s/%s has ETag %s, the bytes sent give %s", dstBucket, dstKey, got, body.etag(got)))
	}
	return copied{etag: got, size: size, modified: aws.ToTime(h.LastModified)}, nil
}

func (a *Copies) head(ctx context.Context, bucket, key string) (*s3.HeadObjectOutput, error) {
	h, err := a.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
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
