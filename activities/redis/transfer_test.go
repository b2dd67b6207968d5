package redis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
)

// rangedS3 serves one object and records the ranges asked for.
type rangedS3 struct {
	S3API // other calls are not used
	body  []byte
	mu    sync.Mutex
	gets  []string
}

func (r *rangedS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	rng := aws.ToString(in.Range)
	r.mu.Lock()
	r.gets = append(r.gets, rng)
	r.mu.Unlock()
	total := int64(len(r.body))
	if rng == "" {
		return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(r.body)), ContentLength: aws.Int64(total)}, nil
	}
	var lo, hi int64
	if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &lo, &hi); err != nil {
		return nil, err
	}
	if hi >= total {
		hi = total - 1
	}
	part := r.body[lo : hi+1]
	return &s3.GetObjectOutput{
		Body: io.NopCloser(bytes.NewReader(part)), ContentLength: aws.Int64(int64(len(part))),
		ContentRange: aws.String(fmt.Sprintf("bytes %d-%d/%d", lo, hi, total)),
	}, nil
}

func TestDownloadUsesParallelRangedGets(t *testing.T) {
	t.Parallel()
	body := make([]byte, 12<<20+123)
	for i := range body {
		body[i] = byte(i * 7)
	}
	sum := sha256.Sum256(body)
	f := redisbackup.File{Name: "dump.rdb", Key: "p/c/b/n1/dump.rdb", Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
	fake := &rangedS3{body: body}
	a := &Node{NodeID: "n1", Addr: "127.0.0.1:1", S3: fake, PartSize: 5 << 20}
	dest := filepath.Join(t.TempDir(), "staging", "dump.rdb")
	progress := &transferProgress{step: new(atomic.Pointer[string]), verb: "downloaded", total: f.Size}
	in := NodeStageInput{Node: "n1", Bucket: "bkt", BackupID: "b", SourceNode: "n1"}
	if err := a.download(context.Background(), in, f, dest, progress); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("staged file differs (%v)", err)
	}
	if len(fake.gets) < 3 {
		t.Errorf("GETs %q: want one ranged GET per 5 MiB part", fake.gets)
	}
	for _, g := range fake.gets {
		if g == "" {
			t.Errorf("a GET of the whole object: %q", fake.gets)
		}
	}
	if progress.done != f.Size {
		t.Errorf("progress %d of %d bytes", progress.done, f.Size)
	}

	// Same size, another SHA-256 in the manifest: the checksum catches it.
	f.SHA256 = hex.EncodeToString(make([]byte, 32))
	err = a.download(context.Background(), in, f, dest, &transferProgress{step: new(atomic.Pointer[string])})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrChecksumMismatch {
		t.Errorf("tampered object: %v, want ChecksumMismatch", err)
	}
}
