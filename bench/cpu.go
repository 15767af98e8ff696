package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// cpuUse is the processor time each process spent on one workload: where a
// ratio comes from (a serial walk waits on one process at a time; a write
// at concurrency 32 is bounded by the sum over all three).
type cpuUse struct {
	GatewayMs float64 `json:"gateway_ms"`
	SlapdMs   float64 `json:"slapd_ms"`
	ClientMs  float64 `json:"client_ms"` // this program: the SCIM client or the raw go-ldap client
}

// perOp divides the use by n operations (or pages).
func (u cpuUse) perOp(n int) cpuUse {
	if n <= 0 {
		return u
	}
	f := float64(n)
	return cpuUse{GatewayMs: u.GatewayMs / f, SlapdMs: u.SlapdMs / f, ClientMs: u.ClientMs / f}
}

func (u cpuUse) String() string {
	return fmt.Sprintf("gateway %.3f, slapd %.3f, client %.3f ms", u.GatewayMs, u.SlapdMs, u.ClientMs)
}

// cpuMeter reads the processor time of slapd, the current gateway and this
// process. A nil meter measures nothing.
type cpuMeter struct {
	slapd   int
	gateway func() int // 0: no gateway running
}

type cpuSnap struct{ gateway, slapd, self float64 }

func (m *cpuMeter) snap() cpuSnap {
	var s cpuSnap
	if m == nil {
		return s
	}
	s.slapd = procCPUms(m.slapd)
	if m.gateway != nil {
		if pid := m.gateway(); pid > 0 {
			s.gateway = procCPUms(pid)
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
	}
	return s
}

// since is the use between before and now.
func (m *cpuMeter) since(before cpuSnap) *cpuUse {
	if m == nil {
		return nil
	}
	now := m.snap()
	return &cpuUse{GatewayMs: now.gateway - before.gateway, SlapdMs: now.slapd - before.slapd, ClientMs: now.self - before.self}
}

// procCPUms is user plus system time of pid from /proc, in milliseconds
// (clock ticks of 10 ms: enough for workloads of seconds).
func procCPUms(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseFloat(f[11], 64) // field 14 of the whole line
	st, err2 := strconv.ParseFloat(f[12], 64) // field 15
	if err1 != nil || err2 != nil {
		return 0
	}
	return (ut + st) * 10 // USER_HZ is 100 on Linux
}

// perPage is u per page of a walk, or nil.
func perPage(u *cpuUse, pages int) *cpuUse {
	if u == nil {
		return nil
	}
	p := u.perOp(pages)
	return &p
}
