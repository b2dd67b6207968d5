package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// upload streams r to s3://bucket/key with the transfer manager (a
// multipart upload above one part), hashing what it sends; with a KMS key,
// encrypted with SSE-KMS (CreateMultipartUpload carries it for every part).
func (a *Node) upload(ctx context.Context, bucket, key, kmsKeyID string, r io.Reader, progress *transferProgress) (string, int64, error) {
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(r, h), progress: progress}
	// The reader hides io.Seeker and io.ReaderAt, so the uploader reads it
	// once, in order, and the hash is of exactly the bytes sent.
	//lint:ignore SA1019 feature/s3/manager is deprecated for transfermanager, which is still pre-1.0.
	up := manager.NewUploader(a.S3, func(u *manager.Uploader) {
		u.PartSize = a.partSize()
		u.Concurrency = 2
	})
	in := &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: counted,
		// Object Lock buckets refuse a put without a checksum.
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
	}
	if kmsKeyID != "" {
		in.ServerSideEncryption, in.SSEKMSKeyId = s3types.ServerSideEncryptionAwsKms, aws.String(kmsKeyID)
	}
	//lint:ignore SA1019 see above.
	if _, err := up.Upload(ctx, in); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), counted.n, nil
}

type countingReader struct {
	r        io.Reader
	n        int64
	progress *transferProgress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress.add(int64(n))
	return n, err
}

// transferProgress reports a node's transfer in its heartbeats.
type transferProgress struct {
	mu          sync.Mutex // parallel downloads add from several goroutines
	step        *atomic.Pointer[string]
	verb        string
	done, total int64
	last        time.Time
}

func (p *transferProgress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if time.Since(p.last) < time.Second && p.done < p.total {
		return
	}
	p.last = time.Now()
	setStep(p.step, fmt.Sprintf("%s %d of %d bytes", p.verb, p.done, p.total))
}

// downloadConcurrency is how many ranged GETs of one file run at once.
const downloadConcurrency = 8

// download fetches one file with the transfer manager (parallel ranged GETs
// of PartSize each, written in place), then checks its size and SHA-256
// against the manifest.
func (a *Node) download(ctx context.Context, in NodeStageInput, f redisbackup.File, dest string, progress *transferProgress) error {
	url := "s3://" + in.Bucket + "/" + f.Key
	n, sum, err := downloadFile(ctx, a.S3, a.partSize(), in.Bucket, f.Key, dest, progress)
	if err != nil {
		return a.errorf("download %s: %w", url, err)
	}
	if n != f.Size || sum != f.SHA256 {
		return permanent(activities.ErrChecksumMismatch, a.errorf(
			"%s of backup %s (node %s) does not match the cluster manifest: %d bytes with SHA-256 %s, want %d bytes with %s: the backup is corrupt",
			url, in.BackupID, in.SourceNode, n, sum, f.Size, f.SHA256))
	}
	return nil
}

// downloadFile fetches s3://bucket/key to dest with the transfer manager
// (parallel ranged GETs of partSize each, written in place) and returns its
// size and SHA-256, read back from disk: what a restore or a verification
// will use.
func downloadFile(ctx context.Context, api manager.DownloadAPIClient, partSize int64, bucket, key, dest string, progress *transferProgress) (int64, string, error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return 0, "", err
	}
	w, err := os.OpenFile(dest, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return 0, "", err
	}
	//lint:ignore SA1019 feature/s3/manager is deprecated for transfermanager, which is still pre-1.0.
	down := manager.NewDownloader(api, func(d *manager.Downloader) {
		d.PartSize = partSize
		d.Concurrency = downloadConcurrency
	})
	//lint:ignore SA1019 see above.
	n, err := down.Download(ctx, &countingWriterAt{w: w, progress: progress}, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		err = w.Sync()
	}
	h := sha256.New()
	if err == nil {
		if _, err = w.Seek(0, io.SeekStart); err == nil {
			_, err = io.Copy(h, w)
		}
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// countingWriterAt reports the parts the downloader writes, from any of its
// goroutines.
type countingWriterAt struct {
	w        io.WriterAt
	progress *transferProgress
}

func (c *countingWriterAt) WriteAt(p []byte, off int64) (int, error) {
	n, err := c.w.WriteAt(p, off)
	c.progress.add(int64(n))
	return n, err
}
