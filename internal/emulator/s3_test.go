package emulator

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// regionClient is an S3 client of the shared emulator that signs for region.
func regionClient(t *testing.T, region string) *s3.Client {
	t.Helper()
	cfg := shared.AWS.Config.Copy()
	cfg.Region = region
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// TestS3WrongRegionRedirect: a request signed for another region than the
// bucket's is answered as S3 answers it: 301 PermanentRedirect naming the
// bucket's region in x-amz-bucket-region (HEAD: no body), so code that
// forgets the bucket's region fails here as on AWS. The bucket's own region
// is served, and GetBucketRegion finds it.
func TestS3WrongRegionRedirect(t *testing.T) {
	m := emu(t)
	ctx := ctxT(t)
	bucket := name(t, "redirect")
	home := m.AWS.S3 // signs for us-east-1
	if _, err := home.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1},
	}); err != nil {
		t.Fatalf("create bucket in eu-west-1: %v", err)
	}

	redirected := func(op string, err error) *smithyhttp.ResponseError {
		t.Helper()
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusMovedPermanently {
			t.Fatalf("%s signed for us-east-1 on an eu-west-1 bucket: want 301, got %v", op, err)
		}
		if got := re.Response.Header.Get("x-amz-bucket-region"); got != "eu-west-1" {
			t.Fatalf("%s: x-amz-bucket-region %q, want eu-west-1", op, got)
		}
		return re
	}
	_, err := home.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: strings.NewReader("x")})
	redirected("PutObject", err)
	mustCode(t, err, "PermanentRedirect")
	_, err = home.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	redirected("ListObjectsV2", err)
	mustCode(t, err, "PermanentRedirect")
	_, err = home.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if re := redirected("HeadBucket", err); re.Response.ContentLength > 0 {
		t.Fatalf("HeadBucket: a 301 with a %d-byte body, want none", re.Response.ContentLength)
	}

	// Raw body of a GET: S3's XML error.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.URL+"/"+bucket+"?list-type=2", nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || !bytes.Contains(body, []byte("<Code>PermanentRedirect</Code>")) ||
		!bytes.Contains(body, []byte("<Bucket>"+bucket+"</Bucket>")) {
		t.Fatalf("raw GET: %d %s", resp.StatusCode, body)
	}

	// The bucket's own region is served; GetBucketRegion finds it from anywhere.
	eu := regionClient(t, "eu-west-1")
	if _, err := eu.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatalf("PutObject signed for eu-west-1: %v", err)
	}
	if _, err := eu.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")}); err != nil {
		t.Fatalf("GetObject signed for eu-west-1: %v", err)
	}
	for _, anon := range []bool{true, false} {
		var opts []func(*s3.Options)
		if !anon {
			opts = append(opts, func(o *s3.Options) { o.Credentials = home.Options().Credentials })
		}
		r, err := manager.GetBucketRegion(ctx, home, bucket, opts...)
		if err != nil || r != "eu-west-1" {
			t.Fatalf("GetBucketRegion (anonymous %v): %q, %v", anon, r, err)
		}
	}
	// A us-east-1 bucket is served to us-east-1 requests as before.
	local := name(t, "redirect-local")
	if _, err := home.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(local)}); err != nil {
		t.Fatal(err)
	}
	if _, err := home.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(local)}); err != nil {
		t.Fatalf("HeadBucket in its own region: %v", err)
	}
}
