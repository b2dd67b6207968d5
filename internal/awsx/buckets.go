package awsx

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Buckets is an S3 client that sends each call to a client of the bucket's
// own region. S3 answers a request signed for another region with 301
// PermanentRedirect, which the SDK does not follow, so a backup bucket in
// another region than the worker's needs its region's client. The region is
// discovered once per bucket (HeadBucket's x-amz-bucket-region header,
// through manager.GetBucketRegion) and clients are built once per region.
//
// A location in another account names a role (WithRole on the context):
// its calls go to clients signed with the role's credentials, assumed once
// per role and refreshed before they expire; clients are kept per role and
// region.
//
// It has the methods of *s3.Client that Lifeboat uses on backup buckets,
// so the narrow interfaces of backupstore, redisbackup and the activities
// take it as they take an *s3.Client.
type Buckets struct {
	home    *s3.Client
	cfg     aws.Config
	options func(*s3.Options)

	mu      sync.Mutex
	regions map[string]string                // bucket -> region
	clients map[clientKey]*s3.Client         // (role, region) -> client
	creds   map[Role]aws.CredentialsProvider // role -> its cached credentials
}

type clientKey struct {
	role   Role
	region string
}

// NewBuckets builds the router over cfg; options are applied to every
// client it builds (path-style addressing for emulators, say). home is the
// client of cfg's region.
func NewBuckets(cfg aws.Config, home *s3.Client, options func(*s3.Options)) *Buckets {
	return &Buckets{
		home: home, cfg: cfg, options: options,
		regions: map[string]string{}, clients: map[clientKey]*s3.Client{{region: cfg.Region}: home},
		creds: map[Role]aws.CredentialsProvider{},
	}
}

// credentials are the role's (the zero Role: the configuration's).
func (b *Buckets) credentials(r Role) aws.CredentialsProvider {
	if r.IsZero() {
		return b.cfg.Credentials
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.creds[r]
	if !ok {
		c = newRoleCredentials(b.cfg, r)
		b.creds[r] = c
	}
	return c
}

// Region is the region of a bucket, asked once and remembered. A bucket
// that does not exist gives an error IsNoSuchBucket recognises.
func (b *Buckets) Region(ctx context.Context, bucket string) (string, error) {
	b.mu.Lock()
	r, ok := b.regions[bucket]
	b.mu.Unlock()
	if ok {
		return r, nil
	}
	// Signed with the location's credentials (GetBucketRegion sends an
	// anonymous request unless told otherwise): S3 names the region in the
	// header of its 200, 301 and 403 answers alike.
	creds := b.credentials(RoleFrom(ctx))
	r, err := manager.GetBucketRegion(ctx, b.home, bucket, func(o *s3.Options) { o.Credentials = creds })
	if err != nil {
		var nf manager.BucketNotFound
		if errors.As(err, &nf) {
			return "", fmt.Errorf("find region of bucket %s: %w", bucket, &types.NoSuchBucket{Message: aws.String("bucket " + bucket + " does not exist")})
		}
		return "", fmt.Errorf("find region of bucket %s: %w", bucket, err)
	}
	if r == "" {
		return "", fmt.Errorf("find region of bucket %s: S3 named no region", bucket)
	}
	b.mu.Lock()
	b.regions[bucket] = r
	b.mu.Unlock()
	return r, nil
}

// For is the client of a bucket's region, signed with the credentials of
// the role in ctx (WithRole), if any.
func (b *Buckets) For(ctx context.Context, bucket string) (*s3.Client, error) {
	r, err := b.Region(ctx, bucket)
	if err != nil {
		return nil, err
	}
	role := RoleFrom(ctx)
	creds := b.credentials(role)
	key := clientKey{role: role, region: r}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.clients[key]; ok {
		return c, nil
	}
	c := s3.NewFromConfig(b.cfg, func(o *s3.Options) {
		if b.options != nil {
			b.options(o)
		}
		o.Region = r
		o.Credentials = creds
	})
	b.clients[key] = c
	return c, nil
}

// call routes one operation to the client of its bucket's region.
func call[In, Out any](ctx context.Context, b *Buckets, bucket *string, in In,
	op func(*s3.Client) func(context.Context, In, ...func(*s3.Options)) (Out, error), opts []func(*s3.Options)) (Out, error) {
	c, err := b.For(ctx, aws.ToString(bucket))
	if err != nil {
		var zero Out
		return zero, err
	}
	return op(c)(ctx, in, opts...)
}

func (b *Buckets) HeadBucket(ctx context.Context, in *s3.HeadBucketInput, o ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
		return c.HeadBucket
	}, o)
}

func (b *Buckets) GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, o ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.GetBucketVersioningInput, ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error) {
		return c.GetBucketVersioning
	}, o)
}

func (b *Buckets) GetObjectLockConfiguration(ctx context.Context, in *s3.GetObjectLockConfigurationInput, o ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.GetObjectLockConfigurationInput, ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
		return c.GetObjectLockConfiguration
	}, o)
}

func (b *Buckets) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
		return c.ListObjectsV2
	}, o)
}

func (b *Buckets) ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, o ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
		return c.ListObjectVersions
	}, o)
}

func (b *Buckets) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
		return c.GetObject
	}, o)
}

func (b *Buckets) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
		return c.HeadObject
	}, o)
}

func (b *Buckets) GetObjectRetention(ctx context.Context, in *s3.GetObjectRetentionInput, o ...func(*s3.Options)) (*s3.GetObjectRetentionOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.GetObjectRetentionInput, ...func(*s3.Options)) (*s3.GetObjectRetentionOutput, error) {
		return c.GetObjectRetention
	}, o)
}

func (b *Buckets) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
		return c.PutObject
	}, o)
}

func (b *Buckets) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, o ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
		return c.DeleteObject
	}, o)
}

func (b *Buckets) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, o ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
		return c.DeleteObjects
	}, o)
}

func (b *Buckets) CopyObject(ctx context.Context, in *s3.CopyObjectInput, o ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
		return c.CopyObject
	}, o)
}

func (b *Buckets) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
		return c.CreateMultipartUpload
	}, o)
}

func (b *Buckets) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
		return c.UploadPart
	}, o)
}

func (b *Buckets) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
		return c.CompleteMultipartUpload
	}, o)
}

func (b *Buckets) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
		return c.AbortMultipartUpload
	}, o)
}

func (b *Buckets) PutBucketVersioning(ctx context.Context, in *s3.PutBucketVersioningInput, o ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.PutBucketVersioningInput, ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error) {
		return c.PutBucketVersioning
	}, o)
}

func (b *Buckets) PutObjectLockConfiguration(ctx context.Context, in *s3.PutObjectLockConfigurationInput, o ...func(*s3.Options)) (*s3.PutObjectLockConfigurationOutput, error) {
	return call(ctx, b, in.Bucket, in, func(c *s3.Client) func(context.Context, *s3.PutObjectLockConfigurationInput, ...func(*s3.Options)) (*s3.PutObjectLockConfigurationOutput, error) {
		return c.PutObjectLockConfiguration
	}, o)
}
