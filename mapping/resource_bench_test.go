//go:build !windows

package mapping

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// BenchmarkResourceImportUser is mapping's part of a full import, per
// entry: the shipped users table reading a user shaped as make bench seeds
// them (bench/seed.go), with the attribute names as OpenLDAP returns them.
func BenchmarkResourceImportUser(b *testing.B) {
	tb := loadExample(b)
	e := &bridge.Entry{ID: "0b6c3d3e-0000-4000-8000-000000000001", DN: "uid=u00042,ou=people,dc=example,dc=com",
		Attrs: map[string][]string{
			"objectClass": {"top", "person", "organizationalPerson", "inetOrgPerson"},
			"uid":         {"u00042"}, "cn": {"Given42 Family42"}, "sn": {"Family42"}, "givenName": {"Given42"},
			"mail": {"u00042@example.com"},
		},
		Created: time.Unix(1700000000, 0), Modified: time.Unix(1700000000, 0), Version: "20261202000000.000000Z#000000#000#000000"}
	ctx := context.Background()
	refs := newRefs()
	b.ReportAllocs()
	cpu, n := cpuTime(b), 0
	for b.Loop() {
		if _, err := tb.Resource(ctx, e, refs); err != nil {
			b.Fatal(err)
		}
		n++
	}
	// Processor time, which the machine's other load moves less than ns/op.
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(n), "cpu-ns/op")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
