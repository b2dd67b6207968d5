package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// ClusterS3API is the part of the S3 client cluster-level Redis steps
// need: reads, the manifest's write, and deletes for a failed backup's files.
type ClusterS3API interface {
	backupstore.API
	backupstore.BucketAPI
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Clusters acts on Redis clusters as a whole, from any worker on the
// main task queue: the registered clusters, and their backups in S3.
type Clusters struct {
	Registry *registry.Registry
	S3       ClusterS3API
	// Now is the clock; tests may replace it.
	Now func() time.Time
	// AllowCheckCommands lets restore tests run their check commands here
	// (config's AllowCheckCommands).
	AllowCheckCommands bool
}

func (a *Clusters) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// BackupPlanInput is a backup request as the user gave it.
type BackupPlanInput struct {
	Cluster        string `json:"cluster"`
	BackupLocation string `json:"backupLocation"`
	Format         string `json:"format"`
	// AllowUnversioned accepts a bucket without versioning.
	AllowUnversioned bool `json:"allowUnversioned,omitempty"`
	// Access names the role to assume for the location and its bucket's owner.
	backupstore.Access
	// CopyTo are the locations the backup will be copied to, checked here
	// with their own roles before anything runs.
	CopyTo []CopyTarget `json:"copyTo,omitempty"`
}

// CopyTarget is a copy destination as a backup request names it.
type CopyTarget struct {
	Location string `json:"location"`
	backupstore.Access
}

// BackupPlan is the request resolved against the control table.
type BackupPlan struct {
	Cluster  string               `json:"cluster"`
	Nodes    []registry.RedisNode `json:"nodes"`
	Location backupstore.Location `json:"location"`
	Format   string               `json:"format"`
	// Bucket is the location's bucket as checked (region, versioning,
	// Object Lock).
	Bucket *backupstore.Bucket `json:"bucket,omitempty"`
}

// PlanRedisBackup checks a backup request before anything runs: the
// cluster is registered, the format known, the location parses and its
// bucket exists and keeps versions (unless the request allows otherwise).
func (a *Clusters) PlanRedisBackup(ctx context.Context, in BackupPlanInput) (*BackupPlan, error) {
	if err := ids.Validate("cluster", in.Cluster); err != nil {
		return nil, activities.Invalid(err)
	}
	format, err := redisbackup.ParseFormat(in.Format)
	if err != nil {
		return nil, activities.Invalid(err)
	}
	loc, err := backupstore.ParseLocationWith(in.BackupLocation, in.Access)
	if err != nil {
		return nil, activities.Invalid(err)
	}
	c, err := a.cluster(ctx, in.Cluster)
	if err != nil {
		return nil, err
	}
	b, err := a.requireBucket(ctx, loc, in.AllowUnversioned)
	if err != nil {
		return nil, err
	}
	for _, c := range in.CopyTo {
		dst, err := backupstore.ParseLocationWith(c.Location, c.Access)
		if err != nil {
			return nil, activities.Invalid(fmt.Errorf("copy destination: %w", err))
		}
		if dst.Bucket == loc.Bucket && dst.Prefix == loc.Prefix {
			return nil, activities.Invalid(fmt.Errorf("copy destination %s is the backup location itself", dst))
		}
		if _, err := a.requireBucket(ctx, dst, in.AllowUnversioned); err != nil {
			return nil, err
		}
	}
	return &BackupPlan{Cluster: c.Name, Nodes: c.Nodes, Location: loc, Format: format, Bucket: b}, nil
}

// requireBucket reads a location's bucket with the location's role and
// refuses, as bad input, one that is missing, may not be used, or keeps no
// versions (unless allowed).
func (a *Clusters) requireBucket(ctx context.Context, loc backupstore.Location, allowUnversioned bool) (*backupstore.Bucket, error) {
	b, err := backupstore.CheckBucket(ctx, a.S3, loc)
	if err != nil {
		var nb *backupstore.NoBucketError
		if errors.As(err, &nb) {
			return nil, activities.Invalid(err)
		}
		if aerr := activities.InvalidAccess(loc, err); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if err := b.Require(loc.Bucket, allowUnversioned); err != nil {
		return nil, activities.Invalid(err)
	}
	return b, nil
}

func (a *Clusters) cluster(ctx context.Context, name string) (*registry.RedisCluster, error) {
	c, err := a.Registry.GetRedisCluster(ctx, name)
	if err != nil {
		return nil, activities.Classify(err)
	}
	if len(c.Nodes) == 0 {
		return nil, activities.Invalid(fmt.Errorf("cluster %q has no registered nodes", name))
	}
	return c, nil
}

func (a *Clusters) checkBucket(ctx context.Context, loc backupstore.Location) error {
	_, err := a.S3.HeadBucket(loc.WithRole(ctx), &s3.HeadBucketInput{Bucket: aws.String(loc.Bucket)})
	if err == nil {
		return nil
	}
	if backupstore.IsNotFound(err) {
		return activities.Invalid(fmt.Errorf("backup location %s: bucket %q does not exist", loc, loc.Bucket))
	}
	if aerr := activities.InvalidAccess(loc, err); aerr != nil {
		return aerr
	}
	return fmt.Errorf("check bucket %s: %w", loc.Bucket, err)
}

// HoldInput names a cluster and the workflow holding it.
type HoldInput struct {
	Cluster string `json:"cluster"`
	Holder  string `json:"holder"`
}

// HoldResult says whether a hold changed.
type HoldResult struct {
	Changed bool `json:"changed"`
}

// HoldRedisCluster marks the cluster as worked on by the workflow: a second
// backup or restore of it is refused (RedisClusterHeld) until released.
func (a *Clusters) HoldRedisCluster(ctx context.Context, in HoldInput) (*HoldResult, error) {
	if err := a.Registry.HoldRedisCluster(ctx, in.Cluster, in.Holder, a.now()); err != nil {
		return nil, activities.Classify(err)
	}
	return &HoldResult{Changed: true}, nil
}

// ReleaseRedisCluster ends the workflow's hold; it does nothing if the
// workflow does not hold the cluster, so compensation can call it blindly.
func (a *Clusters) ReleaseRedisCluster(ctx context.Context, in HoldInput) (*HoldResult, error) {
	released, err := a.Registry.ReleaseRedisCluster(ctx, in.Cluster, in.Holder)
	if err != nil {
		return nil, err
	}
	return &HoldResult{Changed: released != ""}, nil
}

// WriteRedisManifestInput is a backup whose nodes all succeeded.
type WriteRedisManifestInput struct {
	Location  backupstore.Location `json:"location"`
	Cluster   string               `json:"cluster"`
	BackupID  string               `json:"backupId"`
	Format    string               `json:"format"`
	StartedAt time.Time            `json:"startedAt"`
	Nodes     []redisbackup.Node   `json:"nodes"`
	// KMSKeyID, when set, encrypts the manifest with SSE-KMS and is recorded in it.
	KMSKeyID string `json:"kmsKeyId,omitempty"`
}

// WriteRedisManifestResult is the written manifest's place and totals.
type WriteRedisManifestResult struct {
	ManifestURL string `json:"manifestUrl"`
	Keys        int64  `json:"keys"`
	Bytes       int64  `json:"bytes"`
}

// WriteRedisManifest checks that every node's files are in S3 with the
// size the node reported, then writes the cluster manifest, last: it is
// what makes the backup complete.
func (a *Clusters) WriteRedisManifest(ctx context.Context, in WriteRedisManifestInput) (*WriteRedisManifestResult, error) {
	ctx = in.Location.WithRole(ctx)
	folder := redisbackup.BackupFolder(in.Location, in.Cluster, in.BackupID)
	objs, err := backupstore.List(ctx, a.S3, in.Location.Bucket, folder+"/")
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for _, o := range objs {
		sizes[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
	}
	m := &redisbackup.Manifest{
		Format: redisbackup.ManifestFormat, Tool: "lifeboat", Cluster: in.Cluster, BackupID: in.BackupID,
		WorkflowID: activity.GetInfo(ctx).WorkflowExecution.ID, Persistence: in.Format,
		StartedAt: in.StartedAt.UTC(), CreatedAt: a.now().UTC(), Nodes: in.Nodes, KMSKeyID: in.KMSKeyID,
	}
	for _, n := range in.Nodes {
		for _, f := range n.Files {
			got, ok := sizes[f.Key]
			if !ok || got != f.Size {
				return nil, activities.Corrupt(fmt.Errorf("node %s: s3://%s/%s is missing or has %d bytes, the node uploaded %d", n.Node, in.Location.Bucket, f.Key, got, f.Size))
			}
		}
		m.Keys += n.Keys
		m.Bytes += n.Bytes
	}
	key := redisbackup.ManifestKey(in.Location, in.Cluster, in.BackupID)
	if err := redisbackup.WriteManifest(ctx, a.S3, in.Location.Bucket, key, m); err != nil {
		return nil, err
	}
	return &WriteRedisManifestResult{ManifestURL: "s3://" + in.Location.Bucket + "/" + key, Keys: m.Keys, Bytes: m.Bytes}, nil
}

// DiscardRedisBackupInput names a failed backup's folder.
type DiscardRedisBackupInput struct {
	Location backupstore.Location `json:"location"`
	Cluster  string               `json:"cluster"`
	BackupID string               `json:"backupId"`
}

// DiscardRedisBackupResult counts the objects deleted.
type DiscardRedisBackupResult struct {
	Deleted int `json:"deleted"`
}

// DiscardRedisBackup deletes the files a failed backup uploaded. A folder
// with a cluster manifest is a complete backup and is left alone.
func (a *Clusters) DiscardRedisBackup(ctx context.Context, in DiscardRedisBackupInput) (*DiscardRedisBackupResult, error) {
	ctx = in.Location.WithRole(ctx)
	folder := redisbackup.BackupFolder(in.Location, in.Cluster, in.BackupID)
	objs, err := backupstore.List(ctx, a.S3, in.Location.Bucket, folder+"/")
	if err != nil {
		return nil, err
	}
	manifest := redisbackup.ManifestKey(in.Location, in.Cluster, in.BackupID)
	for _, o := range objs {
		if aws.ToString(o.Key) == manifest {
			return &DiscardRedisBackupResult{}, nil
		}
	}
	out := &DiscardRedisBackupResult{}
	for _, o := range objs {
		if _, err := a.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(in.Location.Bucket), Key: o.Key}); err != nil {
			return nil, fmt.Errorf("delete s3://%s/%s: %w", in.Location.Bucket, aws.ToString(o.Key), err)
		}
		out.Deleted++
	}
	return out, nil
}

// RestorePlanInput is a restore request as the user gave it.
type RestorePlanInput struct {
	Cluster        string `json:"cluster"`
	Node           string `json:"node,omitempty"`
	SourceCluster  string `json:"sourceCluster,omitempty"`
	SourceNode     string `json:"sourceNode,omitempty"`
	BackupID       string `json:"backupId,omitempty"`
	Date           string `json:"date,omitempty"`
	BackupLocation string `json:"backupLocation"`
	// Access names the role to assume for the location and its bucket's owner.
	backupstore.Access
}

// RestorePlan is the request resolved to a backup and its nodes.
type RestorePlan struct {
	Cluster       string               `json:"cluster"`
	SourceCluster string               `json:"sourceCluster"`
	BackupID      string               `json:"backupId"`
	Persistence   string               `json:"persistence"`
	Location      backupstore.Location `json:"location"`
	ManifestURL   string               `json:"manifestUrl"`
	Targets       []RestoreTarget      `json:"targets"`
}

// RestoreTarget is one node to restore and the backed-up node it gets.
type RestoreTarget struct {
	Node   registry.RedisNode `json:"node"`
	Source redisbackup.Node   `json:"source"`
}

// PlanRedisRestore checks a restore request before anything is touched:
// the cluster (and node) are registered, a complete backup of the source
// cluster exists (the one named, else the latest at or before the date,
// else the latest), its manifest is consistent, and every node to restore
// has a backed-up node to restore from.
func (a *Clusters) PlanRedisRestore(ctx context.Context, in RestorePlanInput) (*RestorePlan, error) {
	source := in.SourceCluster
	if source == "" {
		source = in.Cluster
	}
	if err := ids.Validate("cluster", in.Cluster); err != nil {
		return nil, activities.Invalid(err)
	}
	if err := ids.Validate("source cluster", source); err != nil {
		return nil, activities.Invalid(err)
	}
	if in.BackupID != "" && in.Date != "" {
		return nil, activities.Invalid(errors.New("give a backup id or a date, not both"))
	}
	var notAfter time.Time
	if in.BackupID != "" {
		if _, err := redisbackup.ParseBackupID(in.BackupID); err != nil {
			return nil, activities.Invalid(err)
		}
	}
	if in.Date != "" {
		t, err := redisbackup.ParseDate(in.Date)
		if err != nil {
			return nil, activities.Invalid(err)
		}
		notAfter = t
	}
	loc, err := backupstore.ParseLocationWith(in.BackupLocation, in.Access)
	if err != nil {
		return nil, activities.Invalid(err)
	}
	c, err := a.cluster(ctx, in.Cluster)
	if err != nil {
		return nil, err
	}
	if err := a.checkBucket(ctx, loc); err != nil {
		return nil, err
	}
	id, m, key, err := redisbackup.FindBackup(loc.WithRole(ctx), a.S3, loc, source, in.BackupID, notAfter)
	var none *redisbackup.NoBackupError
	switch {
	case errors.As(err, &none):
		return nil, activities.Invalid(err)
	case err != nil && id != "":
		return nil, activities.Corrupt(err) // its manifest is unreadable
	case err != nil:
		return nil, err
	}
	if m.Cluster != source || m.BackupID != id {
		return nil, activities.Corrupt(fmt.Errorf("s3://%s/%s is the manifest of %s backup %s", loc.Bucket, key, m.Cluster, m.BackupID))
	}
	pairs, err := redisbackup.PairNodes(c.NodeIDs(), m.NodeIDs(), source == c.Name, in.Node, in.SourceNode)
	if err != nil {
		return nil, activities.Invalid(fmt.Errorf("restore %s from %s backup %s: %w", c.Name, source, id, err))
	}
	out := &RestorePlan{
		Cluster: c.Name, SourceCluster: source, BackupID: id, Persistence: m.Persistence, Location: loc,
		ManifestURL: "s3://" + loc.Bucket + "/" + key,
	}
	for _, p := range pairs {
		src, _ := m.Node(p.Source)
		for _, n := range c.Nodes {
			if n.ID == p.Target {
				out.Targets = append(out.Targets, RestoreTarget{Node: n, Source: *src})
			}
		}
	}
	return out, nil
}
