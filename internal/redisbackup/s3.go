package redisbackup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

// BackupFolders lists the backup ids a cluster has folders for, oldest
// first: one folder level below the cluster's prefix (delimiter "/"), not
// the files of every backup. A folder is a complete backup only if it holds
// a cluster manifest.
func BackupFolders(ctx context.Context, api backupstore.API, loc backupstore.Location, cluster string) ([]string, error) {
	prefix := ClusterPrefix(loc, cluster)
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{
		Bucket: aws.String(loc.Bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", loc.Bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			id := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if _, err := ParseBackupID(id); err == nil {
				out = append(out, id)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// hasManifest says whether a backup folder holds its cluster manifest: a
// listing of that one key.
func hasManifest(ctx context.Context, api backupstore.API, loc backupstore.Location, cluster, id string) (bool, error) {
	key := ManifestKey(loc, cluster, id)
	out, err := api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(loc.Bucket), Prefix: aws.String(key), MaxKeys: aws.Int32(1)})
	if err != nil {
		return false, fmt.Errorf("list s3://%s/%s: %w", loc.Bucket, key, err)
	}
	return len(out.Contents) > 0 && aws.ToString(out.Contents[0].Key) == key, nil
}

// FindBackups lists the ids of a cluster's complete backups (those with a
// cluster manifest) under a location, oldest first. It lists the backup
// folders, then looks for each one's manifest (a few at a time).
func FindBackups(ctx context.Context, api backupstore.API, loc backupstore.Location, cluster string) ([]string, error) {
	ids, err := BackupFolders(ctx, api, loc, cluster)
	if err != nil {
		return nil, err
	}
	complete := make([]bool, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			complete[i], errs[i] = hasManifest(ctx, api, loc, cluster, id)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []string
	for i, id := range ids {
		if complete[i] {
			out = append(out, id)
		}
	}
	return out, nil
}

// FindBackup picks the backup a restore uses, as ChooseBackup does (the one
// named, else the latest at or before notAfter, else the latest), and reads
// its manifest: it lists the backup folders and reads manifests newest
// first, passing over folders without one (a backup that did not finish).
// It returns a *NoBackupError when none qualifies, and the manifest's key.
func FindBackup(ctx context.Context, api backupstore.API, loc backupstore.Location, cluster, backupID string, notAfter time.Time) (string, *Manifest, string, error) {
	ids, err := BackupFolders(ctx, api, loc, cluster)
	if err != nil {
		return "", nil, "", err
	}
	for len(ids) > 0 {
		id, ok := ChooseBackup(ids, backupID, notAfter)
		if !ok {
			break
		}
		key := ManifestKey(loc, cluster, id)
		m, err := ReadManifest(ctx, api, loc.Bucket, key)
		if err == nil {
			return id, m, key, nil
		}
		if !backupstore.IsNotFound(err) {
			return id, nil, key, err
		}
		// Not complete: the next older one.
		ids = slices.DeleteFunc(ids, func(s string) bool { return s == id })
	}
	return "", nil, "", &NoBackupError{Location: loc, Cluster: cluster, BackupID: backupID, NotAfter: notAfter}
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
	in := &s3.PutObjectInput{
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, // Object Lock buckets refuse a put without a checksum
		Bucket:            aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	}
	if m.KMSKeyID != "" { // encrypted like the files it describes
		in.ServerSideEncryption, in.SSEKMSKeyId = types.ServerSideEncryptionAwsKms, aws.String(m.KMSKeyID)
	}
	_, err = api.PutObject(ctx, in)
	if err != nil {
		return fmt.Errorf("write cluster manifest s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}
