package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestOwnsSambaDirSeesARenamedProcess: samba rewrites its command line to
// "samba: root process", so an orphaned DC from a killed test run must be
// recognised by the state folder it holds open, or it keeps ports 389/636
// without the lock and every later AD test fails with "port in use".
func TestOwnsSambaDirSeesARenamedProcess(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for exec -a")
	}
	dir := t.TempDir()
	other := t.TempDir()
	file := filepath.Join(dir, "sam.ldb")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(argv0 string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command("bash", "-c", `exec 3<"$1"; exec -a "$2" sleep 60`, "x", file, argv0)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	wait := func(pid int, want bool, d string) {
		t.Helper()
		// bash needs a moment to exec into sleep with the new name.
		for i := 0; i < 50; i++ {
			if ownsSambaDir(pid, d) == want {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("ownsSambaDir(%d, %s) stayed %v", pid, d, !want)
	}
	dc := start("samba: root process")
	wait(dc.Process.Pid, true, dir)
	if ownsSambaDir(dc.Process.Pid, other) {
		t.Fatal("a samba holding another folder was taken for ours")
	}
	notSamba := start("sleep")
	time.Sleep(200 * time.Millisecond)
	if ownsSambaDir(notSamba.Process.Pid, dir) {
		t.Fatal("a process that is not samba was taken for our DC")
	}
}
