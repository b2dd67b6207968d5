package redisbackup

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// ManifestFormat is bumped when the cluster manifest changes incompatibly.
const ManifestFormat = 1

// Roles of a node's backed-up files.
const (
	RoleRDB         = "rdb"          // the dump file of an RDB backup
	RoleAOFManifest = "aof-manifest" // the multi-part AOF's manifest
	RoleAOFBase     = "aof-base"     // its base file (RDB or AOF)
	RoleAOFIncr     = "aof-incr"     // an incremental AOF file
)

// Manifest describes one backup of a whole cluster. The coordinating
// workflow writes it last, once every node's files are uploaded, so a
// backup folder without one is not a backup.
type Manifest struct {
	Format     int    `json:"format"`
	Tool       string `json:"tool"`
	Cluster    string `json:"cluster"`
	BackupID   string `json:"backupId"`
	WorkflowID string `json:"workflowId"`
	// Persistence is the backup's format: rdb or aof.
	Persistence string    `json:"persistence"`
	StartedAt   time.Time `json:"startedAt"`
	CreatedAt   time.Time `json:"createdAt"`
	Keys        int64     `json:"keys"`
	Bytes       int64     `json:"bytes"`
	Nodes       []Node    `json:"nodes"`
	// KMSKeyID is the KMS key the backup's files and manifest are encrypted
	// with (SSE-KMS); empty: the bucket's default encryption.
	KMSKeyID string `json:"kmsKeyId,omitempty"`
}

// Node is one node's part of a backup.
type Node struct {
	Node         string `json:"node"`
	Addr         string `json:"addr"`
	RedisVersion string `json:"redisVersion"`
	RunID        string `json:"runId"`
	// Keys is the node's key count (all databases) when its file was cut.
	// Under concurrent writes it is only known to lie in MinKeys..MaxKeys;
	// keys with a TTL may also expire before a restore, which MinKeys allows
	// for.
	Keys    int64     `json:"keys"`
	Expires int64     `json:"expires"`
	MinKeys int64     `json:"minKeys"`
	MaxKeys int64     `json:"maxKeys"`
	Bytes   int64     `json:"bytes"`
	SavedAt time.Time `json:"savedAt"`
	Files   []File    `json:"files"`
}

// File is one uploaded file of a node.
type File struct {
	// Name is the file's path below the node folder, as it was below the
	// data directory: dump.rdb, appendonlydir/appendonly.aof.2.base.rdb, ...
	Name   string `json:"name"`
	Role   string `json:"role"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// KeysMatch reports whether a restored node's key count fits the backup.
func (n *Node) KeysMatch(got int64) bool { return got >= n.MinKeys && got <= n.MaxKeys }

// ExpectedKeys describes the key count a restored node must reach.
func (n *Node) ExpectedKeys() string {
	if n.MinKeys == n.MaxKeys {
		return fmt.Sprint(n.MinKeys)
	}
	return fmt.Sprintf("%d..%d", n.MinKeys, n.MaxKeys)
}

// Node finds a node's part of the backup.
func (m *Manifest) Node(id string) (*Node, bool) {
	for i := range m.Nodes {
		if m.Nodes[i].Node == id {
			return &m.Nodes[i], true
		}
	}
	return nil, false
}

// NodeIDs lists the backup's nodes in manifest order.
func (m *Manifest) NodeIDs() []string {
	out := make([]string, len(m.Nodes))
	for i, n := range m.Nodes {
		out[i] = n.Node
	}
	return out
}

// Check reports the first inconsistency inside a manifest.
func (m *Manifest) Check() error {
	if m.Format != ManifestFormat {
		return fmt.Errorf("cluster manifest format %d is not supported (want %d)", m.Format, ManifestFormat)
	}
	if m.Cluster == "" || m.BackupID == "" {
		return errors.New("cluster manifest lacks cluster or backup id")
	}
	if _, err := ParseFormat(m.Persistence); err != nil || m.Persistence == "" {
		return fmt.Errorf("cluster manifest: persistence %q is not rdb or aof", m.Persistence)
	}
	if len(m.Nodes) == 0 {
		return errors.New("cluster manifest lists no nodes")
	}
	var keys, bytes int64
	seen := map[string]bool{}
	for _, n := range m.Nodes {
		if n.Node == "" || seen[n.Node] {
			return fmt.Errorf("cluster manifest: node %q is empty or listed twice", n.Node)
		}
		seen[n.Node] = true
		if err := n.check(m.Persistence); err != nil {
			return fmt.Errorf("cluster manifest: node %s: %w", n.Node, err)
		}
		keys += n.Keys
		bytes += n.Bytes
	}
	if keys != m.Keys || bytes != m.Bytes {
		return fmt.Errorf("cluster manifest: nodes hold %d keys and %d bytes, manifest says %d and %d", keys, bytes, m.Keys, m.Bytes)
	}
	return nil
}

func (n *Node) check(persistence string) error {
	if n.MinKeys > n.Keys || n.Keys > n.MaxKeys || n.MinKeys < 0 {
		return fmt.Errorf("key count %d outside its range %d..%d", n.Keys, n.MinKeys, n.MaxKeys)
	}
	var size int64
	roles := map[string]int{}
	for _, f := range n.Files {
		if f.Name == "" || f.Key == "" || len(f.SHA256) != 64 || f.Size < 0 {
			return fmt.Errorf("file %q lacks a name, key, size or SHA-256", f.Name)
		}
		if path.IsAbs(f.Name) || strings.HasPrefix(path.Clean(f.Name), "..") {
			return fmt.Errorf("file name %q leaves the data directory", f.Name)
		}
		size += f.Size
		roles[f.Role]++
	}
	if size != n.Bytes {
		return fmt.Errorf("files hold %d bytes, node says %d", size, n.Bytes)
	}
	switch persistence {
	case FormatRDB:
		if roles[RoleRDB] != 1 || len(n.Files) != 1 {
			return errors.New("an RDB backup holds exactly one dump file")
		}
	case FormatAOF:
		if roles[RoleAOFManifest] != 1 || roles[RoleAOFBase]+roles[RoleAOFIncr] == 0 || roles[RoleRDB] != 0 {
			return errors.New("an AOF backup holds one AOF manifest and its base and incremental files")
		}
	}
	return nil
}
