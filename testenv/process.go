//go:build unix

package testenv

import (
	"os/exec"
	"syscall"
	"time"
)

// terminate ends a directory server this package started (and whose Wait
// closes exited), by its PID, never by name: SIGTERM, then after grace
// SIGKILL, to its whole process group when group is set (Samba's workers).
// It returns once the process has exited.
func terminate(cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration, group bool) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(grace):
	}
	if group {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	} else {
		_ = cmd.Process.Kill()
	}
	<-exited
}
