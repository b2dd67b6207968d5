package redisbackup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// FindBackups lists the ids of a cluster's complete backups (those with a
// cluster manifest) under a location, oldest first.
func FindBackups(ctx context.Context, api backupstore.API, loc backupstore.Location, cluster string) ([]string, error) {
	objs, err := backupstore.List(ctx, api, loc.Bucket, ClusterPrefix(loc, cluster))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range objs {
		c, id, ok := ParseManifestKey(aws.ToString(o.Key))
		if ok && c == cluster && aws.ToString(o.Key) == ManifestKey(loc, cluster, id) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ReadManifest reads and checks one cluster manifest.
func ReadManifest(ctx context.Context, api backupstore.API, bucket, key string) (*Manifest, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("read cluster manifest s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	var m Manifest
	if err := json.NewDecoder(out.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("decode cluster manifest s3://%s/%s: %w", bucket, key, err)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	return &m, nil
}

// WriteManifest stores a cluster manifest as JSON.
func WriteManifest(ctx context.Context, api backupstore.API, bucket, key string, m *Manifest) error {
	if err := m.Check(); err != nil {
		return err
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cluster manifest: %w", err)
	}
	_, err = api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("write cluster manifest s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}
