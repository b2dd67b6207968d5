package redisbackup

import (
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
)

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": FormatRDB, "rdb": FormatRDB, "AOF": FormatAOF, "aof": FormatAOF, "json": ""} {
		got, err := ParseFormat(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	loc := backupstore.Location{Bucket: "b", Prefix: "redis/prod"}
	id := "20210901T120000.000Z"
	cases := []struct{ got, want string }{
		{NodeTaskQueue("lifeboat", "n1"), "lifeboat-redis-n1"},
		{BackupFolder(loc, "c1", id), "redis/prod/c1/20210901T120000.000Z"},
		{NodeFolder(loc, "c1", id, "n2"), "redis/prod/c1/20210901T120000.000Z/n2"},
		{ManifestKey(loc, "c1", id), "redis/prod/c1/20210901T120000.000Z/cluster-manifest.json"},
		{ClusterPrefix(loc, "c1"), "redis/prod/c1/"},
		{ManifestKey(backupstore.Location{Bucket: "b"}, "c1", id), "c1/20210901T120000.000Z/cluster-manifest.json"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestParseManifestKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key, cluster, id string
		ok               bool
	}{
		{"p/c1/20210901T120000.000Z/cluster-manifest.json", "c1", "20210901T120000.000Z", true},
		{"c1/20210901T120000.000Z/cluster-manifest.json", "c1", "20210901T120000.000Z", true},
		{"p/c1/20210901T120000.000Z/n1/dump.rdb", "", "", false},
		{"p/c1/not-an-id/cluster-manifest.json", "", "", false},
		{"p/env/store/ds/20210901T120000.000Z/manifest.json", "", "", false}, // a dataset backup
	}
	for _, c := range cases {
		cl, id, ok := ParseManifestKey(c.key)
		if ok != c.ok || cl != c.cluster || id != c.id {
			t.Errorf("ParseManifestKey(%q) = %q, %q, %v", c.key, cl, id, ok)
		}
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	got, err := ParseDate("2021-09-01")
	if err != nil || !got.Equal(time.Date(2021, 9, 1, 23, 59, 59, 999999999, time.UTC)) {
		t.Errorf("ParseDate(day) = %v, %v", got, err)
	}
	got, err = ParseDate("2021-09-01T14:00:00+02:00")
	if err != nil || !got.Equal(time.Date(2021, 9, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseDate(RFC 3339) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "2021-13-01", "01/09/2021", "yesterday"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
}

func TestChooseBackup(t *testing.T) {
	t.Parallel()
	ids := []string{"20210902T030000.000Z", "20210831T030000.000Z", "20210901T030000.000Z", "20210901T150000.000Z"}
	day := func(s string) time.Time { d, _ := ParseDate(s); return d }
	cases := []struct {
		name     string
		backupID string
		notAfter time.Time
		want     string
	}{
		{"latest", "", time.Time{}, "20210902T030000.000Z"},
		{"by id", "20210831T030000.000Z", time.Time{}, "20210831T030000.000Z"},
		{"unknown id", "20200101T000000.000Z", time.Time{}, ""},
		{"latest that day", "", day("2021-09-01"), "20210901T150000.000Z"},
		{"at or before a time", "", day("2021-09-01T03:00:00Z"), "20210901T030000.000Z"},
		{"before the first", "", day("2021-08-30"), ""},
		{"day after the last", "", day("2021-12-31"), "20210902T030000.000Z"},
	}
	for _, c := range cases {
		got, ok := ChooseBackup(ids, c.backupID, c.notAfter)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s: ChooseBackup = %q, %v; want %q", c.name, got, ok, c.want)
		}
	}
}

func TestParseNodeSpec(t *testing.T) {
	t.Parallel()
	cases := []struct {
		spec, id, addr string
		ok             bool
	}{
		{"n1=127.0.0.1:7001", "n1", "127.0.0.1:7001", true},
		{"redis-a_1=redis-a.internal:6379", "redis-a_1", "redis-a.internal:6379", true},
		{"n1=[::1]:6379", "n1", "[::1]:6379", true},
		{"n1", "", "", false},
		{"n1=127.0.0.1", "", "", false},
		{"n1=:6379", "", "", false},
		{"n1=host:0", "", "", false},
		{"bad.id=host:6379", "", "", false},
		{"=host:6379", "", "", false},
	}
	for _, c := range cases {
		id, addr, err := ParseNodeSpec(c.spec)
		if (err == nil) != c.ok || id != c.id || addr != c.addr {
			t.Errorf("ParseNodeSpec(%q) = %q, %q, %v", c.spec, id, addr, err)
		}
	}
}

func TestPairNodes(t *testing.T) {
	t.Parallel()
	a := []string{"a1", "a2", "a3"}
	b := []string{"b1", "b2", "b3"}
	cases := []struct {
		name             string
		targets, sources []string
		same             bool
		only, sourceNode string
		want             string // "t<-s,..." or "error: <substring>"
	}{
		{"same cluster by id", a, []string{"a3", "a1", "a2"}, true, "", "", "a1<-a1,a2<-a2,a3<-a3"},
		{"one node", a, a, true, "a2", "", "a2<-a2"},
		{"other cluster by position", b, a, false, "", "", "b1<-a1,b2<-a2,b3<-a3"},
		{"one node of another cluster", b, a, false, "b3", "", "b3<-a3"},
		{"one node from a chosen node", b, a, false, "b1", "a3", "b1<-a3"},
		{"node added since the backup", append(a, "a4"), a, true, "", "", "error: no node \"a4\""},
		{"node counts differ", b[:2], a, false, "", "", "error: the backup has 3 nodes and the cluster 2"},
		{"unknown node", a, a, true, "zz", "", "error: node \"zz\" is not in the cluster"},
		{"unknown source node", b, a, false, "b1", "zz", "error: no node \"zz\""},
		{"source node without node", b, a, false, "", "a1", "error: only be given when restoring one node"},
	}
	for _, c := range cases {
		pairs, err := PairNodes(c.targets, c.sources, c.same, c.only, c.sourceNode)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
		} else {
			var s []string
			for _, p := range pairs {
				s = append(s, p.Target+"<-"+p.Source)
			}
			got = strings.Join(s, ",")
		}
		if strings.HasPrefix(c.want, "error: ") {
			if !strings.Contains(got, strings.TrimPrefix(c.want, "error: ")) {
				t.Errorf("%s: got %q, want an error containing %q", c.name, got, strings.TrimPrefix(c.want, "error: "))
			}
		} else if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestParseInfoAndKeyspace(t *testing.T) {
	t.Parallel()
	reply := "# Persistence\r\nloading:0\r\nrdb_saves:3\r\n\r\n# Keyspace\r\ndb0:keys=1200,expires=7,avg_ttl=1000\r\ndb3:keys=5,expires=0,avg_ttl=0\r\n"
	info := ParseInfo(reply)
	if info["loading"] != "0" || info["rdb_saves"] != "3" {
		t.Fatalf("ParseInfo = %v", info)
	}
	if n, ok := InfoInt(info, "rdb_saves"); !ok || n != 3 {
		t.Errorf("InfoInt(rdb_saves) = %d, %v", n, ok)
	}
	if _, ok := InfoInt(info, "aof_rewrites"); ok {
		t.Error("InfoInt found a missing field")
	}
	ks, err := ParseKeyspace(info)
	if err != nil || ks.Keys != 1205 || ks.Expires != 7 {
		t.Errorf("ParseKeyspace = %+v, %v", ks, err)
	}
	empty, err := ParseKeyspace(ParseInfo("# Keyspace\r\n"))
	if err != nil || empty.Keys != 0 {
		t.Errorf("ParseKeyspace(empty) = %+v, %v", empty, err)
	}
	if _, err := ParseKeyspace(map[string]string{"db0": "keys=x,expires=0"}); err == nil {
		t.Error("ParseKeyspace accepted a bad count")
	}
}

func TestAOFManifest(t *testing.T) {
	t.Parallel()
	raw := []byte("file appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n")
	parts, err := ParseAOFManifest(raw)
	if err != nil || len(parts) != 4 {
		t.Fatalf("ParseAOFManifest = %v, %v", parts, err)
	}
	live := LiveAOFParts(parts)
	want := "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n"
	if got := string(RenderAOFManifest(live)); got != want {
		t.Errorf("live parts rendered as\n%s\nwant\n%s", got, want)
	}
	if live[0].Role() != RoleAOFBase || live[1].Role() != RoleAOFIncr {
		t.Errorf("roles %s, %s", live[0].Role(), live[1].Role())
	}
	// Field order does not matter to Redis either.
	if p, err := ParseAOFManifest([]byte("seq 5 type i file x.aof\n")); err != nil || p[0].Name != "x.aof" || p[0].Seq != 5 {
		t.Errorf("reordered fields: %v, %v", p, err)
	}
	for _, bad := range []string{
		"file a seq 1 type z\n",
		"file ../etc/passwd seq 1 type b\n",
		"file \"a b\" seq 1 type b\n",
		"file a seq x type b\n",
		"file a seq 1\ntype\n",
		"file a seq 1 type b\nfile b seq 2 type b\n",
	} {
		if _, err := ParseAOFManifest([]byte(bad)); err == nil {
			t.Errorf("ParseAOFManifest(%q) accepted", bad)
		}
	}
	base, m := BaseOnlyAOF("appendonly.aof")
	if base != "appendonly.aof.1.base.rdb" || string(m) != "file appendonly.aof.1.base.rdb seq 1 type b\n" {
		t.Errorf("BaseOnlyAOF = %q, %q", base, m)
	}
}

func TestManifestCheck(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("a", 64)
	good := func() *Manifest {
		return &Manifest{
			Format: ManifestFormat, Cluster: "c1", BackupID: "20210901T120000.000Z", Persistence: FormatRDB, Keys: 30, Bytes: 300,
			Nodes: []Node{
				{Node: "n1", Keys: 10, MinKeys: 10, MaxKeys: 10, Bytes: 100, Files: []File{{Name: "dump.rdb", Role: RoleRDB, Key: "k1", Size: 100, SHA256: sum}}},
				{Node: "n2", Keys: 20, MinKeys: 18, MaxKeys: 21, Bytes: 200, Files: []File{{Name: "dump.rdb", Role: RoleRDB, Key: "k2", Size: 200, SHA256: sum}}},
			},
		}
	}
	if err := good().Check(); err != nil {
		t.Fatalf("good manifest: %v", err)
	}
	aof := good()
	aof.Persistence = FormatAOF
	aof.Nodes = aof.Nodes[:1]
	aof.Keys, aof.Bytes = 10, 100
	aof.Nodes[0].Files = []File{
		{Name: "appendonlydir/appendonly.aof.manifest", Role: RoleAOFManifest, Key: "m", Size: 10, SHA256: sum},
		{Name: "appendonlydir/appendonly.aof.1.base.rdb", Role: RoleAOFBase, Key: "b", Size: 90, SHA256: sum},
	}
	if err := aof.Check(); err != nil {
		t.Fatalf("good AOF manifest: %v", err)
	}
	breaks := map[string]func(m *Manifest){
		"format":         func(m *Manifest) { m.Format = 9 },
		"persistence":    func(m *Manifest) { m.Persistence = "zip" },
		"no nodes":       func(m *Manifest) { m.Nodes = nil },
		"twice":          func(m *Manifest) { m.Nodes[1].Node = "n1" },
		"keys total":     func(m *Manifest) { m.Keys = 31 },
		"bytes total":    func(m *Manifest) { m.Bytes = 1 },
		"key range":      func(m *Manifest) { m.Nodes[1].MaxKeys = 19 },
		"file bytes":     func(m *Manifest) { m.Nodes[0].Files[0].Size = 99 },
		"checksum":       func(m *Manifest) { m.Nodes[0].Files[0].SHA256 = "abc" },
		"escaping name":  func(m *Manifest) { m.Nodes[0].Files[0].Name = "../x" },
		"two dump files": func(m *Manifest) { m.Nodes[0].Files = append(m.Nodes[0].Files, m.Nodes[0].Files[0]) },
	}
	for name, breakIt := range breaks {
		m := good()
		breakIt(m)
		if err := m.Check(); err == nil {
			t.Errorf("%s: broken manifest passes Check", name)
		}
	}
	n := good().Nodes[1]
	if !n.KeysMatch(18) || !n.KeysMatch(21) || n.KeysMatch(17) || n.KeysMatch(22) || n.ExpectedKeys() != "18..21" {
		t.Errorf("KeysMatch / ExpectedKeys wrong for %+v", n)
	}
}
