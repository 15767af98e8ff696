//go:build !unix

package ldapside

import "net"

// wireTransport: on Windows the pooled connections stay on go-ldap, whose
// reader goroutine notices a connection the server closed while it sat in
// the pool. wireConn needs a non-blocking peek for that (idleState), which
// Go's Windows sockets do not offer.
const wireTransport = false

func idleState(net.Conn) idle { return idleQuiet }
