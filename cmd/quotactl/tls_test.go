package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLS calls a quotad that serves TLS and requires a client
// certificate (its -tls-cert, -tls-key and -tls-client-ca), with the
// certificate checked against --ca-file or not checked at all, and
// checks what fails without the right flags.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(cert)
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("read %s: %v", cert, err)
	}
	q := startQuotad(t, quotadOptions{TLS: &tls.Config{
		MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	}})
	env := map[string]string{envAddr: q.Addr}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string // in stderr
	}{
		{"ca-file and client certificate", []string{"--ca-file", cert, "--cert", cert, "--key", key}, exitOK, ""},
		{"server name", []string{"--ca-file", cert, "--cert", cert, "--key", key, "--server-name", "localhost"}, exitOK, ""},
		{"insecure-skip-verify", []string{"--insecure-skip-verify", "--cert", cert, "--key", key}, exitOK, ""},
		{"system CAs", []string{"--tls", "--cert", cert, "--key", key}, exitFailure, "quotactl: UNAVAILABLE: "},
		{"wrong server name", []string{"--ca-file", cert, "--cert", cert, "--key", key, "--server-name", "quotad.example"}, exitFailure, "quotactl: UNAVAILABLE: "},
		{"no client certificate", []string{"--ca-file", cert}, exitFailure, "quotactl: UNAVAILABLE: "},
		{"plaintext", nil, exitFailure, "quotactl: UNAVAILABLE: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, env, "", append([]string{"pricing", "versions"}, tc.args...)...)
			if r.Code != tc.code || !strings.HasPrefix(r.Stderr, tc.msg) || tc.msg == "" && r.Stderr != "" {
				t.Errorf("pricing versions %s = %+v, want exit %d and stderr starting %q", strings.Join(tc.args, " "), r, tc.code, tc.msg)
			}
			if tc.code == exitOK && !strings.HasPrefix(r.Stdout, "VERSION") {
				t.Errorf("stdout = %q, want the table of versions", r.Stdout)
			}
		})
	}
}

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, usable by a server and a client and as its own CA, and its
// key, to dir; it returns the files' paths.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "quotad test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}
