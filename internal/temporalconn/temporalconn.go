// Package temporalconn loads how the worker and the CLI reach Temporal the
// way Temporal's own tools do (the Go SDK's envconfig): a profile of
// temporal.toml (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), then the
// TEMPORAL_* environment variables (address, namespace, API key, TLS and
// mTLS), then command-line flags spelled as the temporal CLI spells them.
// It also dials, turning a refused TLS handshake into one line that names
// the problem.
package temporalconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"
	tclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/lifeboat-dev/lifeboat/internal/config"
)

// Flag names. TLS and API key flags are the temporal CLI's; the address,
// profile and config file carry a temporal- prefix because the same
// commands also take AWS settings (AWS_PROFILE is not a Temporal profile).
const (
	FlagAddress                    = "temporal-address"
	FlagNamespace                  = "namespace"
	FlagAPIKey                     = "api-key"
	FlagTLS                        = "tls"
	FlagTLSCertPath                = "tls-cert-path"
	FlagTLSKeyPath                 = "tls-key-path"
	FlagTLSCAPath                  = "tls-ca-path"
	FlagTLSServerName              = "tls-server-name"
	FlagTLSDisableHostVerification = "tls-disable-host-verification"
	FlagProfile                    = "temporal-profile"
	FlagConfigFile                 = "temporal-config-file"
)

// EnvHelp lists the environment variables Load reads, for help texts.
const EnvHelp = `Temporal (as the temporal CLI and the SDKs read them):
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE          frontend host:port (localhost:7233), namespace (default)
  TEMPORAL_API_KEY                              API key (Temporal Cloud); turns TLS on
  TEMPORAL_TLS                                  true/false: TLS with the system's CAs, or off
  TEMPORAL_TLS_CLIENT_CERT_PATH, _KEY_PATH      mTLS client certificate and key (or _CERT_DATA, _KEY_DATA: PEM)
  TEMPORAL_TLS_SERVER_CA_CERT_PATH              CA of the server's certificate (or _SERVER_CA_CERT_DATA)
  TEMPORAL_TLS_SERVER_NAME                      name the server's certificate must carry (SNI)
  TEMPORAL_TLS_DISABLE_HOST_VERIFICATION        true: skip the server name check
  TEMPORAL_GRPC_META_<NAME>                     extra gRPC header
  TEMPORAL_PROFILE                              profile of temporal.toml to use (default)
  TEMPORAL_CONFIG_FILE                          temporal.toml (default ~/.config/temporalio/temporal.toml)`

// Flags are the command-line overrides. Bind them with AddFlags; only
// flags given on the command line override the file and environment.
type Flags struct {
	Address, Namespace, APIKey                        string
	TLS                                               bool
	TLSCertPath, TLSKeyPath, TLSCAPath, TLSServerName string
	TLSDisableHostVerification                        bool
	Profile, ConfigFile                               string

	fs *pflag.FlagSet
}

// AddFlags defines the connection flags on fs.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.Address, FlagAddress, config.DefaultTemporalAddress, "Temporal frontend host:port (TEMPORAL_ADDRESS)")
	fs.StringVar(&f.Namespace, FlagNamespace, config.DefaultNamespace, "Temporal namespace (TEMPORAL_NAMESPACE)")
	fs.StringVar(&f.APIKey, FlagAPIKey, "", "Temporal API key, e.g. Temporal Cloud's; turns TLS on (TEMPORAL_API_KEY)")
	fs.BoolVar(&f.TLS, FlagTLS, false, "TLS to Temporal with the system's CAs; on by default with an API key or any --tls-* flag, --tls=false turns it off (TEMPORAL_TLS)")
	fs.StringVar(&f.TLSCertPath, FlagTLSCertPath, "", "mTLS client certificate, PEM (TEMPORAL_TLS_CLIENT_CERT_PATH)")
	fs.StringVar(&f.TLSKeyPath, FlagTLSKeyPath, "", "mTLS client private key, PEM (TEMPORAL_TLS_CLIENT_KEY_PATH)")
	fs.StringVar(&f.TLSCAPath, FlagTLSCAPath, "", "CA certificate the Temporal server's certificate must chain to, PEM; default the system's (TEMPORAL_TLS_SERVER_CA_CERT_PATH)")
	fs.StringVar(&f.TLSServerName, FlagTLSServerName, "", "server name the certificate must carry, when not the address's host (TEMPORAL_TLS_SERVER_NAME)")
	fs.BoolVar(&f.TLSDisableHostVerification, FlagTLSDisableHostVerification, false, "do not check the server's name against its certificate (TEMPORAL_TLS_DISABLE_HOST_VERIFICATION)")
	fs.StringVar(&f.Profile, FlagProfile, "", "profile of the Temporal config file to use (TEMPORAL_PROFILE; default \"default\")")
	fs.StringVar(&f.ConfigFile, FlagConfigFile, "", "Temporal config file, TOML as the temporal CLI's (TEMPORAL_CONFIG_FILE; default ~/.config/temporalio/temporal.toml)")
}

func (f *Flags) changed(name string) bool {
	if f.fs == nil {
		return false
	}
	fl := f.fs.Lookup(name)
	return fl != nil && fl.Changed
}

// ConfigError is a connection setting that cannot be used: a profile that
// is not in the file, a file that does not parse, a certificate that does
// not load. Nothing was contacted.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "Temporal connection settings: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Load returns the client options: the profile (from --temporal-config-file
// or TEMPORAL_CONFIG_FILE or the default file, profile --temporal-profile or
// TEMPORAL_PROFILE or "default"; a missing file is no error), the TEMPORAL_*
// variables over it, and the flags given on the command line over both.
// env nil reads the process environment. Address and namespace default to
// localhost:7233 and "default".
func (f *Flags) Load(env envconfig.EnvLookup) (tclient.Options, error) {
	req := envconfig.LoadClientConfigProfileOptions{EnvLookup: env}
	if f.changed(FlagConfigFile) {
		req.ConfigFilePath = f.ConfigFile
	}
	if f.changed(FlagProfile) {
		req.ConfigFileProfile = f.Profile
	}
	prof, err := envconfig.LoadClientConfigProfile(req)
	if err != nil {
		return tclient.Options{}, &ConfigError{err}
	}
	f.apply(&prof)
	opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return tclient.Options{}, &ConfigError{err}
	}
	if opts.HostPort == "" {
		opts.HostPort = config.DefaultTemporalAddress
	}
	if opts.Namespace == "" {
		opts.Namespace = config.DefaultNamespace
	}
	return opts, nil
}

// apply puts the flags given on the command line over the profile, so
// that envconfig's rules (an API key or any TLS setting turns TLS on)
// hold for flags too. A path flag replaces the profile's inline PEM data,
// which envconfig would otherwise refuse beside a path.
func (f *Flags) apply(p *envconfig.ClientConfigProfile) {
	tls := func() *envconfig.ClientConfigTLS {
		if p.TLS == nil {
			p.TLS = &envconfig.ClientConfigTLS{}
		}
		return p.TLS
	}
	if f.changed(FlagAddress) {
		p.Address = f.Address
	}
	if f.changed(FlagNamespace) {
		p.Namespace = f.Namespace
	}
	if f.changed(FlagAPIKey) {
		p.APIKey = f.APIKey
	}
	if f.changed(FlagTLS) {
		tls().Disabled = !f.TLS
	}
	if f.changed(FlagTLSCertPath) {
		tls().ClientCertPath, tls().ClientCertData = f.TLSCertPath, nil
	}
	if f.changed(FlagTLSKeyPath) {
		tls().ClientKeyPath, tls().ClientKeyData = f.TLSKeyPath, nil
	}
	if f.changed(FlagTLSCAPath) {
		tls().ServerCACertPath, tls().ServerCACertData = f.TLSCAPath, nil
	}
	if f.changed(FlagTLSServerName) {
		tls().ServerName = f.TLSServerName
	}
	if f.changed(FlagTLSDisableHostVerification) {
		tls().DisableHostVerification = f.TLSDisableHostVerification
	}
}

// UsesTLS reports whether opts dial with TLS.
func UsesTLS(opts tclient.Options) bool {
	return opts.ConnectionOptions.TLS != nil && !opts.ConnectionOptions.TLSDisabled
}

// ConnectError is a failed dial. Its message is one line:
// "connect to Temporal at HOST:PORT: TLS: <what was refused>" when the TLS
// handshake failed, else "connect to Temporal at HOST:PORT: <cause>".
type ConnectError struct {
	Address string
	// TLS is what went wrong in the TLS handshake, with a hint at the
	// setting to look at; empty when the failure was not TLS.
	TLS string
	Err error
}

func (e *ConnectError) Error() string {
	if e.TLS != "" {
		return fmt.Sprintf("connect to Temporal at %s: TLS: %s", e.Address, e.TLS)
	}
	return fmt.Sprintf("connect to Temporal at %s: %v", e.Address, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Dial connects with opts (as Load made them, plus the caller's logger,
// identity and metrics handler). When the dial fails it probes the TLS
// handshake on its own, since gRPC reports a refused handshake only as
// text and often as a bare "broken pipe" (with TLS 1.3 the server checks
// the client certificate after the client has finished its handshake).
func Dial(ctx context.Context, opts tclient.Options) (tclient.Client, error) {
	c, err := tclient.DialContext(ctx, opts)
	if err != nil {
		return nil, &ConnectError{Address: opts.HostPort, TLS: diagnoseTLS(ctx, opts), Err: err}
	}
	return c, nil
}

// diagnoseTLS says what is wrong with the TLS handshake to opts.HostPort,
// or returns "" when TLS is not the problem.
func diagnoseTLS(ctx context.Context, opts tclient.Options) string {
	if !UsesTLS(opts) {
		// A plain client cannot reach a TLS server: say so if the server
		// answers a TLS handshake.
		err := probeTLS(ctx, opts.HostPort, &tls.Config{InsecureSkipVerify: true}) // only asks whether the server speaks TLS
		if err == nil || isRemoteAlert(err) {
			return "the server requires TLS; set --tls or TEMPORAL_TLS=true, or the certificate flags for mTLS"
		}
		return ""
	}
	err := probeTLS(ctx, opts.HostPort, opts.ConnectionOptions.TLS)
	if err == nil {
		return ""
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		notTLS    tls.RecordHeaderError
	)
	cause := strings.Join(strings.Fields(err.Error()), " ")
	hasCert := len(opts.ConnectionOptions.TLS.Certificates) > 0 || opts.ConnectionOptions.TLS.GetClientCertificate != nil
	switch {
	case errors.As(err, &unknownCA):
		return "the server's certificate is not signed by a trusted CA; set --tls-ca-path (TEMPORAL_TLS_SERVER_CA_CERT_PATH) to its CA (" + cause + ")"
	case errors.As(err, &hostname):
		return "the server's certificate is for another name; set --tls-server-name (TEMPORAL_TLS_SERVER_NAME) to a name it carries (" + cause + ")"
	case errors.As(err, &invalid):
		return "the server's certificate is not valid (" + cause + ")"
	case errors.As(err, &notTLS):
		return "the server does not speak TLS; drop the TLS settings or set --tls=false (" + cause + ")"
	case strings.Contains(cause, "remote error: tls: certificate required") && hasCert:
		// Go sends a client certificate only if it is issued by a CA the
		// server asks for, so a certificate of another CA is not sent.
		return "the server refused the client certificate: it is not issued by a CA the server trusts (" + cause + ")"
	case strings.Contains(cause, "remote error: tls: certificate required"):
		return "the server requires a client certificate; set --tls-cert-path and --tls-key-path (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH) (" + cause + ")"
	case isRemoteAlert(err):
		return "the server refused the client certificate (" + cause + ")"
	}
	return ""
}

// probeTLS makes one TLS handshake to hostPort as gRPC would (ALPN h2, the
// host as server name) and waits briefly for the server's first bytes, in
// which a TLS 1.3 server sends its refusal of the client certificate.
// It returns nil when the server took the handshake.
func probeTLS(ctx context.Context, hostPort string, cfg *tls.Config) error {
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(hostPort); err == nil {
			cfg.ServerName = host
		}
	}
	cfg.NextProtos = []string{"h2"}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", hostPort)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != nil && isRemoteAlert(err) {
		return err
	}
	return nil
}

// isRemoteAlert reports a TLS alert sent by the server (crypto/tls has no
// exported type for it).
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
