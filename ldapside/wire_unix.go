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

// peerGone reports whether the server closed an idle connection, or sent
// on it (a notice of disconnection, a TLS alert: nothing is due on an idle
// connection), without blocking: a non-blocking peek at its socket. go-ldap's
// reader goroutine noticed a closed connection while it sat in the pool;
// without this check a directory restart would fail one request on every
// pooled connection instead of none.
func peerGone(nc net.Conn) bool {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	gone := false
	var buf [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			gone = true // data nobody asked for
		case err == nil:
			gone = true // n == 0: the server closed it
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
		default:
			gone = true // reset, or another failure
		}
		return true // never wait
	}); err != nil {
		return true
	}
	return gone
}
