// Package ocitest provides what tests of OCI signatures need: a certificate
// authority made on the spot (root, intermediate, leaves) and a real
// distribution registry (Debian's docker-registry) started on loopback.
package ocitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// CA is a test certificate authority: a root and an intermediate.
type CA struct {
	Root, Intermediate *x509.Certificate
	rootKey, interKey  crypto.Signer
}

// NewCA makes a root valid for ten years and an intermediate under it.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	ca := &CA{rootKey: newKey(t), interKey: newKey(t)}
	now := time.Now()
	ca.Root = issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " root"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, ca.rootKey.Public(), ca.rootKey)
	ca.Intermediate = issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " intermediate"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, ca.Root, ca.interKey.Public(), ca.rootKey)
	return ca
}

// Leaf describes a signer's certificate.
type Leaf struct {
	Key       crypto.Signer // the signer's key; a new ECDSA P-256 key when nil
	Hosts     []string      // DNS names or IP addresses
	NotBefore time.Time     // default an hour ago
	NotAfter  time.Time     // default a year from now
	KeyUsage  x509.KeyUsage // default digital signature
}

// Issue issues a leaf under the intermediate and returns its key and its
// chain, leaf first.
func (ca *CA) Issue(t testing.TB, l Leaf) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	key := l.Key
	if key == nil {
		key = newKey(t)
	}
	cert := issue(t, leafTemplate(l), ca.Intermediate, key.Public(), ca.interKey)
	return key, []*x509.Certificate{cert, ca.Intermediate}
}

// SelfSigned makes a self-signed leaf, as the nv2 examples use.
func SelfSigned(t testing.TB, l Leaf) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key := l.Key
	if key == nil {
		key = newKey(t)
	}
	return key, issue(t, leafTemplate(l), nil, key.Public(), key)
}

// Pool returns a pool of the CA's root.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root)
	return p
}

func leafTemplate(l Leaf) *x509.Certificate {
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "signer"},
		NotBefore: l.NotBefore,
		NotAfter:  l.NotAfter,
		KeyUsage:  l.KeyUsage,
	}
	if len(l.Hosts) > 0 {
		tmpl.Subject.CommonName = l.Hosts[0]
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(365 * 24 * time.Hour)
	}
	if tmpl.KeyUsage == 0 {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	for _, h := range l.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}

var serial int64

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	serial++
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano() + serial)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// WriteCerts writes certificates as PEM to path.
func WriteCerts(t testing.TB, path string, certs ...*x509.Certificate) {
	t.Helper()
	var out []byte
	for _, c := range certs {
		out = append(out, signature.CertPEM(c)...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteKey writes key unencrypted as PKCS #8 PEM to path.
func WriteKey(t testing.TB, path string, key crypto.Signer) {
	t.Helper()
	pemBytes, err := keys.MarshalPrivatePKCS8PEM(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
}

// NewCAFile writes the root of a new, unrelated CA to a file and returns
// its path: a trust anchor that trusts nobody the test signs with.
func NewCAFile(t testing.TB) string {
	t.Helper()
	path := t.TempDir() + "/other-root.pem"
	WriteCerts(t, path, NewCA(t, "unrelated").Root)
	return path
}
