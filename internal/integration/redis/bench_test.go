package redis

import (
	"bufio"
	"context"
	cryptorand "crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	rediswf "github.com/lifeboat-dev/lifeboat/workflows/redis"
)

// BenchmarkRedisRestoreDowntime measures how long a restored node answers
// nothing, for a node of LIFEBOAT_BENCH_REDIS_MB megabytes (500 by default:
// 1 KiB random values), restored by Lifeboat and by the plain script an
// operator would write (download the dump with the transfer manager, as
// `aws s3 cp` does; SHUTDOWN NOSAVE; move the file in; start redis-server;
// wait until it answers with the data loaded). A client reading one key
// every 5 ms sees the downtime: from its first failed read to the next
// successful one. Three runs each, medians reported:
//
//	lifeboat-down-ms     what the client saw during Lifeboat's restore
//	lifeboat-report-ms   the restore's own downMillis for the node
//	script-down-ms       what the client saw during the plain script
//	restore-ms           the whole Lifeboat restore (download included)
//
// Run: make bench, or
// go test -run '^$' -bench RedisRestoreDowntime -benchtime 1x ./internal/integration/redis/
func BenchmarkRedisRestoreDowntime(b *testing.B) {
	mb := 500
	if v := os.Getenv("LIFEBOAT_BENCH_REDIS_MB"); v != "" {
		var err error
		if mb, err = strconv.Atoi(v); err != nil || mb <= 0 {
			b.Fatalf("LIFEBOAT_BENCH_REDIS_MB=%q: want a number of megabytes", v)
		}
	}
	e := shared(b)
	ctx := testenv.Context(b, 30*time.Minute)
	c := startCluster(b, e, "bench", clusterOptions{nodes: 1, stopNoSave: true})
	n := c.nodes[0]
	loc := e.NewBackupLocation(b)
	keys := fillMB(b, n, mb)
	res := backup(ctx, b, e, rediswf.BackupInput{Cluster: c.name, BackupLocation: loc})
	b.Logf("backed up %d keys, %d MB", res.Keys, res.Bytes>>20)

	var lifeboatDown, reported, scriptDown, whole []float64
	for range 3 {
		p := startReadProbe(n.addr)
		start := time.Now()
		out := restore(ctx, b, e, rediswf.RestoreInput{Cluster: c.name, BackupLocation: loc})
		whole = append(whole, ms(time.Since(start)))
		lifeboatDown = append(lifeboatDown, ms(p.stop()))
		reported = append(reported, float64(out.Nodes[0].DownMillis))
		requireKeys(b, n, keys)

		p = startReadProbe(n.addr)
		plainScriptRestore(ctx, b, e, loc, c.name, res.BackupID, n)
		scriptDown = append(scriptDown, ms(p.stop()))
		requireKeys(b, n, keys)
	}
	b.ReportMetric(median(lifeboatDown), "lifeboat-down-ms")
	b.ReportMetric(median(reported), "lifeboat-report-ms")
	b.ReportMetric(median(scriptDown), "script-down-ms")
	b.ReportMetric(median(whole), "restore-ms")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d.Milliseconds()) }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// fillMB writes mb MiB of 1 KiB random values (incompressible, like real
// payloads) in pipelines, and returns the key count.
func fillMB(tb testing.TB, n *node, mb int) int64 {
	tb.Helper()
	ctx := context.Background()
	total := int64(mb) << 10
	val := make([]byte, 1024)
	for i := int64(0); i < total; i += 1000 {
		pipe := n.rc.Pipeline()
		for j := i; j < i+1000 && j < total; j++ {
			_, _ = cryptorand.Read(val)
			pipe.Set(ctx, fmt.Sprintf("k%09d", j), val, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			tb.Fatalf("fill %s: %v", n.id, err)
		}
	}
	return total
}

func requireKeys(tb testing.TB, n *node, want int64) {
	tb.Helper()
	got, err := n.rc.DBSize(context.Background()).Result()
	if err != nil || got != want {
		tb.Fatalf("node %s holds %d keys (%v), want %d", n.id, got, err, want)
	}
}

// readProbe reads one key every 5 ms and keeps the longest stretch between
// a failed read and the next successful one. It speaks RESP over its own
// connection, redialled after any failure: a client library's pool backs
// off after dial errors and would stretch what it sees.
type readProbe struct {
	done    chan struct{}
	wg      sync.WaitGroup
	longest time.Duration
}

func startReadProbe(addr string) *readProbe {
	p := &readProbe{done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var conn net.Conn
		defer func() {
			if conn != nil {
				_ = conn.Close()
			}
		}()
		read := func() bool {
			if conn == nil {
				c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
				if err != nil {
					return false
				}
				conn = c
			}
			_ = conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
			line, err := func() (string, error) {
				if _, err := conn.Write([]byte("*2\r\n$3\r\nGET\r\n$10\r\nk000000000\r\n")); err != nil {
					return "", err
				}
				return bufio.NewReader(conn).ReadString('\n')
			}()
			if err != nil || !strings.HasPrefix(line, "$") { // "-LOADING ..." while loading
				_ = conn.Close()
				conn = nil
				return false
			}
			_, _ = io.CopyN(io.Discard, conn, 1024+2) // the value and its CRLF
			return true
		}
		var failedSince time.Time
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
			}
			ok := read()
			switch {
			case !ok && failedSince.IsZero():
				failedSince = time.Now()
			case ok && !failedSince.IsZero():
				p.longest = max(p.longest, time.Since(failedSince))
				failedSince = time.Time{}
			}
		}
	}()
	return p
}

func (p *readProbe) stop() time.Duration {
	close(p.done)
	p.wg.Wait()
	return p.longest
}

// plainScriptRestore is the restore an operator would script by hand.
func plainScriptRestore(ctx context.Context, tb testing.TB, e *testenv.Env, loc, cluster, backupID string, n *node) {
	tb.Helper()
	lc, err := backupstore.ParseLocation(loc)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := redisbackup.ReadManifest(ctx, e.AWS.S3, lc.Bucket, redisbackup.ManifestKey(lc, cluster, backupID))
	if err != nil {
		tb.Fatal(err)
	}
	staged := filepath.Join(n.dir, "dump.rdb.download")
	f, err := os.Create(staged)
	if err != nil {
		tb.Fatal(err)
	}
	//lint:ignore SA1019 feature/s3/manager is deprecated for transfermanager, which is still pre-1.0 (as in activities/redis).
	_, err = manager.NewDownloader(e.AWS.S3).Download(ctx, f, &s3.GetObjectInput{
		Bucket: aws.String(lc.Bucket), Key: aws.String(m.Nodes[0].Files[0].Key)})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatalf("download: %v", err)
	}
	if out, err := exec.Command("redis-cli", "-p", fmt.Sprint(n.port), "shutdown", "nosave").CombinedOutput(); err != nil {
		tb.Fatalf("shutdown: %v: %s", err, out)
	}
	for { // until the old process has let go of the port
		c, err := net.DialTimeout("tcp", n.addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		_ = c.Close()
		time.Sleep(2 * time.Millisecond)
	}
	if err := os.Rename(staged, filepath.Join(n.dir, "dump.rdb")); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("redis-server", n.conf)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if err := waitAnswering(n.addr, done, 5*time.Minute); err != nil {
		tb.Fatalf("start: %v", err)
	}
}
