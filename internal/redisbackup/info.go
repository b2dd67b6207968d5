package redisbackup

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ParseInfo reads the reply of INFO into its fields ("loading" -> "0").
func ParseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// Keyspace is a node's key count over all its databases.
type Keyspace struct {
	Keys    int64
	Expires int64 // keys with a TTL
}

// ParseKeyspace sums the db<N> lines of INFO keyspace
// ("db0:keys=2,expires=0,avg_ttl=0"). A node without keys has none.
func ParseKeyspace(info map[string]string) (Keyspace, error) {
	var ks Keyspace
	for k, v := range info {
		if !strings.HasPrefix(k, "db") {
			continue
		}
		if _, err := strconv.Atoi(k[2:]); err != nil {
			continue
		}
		for _, field := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(field, "=")
			n, err := strconv.ParseInt(val, 10, 64)
			switch name {
			case "keys":
				if err != nil {
					return Keyspace{}, fmt.Errorf("INFO keyspace %s: %q", k, v)
				}
				ks.Keys += n
			case "expires":
				if err != nil {
					return Keyspace{}, fmt.Errorf("INFO keyspace %s: %q", k, v)
				}
				ks.Expires += n
			}
		}
	}
	return ks, nil
}

// InfoInt reads an integer field of INFO; ok is false when it is absent or
// not a number.
func InfoInt(info map[string]string, field string) (int64, bool) {
	v, present := info[field]
	if !present {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// AOF part types in a Redis 7 multi-part AOF manifest.
const (
	AOFBase    = "b"
	AOFIncr    = "i"
	AOFHistory = "h" // a former part, deleted by Redis soon: never backed up
)

// AOFPart is one line of a multi-part AOF manifest:
// "file appendonly.aof.2.base.rdb seq 2 type b".
type AOFPart struct {
	Name string
	Seq  int64
	Type string
}

// Role is the part's file role in a backup.
func (p AOFPart) Role() string {
	if p.Type == AOFBase {
		return RoleAOFBase
	}
	return RoleAOFIncr
}

// ParseAOFManifest reads a multi-part AOF manifest (Redis 7 and later).
func ParseAOFManifest(data []byte) ([]AOFPart, error) {
	var parts []AOFPart
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields)%2 != 0 {
			return nil, fmt.Errorf("AOF manifest line %d: %q", i+1, line)
		}
		var p AOFPart
		for j := 0; j < len(fields); j += 2 {
			switch fields[j] {
			case "file":
				p.Name = fields[j+1]
			case "seq":
				n, err := strconv.ParseInt(fields[j+1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("AOF manifest line %d: bad seq %q", i+1, fields[j+1])
				}
				p.Seq = n
			case "type":
				p.Type = fields[j+1]
			}
		}
		if p.Name == "" || strings.ContainsAny(p.Name, `/"\`) || p.Name == "." || p.Name == ".." {
			return nil, fmt.Errorf("AOF manifest line %d: unsupported file name in %q", i+1, line)
		}
		switch p.Type {
		case AOFBase, AOFIncr, AOFHistory:
		default:
			return nil, fmt.Errorf("AOF manifest line %d: unknown type in %q", i+1, line)
		}
		parts = append(parts, p)
	}
	bases := 0
	for _, p := range parts {
		if p.Type == AOFBase {
			bases++
		}
	}
	if bases > 1 {
		return nil, fmt.Errorf("AOF manifest lists %d base files", bases)
	}
	return parts, nil
}

// RenderAOFManifest writes parts as a multi-part AOF manifest.
func RenderAOFManifest(parts []AOFPart) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		fmt.Fprintf(&b, "file %s seq %d type %s\n", p.Name, p.Seq, p.Type)
	}
	return b.Bytes()
}

// LiveAOFParts keeps the parts Redis loads (base and incremental), in
// manifest order.
func LiveAOFParts(parts []AOFPart) []AOFPart {
	var out []AOFPart
	for _, p := range parts {
		if p.Type != AOFHistory {
			out = append(out, p)
		}
	}
	return out
}

// BaseOnlyAOF is the manifest of an append-only directory holding nothing
// but an RDB file as its base: how an RDB backup is restored into a node
// that runs with appendonly yes (which would ignore a dump file).
func BaseOnlyAOF(appendFilename string) (baseName string, manifest []byte) {
	baseName = appendFilename + ".1.base.rdb"
	return baseName, RenderAOFManifest([]AOFPart{{Name: baseName, Seq: 1, Type: AOFBase}})
}

// AOFManifestName is the manifest's file name in the append-only directory.
func AOFManifestName(appendFilename string) string { return appendFilename + ".manifest" }
