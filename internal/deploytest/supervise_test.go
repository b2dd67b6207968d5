package deploytest

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// sidecarDesign is what redis-statefulset.yaml wires together: the
// supervisor script and Redis config (redis-config), and the sidecar's stop
// and start commands.
type sidecarDesign struct {
	supervise, redisConf string
	stopCmd, startCmd    string
	statePath            string // as the containers see it
}

func loadSidecarDesign(t *testing.T) sidecarDesign {
	t.Helper()
	objs, err := render(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	var d sidecarDesign
	var sts *appsv1.StatefulSet
	for _, m := range objs {
		switch o := m.obj.(type) {
		case *corev1.ConfigMap:
			if o.Name == "redis-config" {
				d.supervise, d.redisConf = o.Data["supervise.sh"], o.Data["redis.conf"]
			}
		case *appsv1.StatefulSet:
			sts = o
		}
	}
	if sts == nil || d.supervise == "" || d.redisConf == "" {
		t.Fatal("no Redis StatefulSet, or redis-config lacks supervise.sh or redis.conf")
	}
	containers := map[string]corev1.Container{}
	for _, c := range sts.Spec.Template.Spec.Containers {
		containers[c.Name] = c
	}
	for _, a := range containers["lifeboat-sidecar"].Args {
		if v, ok := strings.CutPrefix(a, "--redis-stop-cmd="); ok {
			d.stopCmd = v
		}
		if v, ok := strings.CutPrefix(a, "--redis-start-cmd="); ok {
			d.startCmd = v
		}
	}
	d.statePath = "/run/lifeboat/redis.state"
	for _, cmd := range []string{d.stopCmd, d.startCmd} {
		if !strings.Contains(cmd, d.statePath) {
			t.Fatalf("sidecar command %q does not write %s", cmd, d.statePath)
		}
	}
	if !strings.Contains(d.supervise, d.statePath) {
		t.Fatalf("supervise.sh does not read %s", d.statePath)
	}
	// Both containers see the state file in one and the same volume.
	mountOf := func(c corev1.Container) string {
		for _, vm := range c.VolumeMounts {
			if vm.MountPath == path.Dir(d.statePath) && !vm.ReadOnly {
				return vm.Name
			}
		}
		return ""
	}
	if r, s := mountOf(containers["redis"]), mountOf(containers["lifeboat-sidecar"]); r == "" || r != s {
		t.Fatalf("%s is not one writable volume in both containers (redis: %q, lifeboat-sidecar: %q)", path.Dir(d.statePath), r, s)
	}
	return d
}

// TestRedisSidecarStopStart runs supervise.sh with a real redis-server and
// drives it with the sidecar's own stop and start commands, run as the
// worker runs them (sh -c): Redis stops and stays stopped, starts on the
// same data, is restarted when it exits by itself, and stops with the pod.
func TestRedisSidecarStopStart(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (make tools installs it)")
	}
	d := loadSidecarDesign(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "redis.state")
	port := freePort(t)
	// The ConfigMap's redis.conf, on a free port and a temp dir ("dir"
	// takes effect as it is read, so it is replaced, not overridden).
	if !strings.Contains(d.redisConf, "\ndir /data\n") {
		t.Fatal("redis.conf has no line dir /data")
	}
	conf := strings.Replace(d.redisConf, "\ndir /data\n", "\ndir "+dir+"\n", 1) + "port " + strconv.Itoa(port) + "\n"
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	script := write("supervise.sh", d.supervise)
	confPath := write("redis.conf", conf)

	sup := exec.Command("sh", script)
	sup.Env = append(os.Environ(), "LIFEBOAT_REDIS_STATE="+state, "REDIS_CONFIG="+confPath, "REDIS_PASSWORD=s3cret")
	logf, err := os.Create(filepath.Join(dir, "supervise.log"))
	if err != nil {
		t.Fatal(err)
	}
	sup.Stdout, sup.Stderr = logf, logf
	sup.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sup.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-sup.Process.Pid, syscall.SIGKILL) // redis-server too, whatever happened
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("supervise.sh output:\n%s", b)
		}
	})

	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), Password: "s3cret",
		DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer rc.Close()
	ctx := context.Background()
	answers := func() bool {
		// A plain dial first: the client logs every refused dial.
		c, err := net.DialTimeout("tcp", rc.Options().Addr, 500*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return rc.Ping(ctx).Err() == nil
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	sidecar := func(cmd string) {
		t.Helper()
		cmd = strings.ReplaceAll(cmd, d.statePath, state)
		if out, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("sh -c %q: %v: %s", cmd, err, out)
		}
	}
	down := func() bool { return !answers() }

	waitFor("Redis answers", answers)
	if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	sidecar(d.stopCmd)
	waitFor("Redis stops after the stop command", down)
	// A half-written state file changes nothing; Redis stays stopped.
	write("redis.state", "")
	time.Sleep(2500 * time.Millisecond)
	if answers() {
		t.Fatal("Redis was started again while the sidecar held it stopped")
	}

	sidecar(d.startCmd)
	waitFor("Redis answers after the start command", answers)
	if got, err := rc.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("after a stop and start, k = %q, %v; want v (same data directory)", got, err)
	}

	// Redis exiting by itself (a crash) is started again.
	_ = rc.Do(ctx, "SHUTDOWN", "NOSAVE").Err()
	waitFor("Redis stops on SHUTDOWN", down)
	waitFor("Redis is started again after exiting by itself", answers)

	// Pod shutdown: SIGTERM stops Redis and the supervisor.
	if err := sup.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatalf("supervise.sh exited with %v on SIGTERM, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("supervise.sh still running 10s after SIGTERM")
	}
	if answers() {
		t.Fatal("Redis still answers after the supervisor stopped")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
