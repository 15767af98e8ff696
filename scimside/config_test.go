package scimside

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and returns the
// file names and a pool that trusts it.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dirbridge-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestConfigValidation(t *testing.T) {
	certFile, keyFile, _ := writeCert(t)
	bearer := AuthConfig{HeaderName: "Authorization", HeaderValue: "Bearer x"}
	cases := []struct {
		name string
		cfg  Config
		want string // "" means valid; otherwise a substring of the error
	}{
		{"defaults with auth", Config{Auth: bearer}, ""},
		{"no auth", Config{}, "no credentials"},
		{"anonymous", Config{Auth: AuthConfig{AllowAnonymous: true}}, ""},
		{"anonymous and credentials", Config{Auth: AuthConfig{AllowAnonymous: true, BasicUser: "u", BasicPassword: "p"}}, "cannot be combined"},
		{"basic without password", Config{Auth: AuthConfig{BasicUser: "u"}}, "both a user and a password"},
		{"basic user with colon", Config{Auth: AuthConfig{BasicUser: "u:x", BasicPassword: "p"}}, "':'"},
		{"header without value", Config{Auth: AuthConfig{HeaderName: "X-Key"}}, "header name and a value"},
		{"bad header name", Config{Auth: AuthConfig{HeaderName: "X Key", HeaderValue: "v"}}, "not a valid HTTP header name"},
		{"plain HTTP on all interfaces", Config{Auth: bearer, Listen: "0.0.0.0:8443"}, "plain HTTP"},
		{"plain HTTP on empty host", Config{Auth: bearer, Listen: ":8443"}, "plain HTTP"},
		{"plain HTTP on a name", Config{Auth: bearer, Listen: "scim.corp.example:8443"}, "plain HTTP"},
		{"plain HTTP allowed", Config{Auth: bearer, Listen: "0.0.0.0:8443", AllowPlainHTTP: true}, ""},
		{"loopback v4", Config{Auth: bearer, Listen: "127.0.0.1:0"}, ""},
		{"loopback v6", Config{Auth: bearer, Listen: "[::1]:0"}, ""},
		{"localhost", Config{Auth: bearer, Listen: "localhost:0"}, ""},
		{"bad listen", Config{Auth: bearer, Listen: "8443"}, "host:port"},
		{"TLS on all interfaces", Config{Auth: bearer, Listen: "0.0.0.0:8443", TLSCertFile: certFile, TLSKeyFile: keyFile}, ""},
		{"TLS cert only", Config{Auth: bearer, TLSCertFile: certFile}, "both a certificate file and a key file"},
		{"TLS unreadable", Config{Auth: bearer, TLSCertFile: "/nonexistent/c", TLSKeyFile: "/nonexistent/k"}, "tls:"},
		{"TLS key mismatch", Config{Auth: bearer, TLSCertFile: certFile, TLSKeyFile: certFile}, "tls:"},
		{"duplicate base", Config{Auth: bearer, V2BasePaths: []string{"/v2", "v2/"}}, "used twice"},
		{"reserved base", Config{Auth: bearer, V2BasePaths: []string{"/healthz"}}, "reserved"},
		{"several problems", Config{Listen: "0.0.0.0:1"}, "no credentials"},
	}
	for _, c := range cases {
		_, err := New(c.cfg, Services{Users: newFakeService(userType())}, nil)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	_, err := New(Config{Listen: "0.0.0.0:1"}, Services{Users: newFakeService(userType())}, nil)
	if err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("every problem is reported at once: %v", err)
	}
	if _, err := New(Config{Auth: bearer}, Services{}, nil); err == nil {
		t.Error("no Users service accepted")
	}
}

func TestServeTLSAndShutdown(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	srv, err := New(Config{Listen: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile,
		Auth: AuthConfig{HeaderName: "Authorization", HeaderValue: "Bearer t"}},
		Services{Users: newFakeService(userType())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	var addr net.Addr
	for deadline := time.Now().Add(5 * time.Second); addr == nil && time.Now().Before(deadline); {
		addr = srv.Addr()
		time.Sleep(5 * time.Millisecond)
	}
	if addr == nil {
		t.Fatal("server did not start")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("GET", "https://"+addr.String()+"/v2/ServiceProviderConfig", nil)
	req.Header.Set("Authorization", "Bearer t")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("X-Request-Id") == "" {
		t.Errorf("status %d", res.StatusCode)
	}
	// Plain HTTP to the TLS port does not get an answer from a handler.
	if res, err := http.Get("http://" + addr.String() + "/healthz"); err == nil {
		if res.StatusCode == 200 {
			t.Error("plain HTTP served on the TLS port")
		}
		res.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
}

func TestServeRefusesPlainNonLoopback(t *testing.T) {
	srv, err := New(Config{Auth: AuthConfig{AllowAnonymous: true}}, Services{Users: newFakeService(userType())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip(err)
	}
	if err := srv.Serve(ln); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("Serve: %v", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown before serving: %v", err)
	}
}
