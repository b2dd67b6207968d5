package temporalconn_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
	tclient "go.temporal.io/sdk/client"

	"github.com/lifeboat-dev/lifeboat/internal/temporalconn"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// mapEnv is an environment for envconfig.EnvLookup.
type mapEnv map[string]string

func (m mapEnv) Environ() []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func (m mapEnv) LookupEnv(k string) (string, bool) { v, ok := m[k]; return v, ok }

func load(t *testing.T, env mapEnv, args ...string) (tclient.Options, error) {
	t.Helper()
	var f temporalconn.Flags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Load(env)
}

// TestLoadPrecedence: temporal.toml profile, then TEMPORAL_* variables,
// then flags; TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE pick the profile
// and file, --temporal-profile and --temporal-config-file override them.
func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	ca := testenv.NewTestCA(t, "ca")
	client := ca.Issue(t, "client", false)
	dir := t.TempDir()
	file := filepath.Join(dir, "temporal.toml")
	write(t, file, `
[profile.default]
address = "file-default:7233"
namespace = "file-default-ns"

[profile.cloud]
address = "ns.acct.tmprl.cloud:7233"
namespace = "ns.acct"
[profile.cloud.tls]
client_cert_path = "`+client.CertPath+`"
client_key_path = "`+client.KeyPath+`"
server_ca_cert_path = "`+ca.CertPath+`"
server_name = "ns.acct.tmprl.cloud"

[profile.apikey]
address = "region.aws.api.temporal.io:7233"
namespace = "ns.acct"
api_key = "secret-key"
`)
	other := filepath.Join(dir, "other.toml")
	write(t, other, `
[profile.default]
address = "other-file:7233"
`)
	missing := filepath.Join(dir, "missing.toml")

	type want struct {
		addr, ns   string
		tls, creds bool
		certs      int
		ca         bool // a server CA of its own, not the system's
		serverName string
	}
	cases := []struct {
		name string
		env  mapEnv
		args []string
		want want
	}{
		{"nothing set: defaults", mapEnv{"TEMPORAL_CONFIG_FILE": missing}, nil, want{addr: "localhost:7233", ns: "default"}},
		{"file's default profile", mapEnv{"TEMPORAL_CONFIG_FILE": file}, nil, want{addr: "file-default:7233", ns: "file-default-ns"}},
		{"TEMPORAL_PROFILE picks an mTLS profile", mapEnv{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud"}, nil,
			want{addr: "ns.acct.tmprl.cloud:7233", ns: "ns.acct", tls: true, certs: 1, ca: true, serverName: "ns.acct.tmprl.cloud"}},
		{"an API key turns TLS on", mapEnv{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "apikey"}, nil,
			want{addr: "region.aws.api.temporal.io:7233", ns: "ns.acct", tls: true, creds: true}},
		{"env over the profile", mapEnv{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud", "TEMPORAL_ADDRESS": "env:7233", "TEMPORAL_TLS_SERVER_NAME": "env-name"}, nil,
			want{addr: "env:7233", ns: "ns.acct", tls: true, certs: 1, ca: true, serverName: "env-name"}},
		{"flags over env and profile", mapEnv{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud", "TEMPORAL_ADDRESS": "env:7233", "TEMPORAL_NAMESPACE": "env-ns"},
			[]string{"--temporal-address", "flag:7233", "--namespace", "flag-ns", "--tls-server-name", "flag-name"},
			want{addr: "flag:7233", ns: "flag-ns", tls: true, certs: 1, ca: true, serverName: "flag-name"}},
		{"--temporal-profile over TEMPORAL_PROFILE", mapEnv{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud"}, []string{"--temporal-profile", "default"},
			want{addr: "file-default:7233", ns: "file-default-ns"}},
		{"--temporal-config-file over TEMPORAL_CONFIG_FILE", mapEnv{"TEMPORAL_CONFIG_FILE": file}, []string{"--temporal-config-file", other},
			want{addr: "other-file:7233", ns: "default"}},
		{"env TLS settings alone", mapEnv{"TEMPORAL_CONFIG_FILE": missing, "TEMPORAL_TLS_CLIENT_CERT_PATH": client.CertPath, "TEMPORAL_TLS_CLIENT_KEY_PATH": client.KeyPath},
			nil, want{addr: "localhost:7233", ns: "default", tls: true, certs: 1}},
		{"TEMPORAL_API_KEY", mapEnv{"TEMPORAL_CONFIG_FILE": missing, "TEMPORAL_API_KEY": "k"}, nil, want{addr: "localhost:7233", ns: "default", tls: true, creds: true}},
		{"--api-key flag", mapEnv{"TEMPORAL_CONFIG_FILE": missing}, []string{"--api-key", "k"}, want{addr: "localhost:7233", ns: "default", tls: true, creds: true}},
		{"--tls=false over an API key", mapEnv{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "apikey"}, []string{"--tls=false"},
			want{addr: "region.aws.api.temporal.io:7233", ns: "ns.acct", creds: true}},
		{"TEMPORAL_TLS=false over a profile's TLS", mapEnv{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud", "TEMPORAL_TLS": "false"}, nil,
			want{addr: "ns.acct.tmprl.cloud:7233", ns: "ns.acct"}},
		{"--tls alone", mapEnv{"TEMPORAL_CONFIG_FILE": missing}, []string{"--tls"}, want{addr: "localhost:7233", ns: "default", tls: true}},
		{"--tls-cert-path flags", mapEnv{"TEMPORAL_CONFIG_FILE": missing}, []string{"--tls-cert-path", client.CertPath, "--tls-key-path", client.KeyPath, "--tls-ca-path", ca.CertPath},
			want{addr: "localhost:7233", ns: "default", tls: true, certs: 1, ca: true}},
		{"flags given with their default values still override", mapEnv{"TEMPORAL_CONFIG_FILE": file},
			[]string{"--temporal-address", "localhost:7233", "--namespace", "default"}, want{addr: "localhost:7233", ns: "default"}},
	}
	for _, c := range cases {
		opts, err := load(t, c.env, c.args...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := want{addr: opts.HostPort, ns: opts.Namespace, tls: temporalconn.UsesTLS(opts), creds: opts.Credentials != nil}
		if cfg := opts.ConnectionOptions.TLS; cfg != nil {
			got.certs, got.ca, got.serverName = len(cfg.Certificates), cfg.RootCAs != nil, cfg.ServerName
		}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestLoadPathFlagReplacesProfileData: a profile may carry inline PEM
// data; a path flag takes its place instead of clashing with it.
func TestLoadPathFlagReplacesProfileData(t *testing.T) {
	t.Parallel()
	ca := testenv.NewTestCA(t, "ca")
	other := testenv.NewTestCA(t, "other")
	pem, err := os.ReadFile(other.CertPath)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "temporal.toml")
	write(t, file, "[profile.default.tls]\nserver_ca_cert_data = '''\n"+string(pem)+"'''\n")
	opts, err := load(t, mapEnv{"TEMPORAL_CONFIG_FILE": file}, "--tls-ca-path", ca.CertPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := opts.ConnectionOptions.TLS.RootCAs
	if pool == nil || !pool.Equal(ca.Pool) {
		t.Errorf("RootCAs are not the --tls-ca-path CA")
	}
	if _, err := load(t, mapEnv{"TEMPORAL_CONFIG_FILE": file}); err != nil {
		t.Errorf("the profile's own data: %v", err)
	}
}

func TestConfigErrorIsOneLine(t *testing.T) {
	t.Parallel()
	_, err := load(t, mapEnv{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml"), "TEMPORAL_PROFILE": "prod"})
	var ce *temporalconn.ConfigError
	if !errors.As(err, &ce) || err.Error() != "Temporal connection settings: unable to find profile prod in config data" {
		t.Errorf("got %v", err)
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
