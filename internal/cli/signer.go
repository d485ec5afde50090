package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/signerd"
)

// The "signer" group is registered here rather than in root.go's literal so
// that this file is the whole of it.
// signerCommands returns the commands of the "signer" group.
func signerCommands() []*cobra.Command {
	cmd := &cobra.Command{
		Use:   "signer",
		Short: "Run the signing service that keeps the server's online keys off the server",
		Args:  checkArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSignerServeCommand())
	return []*cobra.Command{cmd}
}

const signerServeLong = `Run the signing service: it holds the online (timestamp and snapshot) keys
of metadata servers and signs with them over HTTPS, so that a server started
with "rampart serve --signer HOST:PORT" keeps no private key.

TLS is mutual and required: --tls-cert and --tls-key are the service's
certificate (it must name the HOST that servers dial), and only clients
with a certificate signed by a CA in --tls-client-ca are served. Any such
client may use every key: issue those certificates to metadata servers
only.

Keys live in DIR. By default they are Ed25519 keys in DIR/signer.db, each
encrypted (AES-256-GCM) under the secret in DIR/keys.secret, created on first
start; --key-secret puts the secret elsewhere (keep it out of the database's
backups). With --pkcs11-module and --token-label the keys are ECDSA P-256
keys generated on that PKCS#11 token, and DIR only indexes them; the user
PIN is read from RAMPART_PKCS11_PIN or --pkcs11-pin-file.

  rampart signer serve --addr 10.0.0.5:7899 --data /var/lib/rampart-signer \
      --tls-cert signer.pem --tls-key signer-key.pem --tls-client-ca servers-ca.pem
  RAMPART_PKCS11_PIN=... rampart signer serve --addr 10.0.0.5:7899 --data /var/lib/rampart-signer \
      --tls-cert signer.pem --tls-key signer-key.pem --tls-client-ca servers-ca.pem \
      --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --token-label rampart`

type signerServeOptions struct {
	addr, data, secretFile            string
	tlsCert, tlsKey, tlsClientCA      string
	pkcs11Module, tokenLabel, pinFile string
	logFormat, logLevel               string
}

func newSignerServeCommand() *cobra.Command {
	var o signerServeOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve online keys over HTTPS with mutual TLS",
		Long:  signerServeLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSignerServe(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:7899", "address to listen on, HOST:PORT")
	f.StringVar(&o.data, "data", "", "data directory (required)")
	f.StringVar(&o.secretFile, "key-secret", "", "file with the secret that encrypts the keys (default DIR/keys.secret, created if missing)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "the service's TLS certificate (PEM, required)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the service's TLS private key (PEM, required)")
	f.StringVar(&o.tlsClientCA, "tls-client-ca", "", "serve only clients with a certificate from the CAs in this file (PEM, required)")
	f.StringVar(&o.pkcs11Module, "pkcs11-module", "", "keep keys on a PKCS#11 token: absolute path of its library")
	f.StringVar(&o.tokenLabel, "token-label", "", "label of the PKCS#11 token")
	f.StringVar(&o.pinFile, "pkcs11-pin-file", "", "file holding the token's user PIN (default: RAMPART_PKCS11_PIN)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// signerBackend is a signer.Signer that holds resources.
type signerBackend interface {
	signer.Signer
	Close() error
}

func runSignerServe(ctx context.Context, stderr io.Writer, o signerServeOptions) error {
	switch {
	case o.data == "":
		return usageErrorf("--data is required")
	case o.tlsCert == "" || o.tlsKey == "" || o.tlsClientCA == "":
		return usageErrorf("--tls-cert, --tls-key and --tls-client-ca are required: the signer only speaks mutual TLS")
	case (o.pkcs11Module == "") != (o.tokenLabel == ""):
		return usageErrorf("--pkcs11-module and --token-label go together")
	case o.pkcs11Module != "" && o.secretFile != "":
		return usageErrorf("--key-secret is for keys in files, not on a PKCS#11 token")
	case o.pkcs11Module == "" && o.pinFile != "":
		return usageErrorf("--pkcs11-pin-file needs --pkcs11-module and --token-label")
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	tlsCfg, err := signerd.ServerTLS(o.tlsCert, o.tlsKey, o.tlsClientCA)
	if err != nil {
		return err
	}
	var backend signerBackend
	kind := "files"
	if o.pkcs11Module != "" {
		kind = "pkcs11"
		cfg := signerd.PKCS11Config{Module: o.pkcs11Module, TokenLabel: o.tokenLabel, Dir: o.data}
		if o.pinFile != "" {
			cfg.PIN = func(string) ([]byte, error) {
				b, err := os.ReadFile(o.pinFile)
				if err != nil {
					return nil, fmt.Errorf("--pkcs11-pin-file: %w", err)
				}
				return []byte(strings.TrimRight(string(b), "\r\n")), nil
			}
		}
		backend, err = signerd.OpenPKCS11(cfg)
	} else {
		backend, err = signerd.OpenFiles(o.data, o.secretFile)
	}
	if err != nil {
		return err
	}
	defer backend.Close()
	hs, err := signerd.NewServer(backend, tlsCfg, signerd.ServerOptions{Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	log.Info("signer listening", "addr", ln.Addr().String(), "keys", kind, "data", o.data)
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down")
		// Calls in progress may finish, for at most 10 seconds.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
		if err != nil {
			hs.Close()
		}
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// remoteSignerOptions are the flags of "rampart serve" for --signer.
type remoteSignerOptions struct {
	ca, cert, key string
	timeout       time.Duration
}

func (o *remoteSignerOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.ca, "signer-ca", "", "with --signer: CAs (PEM) that signed the signer's certificate")
	f.StringVar(&o.cert, "signer-cert", "", "with --signer: this server's client certificate (PEM)")
	f.StringVar(&o.key, "signer-key", "", "with --signer: the client certificate's private key (PEM)")
	durationVar(f, &o.timeout, "signer-timeout", signerd.DefaultTimeout, "with --signer: time limit of each call to the signer")
}

// check reports flags given without --signer, or --signer without them.
func (o *remoteSignerOptions) check(addr string) error {
	if addr == "" {
		if o.ca != "" || o.cert != "" || o.key != "" {
			return usageErrorf("--signer-ca, --signer-cert and --signer-key need --signer")
		}
		return nil
	}
	if o.ca == "" || o.cert == "" || o.key == "" {
		return usageErrorf("--signer needs --signer-ca, --signer-cert and --signer-key: the signer only speaks mutual TLS")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usageErrorf("--signer %q: want HOST:PORT", addr)
	}
	return nil
}

// dialRemoteSigner returns a client of the signer at addr.
func dialRemoteSigner(addr string, o remoteSignerOptions) (*signerd.Client, error) {
	tlsCfg, err := signerd.ClientTLS(o.ca, o.cert, o.key)
	if err != nil {
		return nil, err
	}
	return signerd.Dial(addr, tlsCfg, signerd.ClientOptions{Timeout: o.timeout})
}
