package scimside

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"testing"
	"time"
)

// A renewed certificate is used by new connections after ReloadTLS, while
// a keep-alive connection made before goes on; a broken pair is refused and
// the certificate in use stays.
func TestReloadTLS(t *testing.T) {
	certFile, keyFile, oldPool := writeCert(t)
	srv, err := New(Config{Listen: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile,
		Auth: AuthConfig{HeaderName: "Authorization", HeaderValue: "Bearer t"}},
		Services{Users: newFakeService(userType())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.ListenAndServe(ctx) }()
	var base string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if a := srv.Addr(); a != nil {
			base = "https://" + a.String()
			break
		}
	}
	if base == "" {
		t.Fatal("server did not start")
	}
	get := func(c *http.Client) (reused bool, err error) {
		req, _ := http.NewRequest("GET", base+"/healthz", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		res, err := c.Do(req)
		if err != nil {
			return false, err
		}
		_, _ = io.Copy(io.Discard, res.Body) // read to the end, so the connection is kept
		res.Body.Close()
		return reused, nil
	}
	client := func(pool *x509.CertPool) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	old := client(oldPool)
	if _, err := get(old); err != nil {
		t.Fatal(err)
	}
	newCert, newKey, newPool := writeCert(t)
	for src, dst := range map[string]string{newCert: certFile, newKey: keyFile} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if _, err := get(client(newPool)); err != nil {
		t.Errorf("a new connection does not get the renewed certificate: %v", err)
	}
	if _, err := get(client(oldPool)); err == nil {
		t.Error("a new connection still gets the old certificate")
	}
	if reused, err := get(old); err != nil || !reused {
		t.Errorf("the keep-alive connection made before the reload: reused=%v err=%v", reused, err)
	}
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ReloadTLS(); err == nil {
		t.Error("a broken key was accepted")
	}
	if _, err := get(client(newPool)); err != nil {
		t.Errorf("after a failed reload the previous certificate is gone: %v", err)
	}
}
