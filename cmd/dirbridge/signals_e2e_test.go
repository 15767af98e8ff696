//go:build unix

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 named cn.
func writeTestCert(t *testing.T, certFile, keyFile, cn string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}

// SIGHUP to the process makes new connections get the renewed certificate,
// while a keep-alive connection opened before goes on working.
func TestSIGHUPReloadsTLSCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	oldPool := writeTestCert(t, certFile, keyFile, "old")
	s := startWithOpenLDAP(t, "DIRBRIDGE_SCIM_TLS_CERT_FILE="+certFile, "DIRBRIDGE_SCIM_TLS_KEY_FILE="+keyFile)
	base := strings.Replace(s.gw.base, "http://", "https://", 1)
	get := func(c *http.Client) (reused bool, cn string, err error) {
		req, _ := http.NewRequest("GET", base+"/healthz", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		res, err := c.Do(req)
		if err != nil {
			return false, "", err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return reused, res.TLS.PeerCertificates[0].Subject.CommonName, nil
	}
	client := func(pool *x509.CertPool) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	old := client(oldPool)
	if _, cn, err := get(old); err != nil || cn != "old" {
		t.Fatalf("before SIGHUP: cn=%q err=%v", cn, err)
	}
	newPool := writeTestCert(t, certFile, keyFile, "new")
	if err := s.gw.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && !strings.Contains(s.gw.output.String(), "TLS certificate reloaded"); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	if !strings.Contains(s.gw.output.String(), "TLS certificate reloaded") {
		t.Fatalf("no reload logged:\n%s", s.gw.output)
	}
	if _, cn, err := get(client(newPool)); err != nil || cn != "new" {
		t.Errorf("new connection after SIGHUP: cn=%q err=%v", cn, err)
	}
	if reused, cn, err := get(old); err != nil || !reused || cn != "old" {
		t.Errorf("keep-alive connection from before SIGHUP: reused=%v cn=%q err=%v", reused, cn, err)
	}
	select {
	case <-s.gw.done:
		t.Fatalf("the process ended on SIGHUP:\n%s", s.gw.output)
	default:
	}
}
