//go:build unix

package ldapside

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// wireTransport: the pooled connections use wireConn where the idle check
// below exists.
const wireTransport = true

// idleState looks at an idle connection's socket without blocking (a
// non-blocking peek): whether the server closed it, sent something on it,
// or neither. go-ldap's reader goroutine noticed a closed connection while
// it sat in the pool; without this check a directory restart would fail
// one request on every pooled connection instead of none.
func idleState(nc net.Conn) idle {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return idleQuiet
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return idleClosed
	}
	state := idleQuiet
	var buf [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			state = idlePending
		case err == nil:
			state = idleClosed // n == 0: the server closed it
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
		default:
			state = idleClosed // reset, or another failure
		}
		return true // never wait
	}); err != nil {
		return idleClosed
	}
	return state
}
