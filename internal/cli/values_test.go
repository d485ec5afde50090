package cli

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1048576", 1 << 20}, {"64MiB", 64 << 20}, {"64mib", 64 << 20}, {"512KB", 512000},
		{"1GiB", 1 << 30}, {"2 MB", 2e6}, {"100B", 100}, {"1TiB", 1 << 40},
	}
	for _, tt := range tests {
		if got, err := parseByteSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "MiB", "1.5MiB", "12XB", "9999999999TiB"} {
		if _, err := parseByteSize(bad); err == nil {
			t.Errorf("parseByteSize(%q) accepted", bad)
		}
	}
	for n, want := range map[int64]string{1 << 20: "1MiB", 64 << 20: "64MiB", 1536: "1536", 1024: "1KiB", 1 << 30: "1GiB"} {
		if got := formatByteSize(n); got != want {
			t.Errorf("formatByteSize(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{7 * 24 * time.Hour: "1w", 24 * time.Hour: "1d", 10 * time.Second: "10s", 36 * time.Hour: "36h", 365 * 24 * time.Hour: "1y"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestValueFlags checks that every command reads durations, sizes and
// bounded numbers the same way, and refuses bad ones naming the flag.
func TestValueFlags(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	tmp := t.TempDir()
	dir := servedClient(t)
	// Accepted forms act: a 1KB bound is 1000 bytes.
	code, _, errOut := runCLI(t, "client", "refresh", "--dir", dir, "--max-root-bytes", "1KB", "--timeout", "1w", "--rate-window", "1d")
	if code != 1 || !strings.Contains(errOut, "exceeds the bound of 1000") {
		t.Errorf("--max-root-bytes 1KB: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "client", "refresh", "--dir", dir, "--max-timestamp-bytes", "64MiB", "--min-rate", "1KiB"); code != 0 {
		t.Errorf("--max-timestamp-bytes 64MiB: %d %q", code, errOut)
	}
	refused := []struct {
		args []string
		want string
	}{
		{[]string{"repo", "init", filepath.Join(tmp, "a"), "--bins", "0"}, `"--bins"`},
		{[]string{"repo", "init", filepath.Join(tmp, "a"), "--bins", "17"}, `"--bins"`},
		{[]string{"repo", "init", filepath.Join(tmp, "a"), "--expires", "tragets=30d"}, `--expires tragets=30d: unknown role "tragets"`},
		{[]string{"repo", "init", filepath.Join(tmp, "a"), "--threshold", "foo=2"}, `--threshold foo=2: unknown role "foo"`},
		{[]string{"repo", "init", filepath.Join(tmp, "a"), "--expires", "targets=0d"}, "--expires targets"},
		{[]string{"repo", "delegate", filepath.Join(tmp, "a"), "r", "--threshold", "0"}, `"--threshold"`},
		{[]string{"client", "refresh", "--dir", dir, "--max-root-rotations", "0"}, `"--max-root-rotations"`},
		{[]string{"client", "refresh", "--dir", dir, "--max-root-bytes", "0"}, `"--max-root-bytes"`},
		{[]string{"client", "refresh", "--dir", dir, "--timeout", "soon"}, `"--timeout"`},
		{[]string{"serve", "--data", filepath.Join(tmp, "d"), "--snapshot-expiry", "0d"}, `"--snapshot-expiry"`},
		{[]string{"serve", "--data", filepath.Join(tmp, "d"), "--max-target-bytes", "lots"}, `"--max-target-bytes"`},
	}
	for _, tt := range refused {
		code, _, errOut := runCLI(t, tt.args...)
		if code != 1 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "Run 'rampart ") {
			t.Errorf("%v: exit %d, %q; want a usage error naming %s", tt.args, code, errOut, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "a")); err == nil {
		t.Error("a refused init left its directory")
	}

	// serve takes durations and sizes in the same forms, and help shows
	// its defaults in them.
	_, help, _ := runCLI(t, "serve", "--help")
	for _, want := range []string{"(default 1w)", "(default 1d)", "(default 16MiB)", "(default 1GiB)"} {
		if !strings.Contains(help, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
	addr := freeAddr(t)
	log, _ := serveUntilStopped(t, "--addr", addr, "--data", filepath.Join(tmp, "d"), "--snapshot-expiry", "2w", "--timestamp-expiry", "1d", "--max-metadata-bytes", "32MiB")
	waitFor(t, http.DefaultClient, "http://"+addr+"/healthz", log).Body.Close()
}

// TestServeChecksBeforeListening checks that serve finds a bad TLS file
// and a port in use before it writes the admin token or logs "listening".
func TestServeChecksBeforeListening(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	os.WriteFile(filepath.Join(tmp, "cert.pem"), []byte("not a certificate"), 0o600)
	code, _, errOut := runCLI(t, "serve", "--data", data, "--addr", freeAddr(t), "--tls-cert", filepath.Join(tmp, "cert.pem"), "--tls-key", filepath.Join(tmp, "cert.pem"))
	if code != 1 || !strings.Contains(errOut, "--tls-cert") || strings.Contains(errOut, "listening") {
		t.Errorf("unreadable certificate: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(data, "admin.token")); err == nil {
		t.Error("an admin token was written for a server that never started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errOut = runCLI(t, "serve", "--data", data, "--addr", ln.Addr().String())
	if code != 1 || !strings.Contains(errOut, "--addr") || !strings.Contains(errOut, "address already in use") || strings.Contains(errOut, "listening") {
		t.Errorf("port in use: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(data, "admin.token")); err == nil {
		t.Error("an admin token was written for a server that never started")
	}
}

// TestMessages checks the messages of common mistakes: usage errors end
// with the help line, missing arguments are named, server URLs without a
// scheme get a hint, and no internal package name shows.
func TestMessages(t *testing.T) {
	tests := []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"repo", "init"}, "rampart: missing DIR\n", true},
		{[]string{"repo", "expiry", "x"}, "rampart: missing ROLE and DURATION\n", true},
		{[]string{"repo", "sign", "x"}, "rampart: missing ROLE\n", true},
		{[]string{"client", "get", "--dir", "x", "-o", "y"}, "rampart: missing TARGETPATH\n", true},
		{[]string{"key", "change-passphrase"}, "rampart: missing NAME.key\n", true},
		{[]string{"repo", "init", "x", "y"}, "accepts 1 arg(s), received 2", true},
		{[]string{"token", "list", "--server", "127.0.0.1:4443", "--token", "rpt_x"}, `did you mean http://127.0.0.1:4443 ?`, true},
		{[]string{"repo", "init", "x", "--server", "localhost:4443", "--gun", "a/b", "--token", "rpt_x"}, `did you mean http://localhost:4443 ?`, true},
		{[]string{"key", "generate", "--type", "foo", "-o", "k"}, "cannot generate foo keys", true},
		{[]string{"nope"}, `unknown command "nope"`, true},
		{[]string{"client", "init", "--dir", "x"}, `required flag(s) "root" not set`, true},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(t, tt.args...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q; want %q", tt.args, code, errOut, tt.want)
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if last := lines[len(lines)-1]; tt.usage != (strings.HasPrefix(last, "Run 'rampart") && strings.HasSuffix(last, " --help' for usage.")) {
			t.Errorf("%v: last line %q", tt.args, last)
		}
		for _, internal := range internalPrefixes {
			if strings.Contains(errOut, internal) {
				t.Errorf("%v: message names %q: %q", tt.args, internal, errOut)
			}
		}
	}
}

// TestServerMessages checks what a user is told about tokens and about a
// GUN that already exists.
func TestServerMessages(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	addr := freeAddr(t)
	log, _ := serveUntilStopped(t, "--addr", addr, "--data", data)
	base := "http://" + addr
	waitFor(t, http.DefaultClient, base+"/healthz", log).Body.Close()
	adminFile := filepath.Join(data, "admin.token")

	unknown := "rpt_" + strings.Repeat("A", 43)
	code, _, errOut := runCLI(t, "token", "list", "--server", base, "--token", unknown)
	if code != 1 || !strings.Contains(errOut, "unknown or revoked token") {
		t.Errorf("unknown token: %d %q", code, errOut)
	}
	for _, internal := range internalPrefixes {
		if strings.Contains(errOut, internal) {
			t.Errorf("message names %q: %q", internal, errOut)
		}
	}

	const gun = "example.com/app"
	if code, _, errOut := runCLI(t, "repo", "init", filepath.Join(tmp, "first"), "--server", base, "--gun", gun, "--token-file", adminFile); code != 0 {
		t.Fatalf("first init: %s", errOut)
	}
	if code, _, errOut := runCLI(t, "repo", "publish", filepath.Join(tmp, "first"), "--token-file", adminFile); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	second := filepath.Join(tmp, "second")
	code, _, errOut = runCLI(t, "repo", "init", second, "--server", base, "--gun", gun, "--token-file", adminFile)
	if code != 1 || !strings.Contains(errOut, "already exists on the server") || !strings.Contains(errOut, "rampart repo clone "+second+" --server "+base+" --gun "+gun) {
		t.Errorf("init of an existing GUN: %d %q", code, errOut)
	}
	if _, err := os.Stat(second); err == nil {
		t.Error("the refused init left its directory")
	}
}

// TestHelpTexts checks help that users read before anything else.
func TestHelpTexts(t *testing.T) {
	_, help, _ := runCLI(t, "key", "generate", "--help")
	for _, typ := range []string{"ed25519", "ecdsa", "ecdsa-p384", "ecdsa-p521", "rsa"} {
		if !strings.Contains(help, "--type ed25519|ecdsa|ecdsa-p384|ecdsa-p521|rsa") || !strings.Contains(help, typ) {
			t.Errorf("key generate --help does not list %s:\n%s", typ, help)
		}
	}
	_, help, _ = runCLI(t, "key", "import-pkcs11", "--help")
	if !strings.Contains(help, "CKA_ID of the existing key to import") || strings.Contains(help, "random for a new key") {
		t.Errorf("import-pkcs11 --key-id help:\n%s", help)
	}
	_, help, _ = runCLI(t, "--help")
	for _, want := range []string{
		"token       Create, list and revoke the server's access tokens (pull, push, admin)",
		"signer      Run the signing service that keeps the server's online keys off the server",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("rampart --help lacks %q:\n%s", want, help)
		}
	}
}

// TestPlurals checks that counts of one read as one: "1 target", "1 key".
func TestPlurals(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "r")
	if code, _, errOut := runCLI(t, "repo", "init", dir); code != 0 {
		t.Fatal(errOut)
	}
	src := filepath.Join(tmp, "f.txt")
	os.WriteFile(src, []byte("x"), 0o644)
	if _, out, _ := runCLI(t, "repo", "add", dir, src); !strings.Contains(out, "added f.txt (1 byte)\n1 target added to role targets") {
		t.Errorf("repo add: %q", out)
	}
	if code, _, errOut := runCLI(t, "key", "generate", "-o", filepath.Join(tmp, "d")); code != 0 {
		t.Fatal(errOut)
	}
	if _, out, errOut := runCLI(t, "repo", "delegate", dir, "docs", "--key", filepath.Join(tmp, "d.pub"), "--paths", "docs/*"); !strings.Contains(out, "(threshold 1 of 1 key)") {
		t.Errorf("repo delegate: %q %q", out, errOut)
	}
	if _, out, errOut := runCLI(t, "repo", "remove", dir, "f.txt"); !strings.Contains(out, "1 target removed") {
		t.Errorf("repo remove: %q %q", out, errOut)
	}
}

// TestStringsValue checks the repeatable string flags: each use of an
// array flag adds its value whole, each use of a slice flag adds its
// comma-separated values (read as CSV, quotes and all), the first use
// replaces the default, and help shows no default.
func TestStringsValue(t *testing.T) {
	for _, c := range []struct {
		split bool
		args  []string
		want  []string
	}{
		{false, []string{"--x", "a,b", "--x", "c"}, []string{"a,b", "c"}},
		{true, []string{"--x", "a,b", "--x", "c"}, []string{"a", "b", "c"}},
		{true, []string{"--x", `a,"b,c"`}, []string{"a", "b,c"}},
		{false, nil, nil},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		got := []string{"stale"}
		stringsVar(fs, &got, "x", "", c.split, "values")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("split %v, %q: got %q, want %q", c.split, c.args, got, c.want)
		}
		if u := fs.FlagUsages(); strings.Contains(u, "default") {
			t.Errorf("help shows a default: %s", u)
		}
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var got []string
	stringsVar(fs, &got, "x", "", true, "")
	if err := fs.Parse([]string{"--x", `"a`}); err == nil {
		t.Errorf("an unterminated quote was taken: %q", got)
	}
}
