package redisbackup

import "testing"

// A restore finds each source node's files by its id; an id the backup
// does not hold is reported as missing, never as another node's part.
func TestManifestNodeFindsANodesPart(t *testing.T) {
	t.Parallel()
	m := &Manifest{Nodes: []Node{{Node: "n1", Addr: "a1"}, {Node: "n2", Addr: "a2"}, {Node: "n3", Addr: "a3"}}}
	for _, id := range []string{"n1", "n2", "n3"} {
		n, ok := m.Node(id)
		if !ok || n.Node != id || n.Addr != "a"+id[1:] {
			t.Errorf("Node(%q) = %+v, %v", id, n, ok)
		}
	}
	if n, ok := m.Node("n4"); ok || n != nil {
		t.Errorf("Node(n4) = %+v, %v; want none", n, ok)
	}
}
