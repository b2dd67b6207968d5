package backupstore

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
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

// backupIDPattern matches backup folder names (ids.BackupID).
var backupIDPattern = regexp.MustCompile(`^\d{8}T\d{6}\.\d{3}Z$`)

// maxFindDepth bounds how far below a location FindManifests looks: a
// location may be the backup root (<env>/<store>/<dataset>/<backup id>
// below it) or any folder on the way down.
const maxFindDepth = 4

// FindManifests finds a dataset's backups under a location, oldest first,
// reading one folder level at a time (S3 listings with a delimiter): it
// never lists a backup's data. The location may be the backup root or any
// folder below it. A returned ref names where the backup's manifest would
// be; a folder whose backup is in progress or failed has none, which the
// caller learns when it reads the manifest. It lists every dataset folder
// under the location: to find many datasets' backups, call FindAllManifests
// once.
func FindManifests(ctx context.Context, api API, loc Location, dataset string) ([]ManifestRef, error) {
	all, err := FindAllManifests(ctx, api, loc)
	if err != nil {
		return nil, err
	}
	return all[dataset], nil
}

// FindAllManifests is FindManifests for every dataset under the location at
// once, by dataset id: one walk, one listing per folder, so finding the
// backups of 1,000 datasets costs about 1,000 listings, not a million.
func FindAllManifests(ctx context.Context, api API, loc Location) (map[string][]ManifestRef, error) {
	ctx = loc.WithRole(ctx)
	start := loc.Prefix
	if start != "" {
		start += "/"
	}
	refs := map[string][]ManifestRef{}
	var walk func(prefix string, depth int) error
	walk = func(prefix string, depth int) error {
		folders, hasManifest, err := listLevel(ctx, api, loc.Bucket, prefix)
		if err != nil {
			return err
		}
		if hasManifest { // the location is a backup folder itself
			if ref, ok := ParseManifestKey(prefix + ManifestName); ok {
				refs[ref.Dataset] = append(refs[ref.Dataset], ref)
			}
			return nil
		}
		var ids []string
		for _, f := range folders {
			if backupIDPattern.MatchString(f) {
				ids = append(ids, f)
			}
		}
		if len(ids) > 0 { // a dataset folder
			dataset := path.Base(prefix)
			for _, id := range ids {
				if ref, ok := ParseManifestKey(prefix + id + "/" + ManifestName); ok {
					refs[dataset] = append(refs[dataset], ref)
				}
			}
			return nil
		}
		if depth >= maxFindDepth {
			return nil
		}
		for _, f := range folders {
			if f == "export" || f == "AWSDynamoDB" {
				continue
			}
			if err := walk(prefix+f+"/", depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(start, 0); err != nil {
		return nil, err
	}
	for _, r := range refs {
		sort.SliceStable(r, func(i, j int) bool { return r[i].BackupID < r[j].BackupID })
	}
	return refs, nil
}

// listLevel lists the folders directly under prefix and whether a manifest
// sits directly in it.
func listLevel(ctx context.Context, api API, bucket, prefix string) (folders []string, hasManifest bool, err error) {
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			if name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"); name != "" {
				folders = append(folders, name)
			}
		}
		for _, o := range page.Contents {
			hasManifest = hasManifest || aws.ToString(o.Key) == prefix+ManifestName
		}
	}
	sort.Strings(folders)
	return folders, hasManifest, nil
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
	in := &s3.PutObjectInput{
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, // Object Lock buckets refuse a put without a checksum
		Bucket:            aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	}
	if m.KMSKeyID != "" { // encrypted like the export it describes
		in.ServerSideEncryption, in.SSEKMSKeyId = types.ServerSideEncryptionAwsKms, aws.String(m.KMSKeyID)
	}
	_, err = api.PutObject(ctx, in)
	if err != nil {
		return fmt.Errorf("write manifest s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// Digest reads one exported data object and returns its size, SHA-256, MD5
// (base64, as DynamoDB's manifest-files.json and S3's Content-MD5 give it)
// and number of items (lines of DynamoDB JSON, gzip-compressed or not).
// onBytes, if set, is called with the bytes read so far as the object
// streams, so a caller can heartbeat inside a large object.
func Digest(ctx context.Context, api API, bucket, key string, onBytes func(int64)) (ObjectDigest, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return ObjectDigest{}, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	h, m := sha256.New(), md5.New()
	counter := &countingWriter{onBytes: onBytes}
	// Stream: hash and size the stored bytes while counting the lines inside.
	tee := io.TeeReader(bodyReader{out.Body}, io.MultiWriter(h, m, counter))
	items, err := countItems(tee, strings.HasSuffix(key, ".gz"))
	if err != nil {
		if ctx.Err() == nil && !isReadError(err) {
			return ObjectDigest{}, &BadDataError{Key: key, Err: err}
		}
		return ObjectDigest{}, fmt.Errorf("count items in s3://%s/%s: %w", bucket, key, err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return ObjectDigest{}, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return ObjectDigest{
		Key: key, Size: counter.n, Items: items,
		SHA256: hex.EncodeToString(h.Sum(nil)), MD5: base64.StdEncoding.EncodeToString(m.Sum(nil)),
	}, nil
}

// Matches reports how a downloaded object differs from what a manifest of
// the given format recorded for it ("" when it matches): size, item count
// and the format's checksum (MD5 for format 2, SHA-256 for format 1).
func (want ObjectDigest) Matches(got ObjectDigest, format int) string {
	switch {
	case got.Size != want.Size:
		return fmt.Sprintf("size %d, manifest says %d", got.Size, want.Size)
	case got.Items != want.Items:
		return fmt.Sprintf("%d items, manifest says %d", got.Items, want.Items)
	case format == 1 && got.SHA256 != want.SHA256:
		return fmt.Sprintf("sha256 %s, manifest says %s", got.SHA256, want.SHA256)
	case format >= 2 && got.MD5 != want.MD5:
		return fmt.Sprintf("md5 %s, manifest says %s", got.MD5, want.MD5)
	}
	return ""
}

// BadDataError says a data object was read whole but does not decode (a
// broken gzip stream, a line longer than any DynamoDB item): its content is
// corrupt, which reading it again will not change.
type BadDataError struct {
	Key string
	Err error
}

func (e *BadDataError) Error() string { return fmt.Sprintf("%s does not decode: %v", e.Key, e.Err) }
func (e *BadDataError) Unwrap() error { return e.Err }

// readError marks an error of the S3 body itself (a connection reset
// mid-object), as opposed to the bytes not decoding.
type readError struct{ error }

func (e readError) Unwrap() error { return e.error }

func isReadError(err error) bool {
	var r readError
	return errors.As(err, &r)
}

// bodyReader tags the errors of the object's body, so Digest can tell a
// failed download (retry) from bytes that do not decode (corrupt).
type bodyReader struct{ r io.Reader }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = readError{err}
	}
	return n, err
}

type countingWriter struct {
	n       int64
	onBytes func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.onBytes != nil {
		c.onBytes(c.n)
	}
	return len(p), nil
}

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
