package temporalconn_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/lifeboat-dev/lifeboat/internal/temporalconn"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestDialThroughMTLSProxy dials a dev server behind a TLS proxy that
// requires client certificates: a good certificate gets through and the
// namespace answers; each bad setting is refused with one line naming it.
func TestDialThroughMTLSProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	ctx := testenv.Context(t, 3*time.Minute)
	e, err := testenv.New(ctx, testenv.Options{Workers: -1})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })

	ca := testenv.NewTestCA(t, "lifeboat-test")
	proxy, err := testenv.StartTLSProxy(e.TemporalAddress, ca.Issue(t, "temporal", true).TLS, ca.Pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	client := ca.Issue(t, "lifeboat-worker", false)
	other := testenv.NewTestCA(t, "other")
	stranger := other.Issue(t, "stranger", false)
	noFile := t.TempDir() + "/temporal.toml" // keep a developer's own temporal.toml out of the test
	env := mapEnv{"TEMPORAL_CONFIG_FILE": noFile}

	dial := func(addr string, args ...string) (string, error) {
		var f temporalconn.Flags
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		f.AddFlags(fs)
		if err := fs.Parse(append([]string{"--temporal-address", addr}, args...)); err != nil {
			t.Fatal(err)
		}
		opts, err := f.Load(env)
		if err != nil {
			return "", err
		}
		c, err := temporalconn.Dial(ctx, opts)
		if err != nil {
			return "", err
		}
		defer c.Close()
		resp, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
		if err != nil {
			return "", err
		}
		return resp.GetNamespaceInfo().GetName(), nil
	}

	ns, err := dial(proxy.Addr, "--tls-cert-path", client.CertPath, "--tls-key-path", client.KeyPath, "--tls-ca-path", ca.CertPath)
	if err != nil || ns != "default" {
		t.Fatalf("good client certificate: namespace %q, err %v", ns, err)
	}

	for _, c := range []struct {
		name string
		addr string // default the proxy
		args []string
		want string
	}{
		{"no client certificate", "", []string{"--tls-ca-path", ca.CertPath}, "requires a client certificate"},
		{"client certificate of another CA", "", []string{"--tls-cert-path", stranger.CertPath, "--tls-key-path", stranger.KeyPath, "--tls-ca-path", ca.CertPath},
			"refused the client certificate"},
		{"server CA not trusted", "", []string{"--tls-cert-path", client.CertPath, "--tls-key-path", client.KeyPath, "--tls-ca-path", other.CertPath},
			"not signed by a trusted CA"},
		{"wrong server name", "", []string{"--tls-cert-path", client.CertPath, "--tls-key-path", client.KeyPath, "--tls-ca-path", ca.CertPath, "--tls-server-name", "temporal.example"},
			"certificate is for another name"},
		{"plain client", "", nil, "the server requires TLS; set --tls"},
		{"TLS to a plain server", e.TemporalAddress, []string{"--tls-ca-path", ca.CertPath}, "the server does not speak TLS"},
	} {
		if c.addr == "" {
			c.addr = proxy.Addr
		}
		start := time.Now()
		_, err := dial(c.addr, c.args...)
		var ce *temporalconn.ConnectError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a ConnectError", c.name, err)
			continue
		}
		msg := err.Error()
		t.Logf("%s (%s): %s", c.name, time.Since(start).Round(time.Millisecond), msg)
		prefix := "connect to Temporal at " + c.addr + ": TLS: "
		if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: got %q, want one line starting %q and containing %q", c.name, msg, prefix, c.want)
		}
	}
}

// TestLoadRefusesBadSettingsBeforeDialing: settings that cannot work are
// a ConfigError, found without contacting anything.
func TestLoadRefusesBadSettingsBeforeDialing(t *testing.T) {
	t.Parallel()
	ca := testenv.NewTestCA(t, "ca")
	client := ca.Issue(t, "client", false)
	for name, args := range map[string][]string{
		"certificate without key": {"--tls-cert-path", client.CertPath},
		"missing certificate":     {"--tls-cert-path", "/nonexistent/cert.pem", "--tls-key-path", client.KeyPath},
		"missing CA file":         {"--tls-ca-path", client.KeyPath + ".missing"},
		"CA file not PEM":         {"--tls-ca-path", client.KeyPath},
		"unknown profile":         {"--temporal-profile", "nope"},
	} {
		var f temporalconn.Flags
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		f.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		_, err := f.Load(mapEnv{"TEMPORAL_CONFIG_FILE": t.TempDir() + "/none.toml"})
		var ce *temporalconn.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a ConfigError", name, err)
		}
	}
}
