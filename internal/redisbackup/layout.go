// Package redisbackup describes Lifeboat's Redis backups: where they live in
// S3, the cluster manifest that marks one complete, and the pure helpers the
// activities and the CLI share (INFO and AOF-manifest parsing, picking a
// backup by id or date, pairing restored nodes with backed-up ones).
//
// Layout, below the backup location s3://bucket/prefix:
//
//	<prefix>/<cluster>/<backup id>/<node>/dump.rdb                         RDB backups
//	<prefix>/<cluster>/<backup id>/<node>/appendonlydir/appendonly.aof.*   AOF backups (every part)
//	<prefix>/<cluster>/<backup id>/cluster-manifest.json                   written last
//
// A backup id is the run's start time, e.g. 20210901T120000.000Z, so ids
// sort in time order. A folder without a cluster manifest is not a backup.
package redisbackup

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
)

// Persistence formats a backup can be taken in.
const (
	FormatRDB = "rdb" // BGSAVE, the dump file
	FormatAOF = "aof" // BGREWRITEAOF, every part of the append-only file
)

// ParseFormat checks a format name; empty means RDB.
func ParseFormat(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", FormatRDB:
		return FormatRDB, nil
	case FormatAOF:
		return FormatAOF, nil
	}
	return "", fmt.Errorf("unknown format %q: want rdb or aof", s)
}

// NodeTaskQueue is the task queue a node's sidecar worker serves:
// <base>-redis-<node>, i.e. lifeboat-redis-n1 with the default task queue.
// Node ids are therefore unique across the clusters of one deployment.
func NodeTaskQueue(base, node string) string { return base + "-redis-" + node }

// ManifestName is the object that marks a cluster backup complete. It is
// not the datasets' manifest.json, so the two kinds of backup can share a
// location without being mistaken for each other.
const ManifestName = "cluster-manifest.json"

// BackupFolder is <prefix>/<cluster>/<backup id>.
func BackupFolder(loc backupstore.Location, cluster, backupID string) string {
	return loc.Key(cluster, backupID)
}

// NodeFolder is where one node's files of a backup live.
func NodeFolder(loc backupstore.Location, cluster, backupID, node string) string {
	return loc.Key(cluster, backupID, node)
}

// ManifestKey is the cluster manifest's object key.
func ManifestKey(loc backupstore.Location, cluster, backupID string) string {
	return loc.Key(cluster, backupID, ManifestName)
}

// ClusterPrefix is the prefix to list a cluster's backups under (with a trailing slash).
func ClusterPrefix(loc backupstore.Location, cluster string) string {
	return loc.Key(cluster) + "/"
}

// ParseManifestKey recognises <...>/<cluster>/<backup id>/cluster-manifest.json.
func ParseManifestKey(key string) (cluster, backupID string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) < 3 || parts[len(parts)-1] != ManifestName {
		return "", "", false
	}
	cluster, backupID = parts[len(parts)-3], parts[len(parts)-2]
	if _, err := ParseBackupID(backupID); err != nil {
		return "", "", false
	}
	return cluster, backupID, true
}

// NewBackupID names a backup after its run's start time.
func NewBackupID(t time.Time) string { return ids.BackupID(t) }

// ParseBackupID reads the time back from a backup id.
func ParseBackupID(id string) (time.Time, error) {
	t, err := time.Parse("20060102T150405.000Z", id)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid backup id %q: want e.g. 20210901T120000.000Z", id)
	}
	return t, nil
}

// ParseDate reads a restore's --date: a day (2021-09-01, meaning any time
// that day, UTC) or an RFC 3339 time. It returns the latest instant a
// chosen backup may have been taken at.
func ParseDate(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.Add(24*time.Hour - time.Nanosecond), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD or an RFC 3339 time", s)
}

// NoBackupError says no complete backup matches a restore's request.
type NoBackupError struct {
	Location backupstore.Location
	Cluster  string
	BackupID string
	NotAfter time.Time
}

func (e *NoBackupError) Error() string {
	switch {
	case e.BackupID != "":
		return fmt.Sprintf("no complete backup %s of Redis cluster %q under %s", e.BackupID, e.Cluster, e.Location)
	case !e.NotAfter.IsZero():
		return fmt.Sprintf("no complete backup of Redis cluster %q under %s taken at or before %s",
			e.Cluster, e.Location, e.NotAfter.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("no complete backup of Redis cluster %q under %s (no %s found)", e.Cluster, e.Location, ManifestName)
}

// ChooseBackup picks the backup to restore from the ids of complete backups:
// the one named, else the latest taken at or before notAfter (when set),
// else the latest. It reports false when none qualifies.
func ChooseBackup(backupIDs []string, backupID string, notAfter time.Time) (string, bool) {
	sorted := append([]string(nil), backupIDs...)
	sort.Strings(sorted)
	chosen := ""
	for _, id := range sorted {
		switch {
		case backupID != "":
			if id == backupID {
				return id, true
			}
		case !notAfter.IsZero():
			if t, err := ParseBackupID(id); err == nil && !t.After(notAfter) {
				chosen = id
			}
		default:
			chosen = id
		}
	}
	return chosen, chosen != ""
}

// ParseNodeSpec reads a --node flag: id=host:port.
func ParseNodeSpec(spec string) (id, addr string, err error) {
	id, addr, ok := strings.Cut(spec, "=")
	if !ok {
		return "", "", fmt.Errorf("--node %q: want id=host:port, e.g. n1=127.0.0.1:6379", spec)
	}
	if err := ids.Validate("node", id); err != nil {
		return "", "", err
	}
	if err := CheckAddr(addr); err != nil {
		return "", "", fmt.Errorf("--node %q: %w", spec, err)
	}
	return id, addr, nil
}

// CheckAddr checks a Redis host:port address.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("invalid Redis address %q: want host:port", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("invalid Redis address %q: bad port", addr)
	}
	return nil
}

// Pair is a node to restore and the backed-up node it restores from.
type Pair struct {
	Target string `json:"target"`
	Source string `json:"source"`
}

// PairNodes decides which backed-up node each restored node gets.
// targets are the restored cluster's nodes, in registration order; sources
// the backup's nodes, in the order the manifest lists them (the source
// cluster's registration order). Within one cluster nodes pair by id; from
// another cluster by position, so the first node gets the first node's data
// and so on. only restores one node; sourceNode overrides its source.
func PairNodes(targets, sources []string, sameCluster bool, only, sourceNode string) ([]Pair, error) {
	has := func(list []string, id string) int {
		for i, v := range list {
			if v == id {
				return i
			}
		}
		return -1
	}
	if only == "" && sourceNode != "" {
		return nil, fmt.Errorf("a source node can only be given when restoring one node")
	}
	if !sameCluster && only == "" && len(targets) != len(sources) {
		return nil, fmt.Errorf("the backup has %d nodes and the cluster %d: restoring a whole cluster from another one needs as many nodes (restore nodes one by one with a source node otherwise)",
			len(sources), len(targets))
	}
	var out []Pair
	for i, t := range targets {
		if only != "" && t != only {
			continue
		}
		src := ""
		switch {
		case sourceNode != "":
			src = sourceNode
		case sameCluster:
			src = t
		case i < len(sources):
			src = sources[i]
		}
		if src == "" || has(sources, src) < 0 {
			return nil, fmt.Errorf("node %s: the backup holds no node %q (it has %s)", t, src, strings.Join(sources, ", "))
		}
		out = append(out, Pair{Target: t, Source: src})
	}
	if only != "" && len(out) == 0 {
		return nil, fmt.Errorf("node %q is not in the cluster (it has %s)", only, strings.Join(targets, ", "))
	}
	return out, nil
}
