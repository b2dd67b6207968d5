// Package redis holds the Redis cluster workflows (Backup, Restore): pure
// orchestration of the activities in activities/redis, the node steps routed
// to each node's sidecar.
package redis

import (
	"fmt"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/workflows"
)

// Redis workflow type names, as given to `temporal workflow start --type`.
const (
	BackupName  = "RedisBackup"
	RestoreName = "RedisRestore"
)

// Steps a Redis workflow and its nodes go through (besides workflows.StepValidating,
// workflows.StepManifest, workflows.StepDone and workflows.StepFailed).
const (
	StepBackingUp   = "backing-up"      // nodes persist and upload their files
	StepDownloading = "downloading"     // nodes download and check the backup's files
	StepRestoring   = "restoring"       // nodes stop, swap files, start and load
	StepWaiting     = "waiting"         // a node's step has not started yet
	StepUploaded    = "uploaded"        // a node's files are in S3
	StepStaged      = "staged"          // a node's files are downloaded and checked
	StepPruning     = "pruning-backups" // older backups are deleted under the retention policy
	StepCopying     = "copying"         // the backup is copied to its CopyTo locations
)

// DefaultSidecarTimeoutSeconds is how long a node's step may wait for the
// node's sidecar worker to pick it up before the node is reported as down.
const DefaultSidecarTimeoutSeconds = 60

// BackupInput is the RedisBackup workflow's input.
type BackupInput struct {
	Cluster        string `json:"cluster"`
	BackupLocation string `json:"backupLocation"`
	// Format is rdb (default: BGSAVE) or aof (BGREWRITEAOF, every AOF part).
	Format                string `json:"format,omitempty"`
	SidecarTimeoutSeconds int    `json:"sidecarTimeoutSeconds,omitempty"`
	// Retention, when set, deletes the cluster's older backups under the
	// location after the backup succeeded (never this one, never the
	// newest, never a folder without a cluster manifest).
	Retention *RetentionPolicy `json:"retention,omitempty"`
	// RPOSeconds is the recovery point objective of what this backs up,
	// in seconds: its schedule's interval, or --rpo. Each success serves it
	// as lifeboat_rpo_target_seconds, which the overdue-backup alert
	// compares the backup's age with. Zero: unknown, no target served.
	RPOSeconds int64 `json:"rpoSeconds,omitempty"`
	// AllowUnversioned accepts a bucket without versioning (refused otherwise).
	AllowUnversioned bool `json:"allowUnversioned,omitempty"`
	// KMSKeyID encrypts the nodes' files and the cluster manifest with this
	// KMS key (SSE-KMS: id, ARN or alias); the manifest records it.
	KMSKeyID string `json:"kmsKeyId,omitempty"`
	// Access names a role to assume for the location's S3 calls (roleArn,
	// externalId) and the bucket's owner (bucketOwner), for a bucket in
	// another account.
	backupstore.Access
	// CopyTo are locations the complete backup is copied to, each with its
	// own role; a failed copy is a warning, the backup stands.
	CopyTo []CopyDestination `json:"copyTo,omitempty"`
}

// CopyDestination is a location a backup is copied to after it succeeded.
type CopyDestination struct {
	Location string `json:"location"`
	backupstore.Access
}

// Parse is the destination as a location.
func (c CopyDestination) Parse() (backupstore.Location, error) {
	return backupstore.ParseLocationWith(c.Location, c.Access)
}

// CopyRow is one copy of a backup: where, how much, and whether it
// succeeded. A failed copy leaves the backup standing at its location.
type CopyRow struct {
	Location    string `json:"location"`
	ManifestURL string `json:"manifestUrl,omitempty"`
	Objects     int    `json:"objects"`
	Bytes       int64  `json:"bytes"`
	OK          bool   `json:"ok"`
	Error       string `json:"error,omitempty"`
	// Pruned are the older backups retention deleted at this location.
	Pruned           []string `json:"pruned,omitempty"`
	RetentionWarning string   `json:"retentionWarning,omitempty"`

	dest backupstore.Location // for the retention step
}

// RetentionPolicy says which of a cluster's backups to keep: the newest
// Count and/or those younger than Days days (at least one rule on); the
// newest complete backup is always kept. The datasets' rules.
type RetentionPolicy struct {
	Count int `json:"count,omitempty"`
	Days  int `json:"days,omitempty"`
}

// Rules is the policy as backupstore applies it.
func (r RetentionPolicy) Rules() backupstore.Retention {
	return backupstore.Retention{Count: r.Count, Days: r.Days}
}

// BackupResult is a complete cluster backup.
type BackupResult struct {
	Cluster     string       `json:"cluster"`
	BackupID    string       `json:"backupId"`
	Format      string       `json:"format"`
	ManifestURL string       `json:"manifestUrl"`
	Keys        int64        `json:"keys"`
	Bytes       int64        `json:"bytes"`
	Nodes       []NodeResult `json:"nodes"`
	// Pruned are the older backups (ids) the retention step deleted.
	Pruned []string `json:"pruned,omitempty"`
	// RetentionNotes say what retention left alone and why.
	RetentionNotes []string `json:"retentionNotes,omitempty"`
	// RetentionWarning says why the retention step failed, if it did; the
	// backup itself succeeded.
	RetentionWarning string `json:"retentionWarning,omitempty"`
	// Copies are the backup's copies (CopyTo), each with its outcome.
	Copies []CopyRow `json:"copies,omitempty"`
}

// NodeResult is one node's part of a backup or restore.
type NodeResult struct {
	Node string `json:"node"`
	// SourceNode is the backed-up node a restored node got its data from.
	SourceNode string `json:"sourceNode,omitempty"`
	Keys       int64  `json:"keys"`
	Bytes      int64  `json:"bytes"`
	Files      int    `json:"files,omitempty"`
	// DownMillis is how long a restored node's Redis was stopped.
	DownMillis int64 `json:"downMillis,omitempty"`
}

// RestoreInput is the RedisRestore workflow's input.
type RestoreInput struct {
	Cluster string `json:"cluster"`
	// Node restores that node alone; empty restores every node.
	Node string `json:"node,omitempty"`
	// SourceCluster restores another cluster's backup into this one
	// (nodes pair by position); empty is the cluster itself.
	SourceCluster string `json:"sourceCluster,omitempty"`
	// SourceNode is the backed-up node a single restored node gets.
	SourceNode string `json:"sourceNode,omitempty"`
	// BackupID picks a backup; else Date (YYYY-MM-DD or RFC 3339) picks the
	// latest taken at or before it; else the latest is used.
	BackupID              string `json:"backupId,omitempty"`
	Date                  string `json:"date,omitempty"`
	BackupLocation        string `json:"backupLocation"`
	SidecarTimeoutSeconds int    `json:"sidecarTimeoutSeconds,omitempty"`
	// Access names a role to assume for the location's S3 calls (roleArn,
	// externalId) and the bucket's owner (bucketOwner), for a bucket in
	// another account.
	backupstore.Access
}

// RestoreResult is a finished restore.
type RestoreResult struct {
	Cluster       string       `json:"cluster"`
	SourceCluster string       `json:"sourceCluster"`
	BackupID      string       `json:"backupId"`
	Format        string       `json:"format"`
	Nodes         []NodeResult `json:"nodes"`
}

// Progress is what a Redis workflow's progress query returns.
type Progress struct {
	workflows.Status
	Cluster  string         `json:"cluster"`
	BackupID string         `json:"backupId,omitempty"`
	Nodes    []NodeProgress `json:"nodes"`
	// Warnings are failures that did not fail the run (a retention step).
	Warnings []string `json:"warnings,omitempty"`
}

// NodeProgress is one node's part of RedisProgress.
type NodeProgress struct {
	Node   string `json:"node"`
	Step   string `json:"step"`
	Keys   int64  `json:"keys,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Summary is a one-line description of the progress.
func (p *Progress) Summary() string {
	done := 0
	for _, n := range p.Nodes {
		if n.Step == workflows.StepDone {
			done++
		}
	}
	s := fmt.Sprintf("%s %s: %s, %d of %d nodes done", p.Operation, p.Cluster, p.Step, done, len(p.Nodes))
	if p.Error != "" {
		s += ": " + p.Error
	}
	return s
}

func (p *Progress) node(id string) *NodeProgress {
	for i := range p.Nodes {
		if p.Nodes[i].Node == id {
			return &p.Nodes[i]
		}
	}
	p.Nodes = append(p.Nodes, NodeProgress{Node: id})
	return &p.Nodes[len(p.Nodes)-1]
}

// BackupWorkflowID names a backup run after its cluster and start time.
func BackupWorkflowID(cluster string, now time.Time) string {
	return strings.Join([]string{"redis-backup", cluster, now.UTC().Format("20060102T150405.000Z")}, "-")
}

// RestoreWorkflowID names a restore run after its cluster, node (if
// one) and start time.
func RestoreWorkflowID(in RestoreInput, now time.Time) string {
	parts := []string{"redis-restore", in.Cluster}
	if in.Node != "" {
		parts = append(parts, in.Node)
	}
	return strings.Join(append(parts, now.UTC().Format("20060102T150405.000Z")), "-")
}
