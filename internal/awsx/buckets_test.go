package awsx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestBucketsRouteByRegion: on the emulator, which answers a request signed
// for the wrong region with 301 PermanentRedirect as S3 does, Buckets
// reaches buckets of two regions in turn, each through its own region's
// client, and reports a missing bucket as not found.
func TestBucketsRouteByRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulator: skipped with -short")
	}
	m := testenv.StartEmulator(t, testenv.EmulatorOptions{Profile: "fast"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	buckets := map[string]string{"route-us": "", "route-eu": "eu-west-1", "route-ap": "ap-southeast-2"}
	for name, region := range buckets {
		in := &s3.CreateBucketInput{Bucket: aws.String(name)}
		if region != "" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
		}
		if _, err := m.AWS.S3.CreateBucket(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	b := m.AWS.Buckets
	for _, round := range []int{1, 2} { // the second round is served from the caches
		for _, name := range []string{"route-us", "route-eu", "route-ap", "route-eu", "route-us"} {
			if _, err := b.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String("k"), Body: strings.NewReader(name)}); err != nil {
				t.Fatalf("round %d: put to %s: %v", round, name, err)
			}
			want := buckets[name]
			if want == "" {
				want = "us-east-1"
			}
			if r, err := b.Region(ctx, name); err != nil || r != want {
				t.Fatalf("round %d: region of %s: %q, %v; want %s", round, name, r, err, want)
			}
		}
	}
	_, err := b.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("route-missing")})
	if !backupstore.IsNotFound(err) {
		t.Fatalf("missing bucket: %v, want not found", err)
	}
}
