// Package packaging_test checks the release archives and `make install`
// the way an operator meets them: built by the real script and Makefile.
package packaging_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestDistArchive builds one target with packaging/dist.sh (what `make
// dist` runs for each platform) and checks the archive, the binary's
// version and SHA256SUMS.
func TestDistArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out := t.TempDir()
	cmd := exec.Command("./dist.sh", out, "v9.8.7-test", "c0ffee", "2026-12-02T00:00:00Z", "linux/amd64")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dist.sh: %v\n%s", err, b)
	}
	name := "dirbridge-v9.8.7-test-linux-amd64"
	archive := filepath.Join(out, name+".tar.gz")
	raw, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(sum[:]) + "  " + name + ".tar.gz\n"; string(sums) != want {
		t.Fatalf("SHA256SUMS = %q, want %q", sums, want)
	}

	unpacked := t.TempDir()
	files := untar(t, archive, unpacked)
	for _, want := range []string{"dirbridge", "LICENSE", "INSTALL", "conf/examples/openldap.toml", "conf/examples/ad.toml", "systemd/dirbridge.service", "systemd/dirbridge.sysusers"} {
		if !files[name+"/"+want] {
			t.Errorf("archive lacks %s; has %v", want, keys(files))
		}
	}
	for f := range files {
		if strings.HasSuffix(f, ".go") {
			t.Errorf("archive ships source file %s", f)
		}
	}
	ver, err := exec.Command(filepath.Join(unpacked, name, "dirbridge"), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("dirbridge version: %v\n%s", err, ver)
	}
	for _, want := range []string{"dirbridge v9.8.7-test\n", "commit: c0ffee\n", "built: 2026-12-02T00:00:00Z\n", "go: go"} {
		if !strings.Contains(string(ver), want) {
			t.Errorf("version output %q lacks %q", ver, want)
		}
	}
}

// TestMakeInstall stages `make install` into a temp dir, checks that an
// existing config example is kept, and verifies the installed unit with
// systemd-analyze where it exists.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root := t.TempDir()
	kept := filepath.Join(root, "etc/dirbridge/examples/openldap.toml")
	if err := os.MkdirAll(filepath.Dir(kept), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kept, []byte("# the operator's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// PREFIX inside root (no DESTDIR) so that the unit's ExecStart names a
	// binary that exists and systemd-analyze can check it.
	cmd := exec.Command("make", "-C", "..", "install", "PREFIX="+root+"/usr",
		"SYSTEMDDIR="+root+"/lib/systemd/system", "SYSUSERSDIR="+root+"/usr/lib/sysusers.d", "SYSCONFDIR="+root+"/etc")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, b)
	}
	for _, f := range []string{"usr/bin/dirbridge", "lib/systemd/system/dirbridge.service", "usr/lib/sysusers.d/dirbridge.conf", "etc/dirbridge/examples/ad.toml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("make install: %v", err)
		}
	}
	if b, _ := os.ReadFile(kept); string(b) != "# the operator's\n" {
		t.Errorf("make install overwrote an existing config: %q", b)
	}
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/dirbridge.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=" + root + "/usr/bin/dirbridge serve", "User=dirbridge", "ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=on-failure", "StateDirectory=dirbridge", "TimeoutStopSec=20s"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: unit not verified")
		return
	}
	b, err := exec.Command(analyze, "verify", filepath.Join(root, "lib/systemd/system/dirbridge.service")).CombinedOutput()
	// Without a running systemd, verify also reports the host's missing
	// targets; only lines about our unit's own settings count.
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "dirbridge.service:") && !strings.Contains(line, "target not found") && !strings.Contains(line, "Failed to create dirbridge.service/start") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil {
		t.Logf("systemd-analyze verify exited %v:\n%s", err, b)
	}
}

func untar(t *testing.T, archive, dst string) map[string]bool {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		files[h.Name] = true
		p := filepath.Join(dst, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, tr); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
}

func keys(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
