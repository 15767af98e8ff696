package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// FaultProxy is a TCP proxy between an LDAP client (the gateway) and a
// directory that understands just enough LDAP to count messages: it forwards
// every byte, reads the BER framing of each LDAPMessage in both directions,
// counts requests by operation and final responses, and can cut the
// directory away right after the Nth response of a request, which is how a
// directory that goes away between two LDAP steps of one SCIM request is
// produced on demand. Plain ldap:// only (a TLS stream cannot be framed
// from outside).
type FaultProxy struct {
	upstream string
	ln       net.Listener

	mu        sync.Mutex
	conns     map[net.Conn]bool
	requests  map[string]int // by operation name: "modify", "add", "extended", ...
	responses int            // final responses forwarded since the last Arm
	cutAt     int            // cut after this many responses (0: not armed)
	drop      bool           // cut instead of forwarding response cutAt (ArmDrop)
	outage    time.Duration
	downUntil time.Time
	cuts      int
	closed    bool
	wg        sync.WaitGroup
}

// StartFaultProxy listens on a free loopback port and forwards to upstream
// ("127.0.0.1:389"); it is closed when the test ends.
func StartFaultProxy(tb testing.TB, upstream string) (*FaultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{upstream: upstream, ln: ln, conns: map[net.Conn]bool{}, requests: map[string]int{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p, nil
}

// URL is the ldap:// URL clients use instead of the directory's.
func (p *FaultProxy) URL() string { return "ldap://" + p.ln.Addr().String() }

// Arm resets the counters and cuts the directory away for outage right
// after the nth final response from now is forwarded: every open
// connection is closed and new ones are refused until the outage ends.
// n = 0 disarms.
func (p *FaultProxy) Arm(n int, outage time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.responses, p.cutAt, p.outage, p.drop = 0, n, outage, false
	p.requests = map[string]int{}
}

// ArmDrop is Arm, but the nth final response is not forwarded: the
// directory has done the operation and the client never hears of it,
// which is how a one-operation request is cut where it matters.
func (p *FaultProxy) ArmDrop(n int, outage time.Duration) {
	p.Arm(n, outage)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop = n > 0
}

// CutFor cuts the directory away now, for d: open connections are closed
// and new ones refused, as after an armed cut. A directory that is down
// when the gateway starts is made this way.
func (p *FaultProxy) CutFor(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.downUntil = time.Now().Add(d)
	p.cuts++
	for c := range p.conns {
		c.Close()
	}
}

// Restore ends a cut now.
func (p *FaultProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.downUntil = time.Time{}
}

// Responses is the number of final responses forwarded since Arm.
func (p *FaultProxy) Responses() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.responses
}

// Requests returns the requests seen since Arm, by operation.
func (p *FaultProxy) Requests() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.requests))
	for k, v := range p.requests {
		out[k] = v
	}
	return out
}

// Cuts is how many times the proxy has cut the directory away.
func (p *FaultProxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Down reports whether the directory is cut away now.
func (p *FaultProxy) Down() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().Before(p.downUntil)
}

// Close stops the proxy and closes every connection.
func (p *FaultProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *FaultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := time.Now().Before(p.downUntil) || p.closed
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up, true)
		go p.pipe(up, c, false)
	}
}

// pipe copies LDAP messages from src to dst one whole message at a time;
// fromClient says which way.
func (p *FaultProxy) pipe(src, dst net.Conn, fromClient bool) {
	defer p.wg.Done()
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	for {
		msg, err := readBERMessage(src)
		if err != nil {
			return
		}
		op := ldapOp(msg)
		if fromClient {
			p.mu.Lock()
			p.requests[op.name]++
			p.mu.Unlock()
		}
		if !fromClient && op.final && p.dropping() {
			return
		}
		if _, err := dst.Write(msg); err != nil {
			return
		}
		if !fromClient && op.final {
			p.responded()
		}
	}
}

// dropping cuts, when ArmDrop asked for it, instead of forwarding the
// response that would be the armed one.
func (p *FaultProxy) dropping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.drop || p.responses+1 != p.cutAt {
		return false
	}
	p.responses++
	p.cutAt, p.drop = 0, false
	p.cutLocked()
	return true
}

// responded counts a forwarded final response and cuts when armed.
func (p *FaultProxy) responded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.responses++
	if p.cutAt == 0 || p.responses != p.cutAt {
		return
	}
	p.cutAt = 0
	p.cutLocked()
}

func (p *FaultProxy) cutLocked() {
	p.cuts++
	p.downUntil = time.Now().Add(p.outage)
	for c := range p.conns {
		c.Close()
	}
}

// maxBERMessage bounds what the proxy buffers for one message.
const maxBERMessage = 64 << 20

// readBERMessage reads one whole BER element (an LDAPMessage SEQUENCE).
func readBERMessage(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	if hdr[0] != 0x30 {
		return nil, fmt.Errorf("testenv: not an LDAPMessage (tag %#x)", hdr[0])
	}
	n := int(hdr[1])
	msg := hdr
	if hdr[1]&0x80 != 0 {
		k := int(hdr[1] & 0x7f)
		if k == 0 || k > 4 {
			return nil, errors.New("testenv: unsupported BER length")
		}
		lb := make([]byte, k)
		if _, err := io.ReadFull(r, lb); err != nil {
			return nil, err
		}
		n = 0
		for _, b := range lb {
			n = n<<8 | int(b)
		}
		msg = append(msg, lb...)
	}
	if n > maxBERMessage {
		return nil, errors.New("testenv: LDAP message too large")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(msg, body...), nil
}

type opInfo struct {
	name  string
	final bool // a response that ends an operation
}

// ldapOp names the protocolOp of an LDAPMessage: the element after the
// messageID (RFC 4511 §4.2).
func ldapOp(msg []byte) opInfo {
	i := 2
	if msg[1]&0x80 != 0 {
		i += int(msg[1] & 0x7f)
	}
	// messageID INTEGER
	if i+2 > len(msg) || msg[i] != 0x02 {
		return opInfo{name: "unknown"}
	}
	i += 2 + int(msg[i+1])
	if i >= len(msg) {
		return opInfo{name: "unknown"}
	}
	switch msg[i] {
	case 0x60:
		return opInfo{name: "bind"}
	case 0x61:
		return opInfo{name: "bindResponse", final: true}
	case 0x42:
		return opInfo{name: "unbind"}
	case 0x63:
		return opInfo{name: "search"}
	case 0x64:
		return opInfo{name: "searchEntry"}
	case 0x73:
		return opInfo{name: "searchReference"}
	case 0x65:
		return opInfo{name: "searchDone", final: true}
	case 0x66:
		return opInfo{name: "modify"}
	case 0x67:
		return opInfo{name: "modifyResponse", final: true}
	case 0x68:
		return opInfo{name: "add"}
	case 0x69:
		return opInfo{name: "addResponse", final: true}
	case 0x4a:
		return opInfo{name: "delete"}
	case 0x6b:
		return opInfo{name: "deleteResponse", final: true}
	case 0x6c:
		return opInfo{name: "modifyDN"}
	case 0x6d:
		return opInfo{name: "modifyDNResponse", final: true}
	case 0x6e:
		return opInfo{name: "compare"}
	case 0x6f:
		return opInfo{name: "compareResponse", final: true}
	case 0x50:
		return opInfo{name: "abandon"}
	case 0x77:
		return opInfo{name: "extended"}
	case 0x78:
		return opInfo{name: "extendedResponse", final: true}
	case 0x79:
		return opInfo{name: "intermediate"}
	}
	return opInfo{name: fmt.Sprintf("op-%#x", msg[i])}
}
