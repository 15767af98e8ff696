// Command relay is the bench's reference for what any HTTP gateway can
// reach on the machine it runs on: the least a gateway does for a write -
// read one small JSON request, send one modify on a pooled go-ldap
// connection, answer a fixed JSON body - with none of dirbridge's work
// (authentication, SCIM parsing, mapping, Post-Read, the answer's
// resource). `make bench` starts it beside the gateway and sends it the
// same writes as the raw side, so that each run shows how close to raw an
// HTTP hop alone lets a write come (issue #15's concurrency-1 rows).
//
// It is not part of the product. It listens on 127.0.0.1, port chosen by
// the kernel, prints its address as its first line and serves until it
// is signalled; the directory and its bind come from the environment
// (BENCH_RELAY_LDAP_URL, BENCH_RELAY_BIND_DN, BENCH_RELAY_BIND_PASSWORD).
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Request is the body the bench sends: one modify.
type Request struct {
	DN      string `json:"dn"`
	Changes []struct {
		Op     string   `json:"op"` // "add", "delete" or "replace"
		Attr   string   `json:"attr"`
		Values []string `json:"values"`
	} `json:"changes"`
}

// pool lends connections, dialling one when none is idle (as dirbridge's
// pool does, so that at concurrency c both hold c connections).
type pool struct {
	url, dn, password string
	mu                sync.Mutex
	idle              []*ldap.Conn
}

func (p *pool) get() (*ldap.Conn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		l := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return l, nil
	}
	p.mu.Unlock()
	l, err := ldap.DialURL(p.url, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return nil, err
	}
	if err := l.Bind(p.dn, p.password); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (p *pool) put(l *ldap.Conn) {
	p.mu.Lock()
	p.idle = append(p.idle, l)
	p.mu.Unlock()
}

func (p *pool) modify(w http.ResponseWriter, r *http.Request) {
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	m := ldap.NewModifyRequest(req.DN, nil)
	for _, c := range req.Changes {
		switch c.Op {
		case "add":
			m.Add(c.Attr, c.Values)
		case "delete":
			m.Delete(c.Attr, c.Values)
		default:
			m.Replace(c.Attr, c.Values)
		}
	}
	l, err := p.get()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err := l.Modify(m); err != nil {
		l.Close()
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	p.put(l)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"done":true}`))
}

func main() {
	p := &pool{url: os.Getenv("BENCH_RELAY_LDAP_URL"), dn: os.Getenv("BENCH_RELAY_BIND_DN"), password: os.Getenv("BENCH_RELAY_BIND_PASSWORD")}
	if p.url == "" {
		fmt.Fprintln(os.Stderr, "relay: BENCH_RELAY_LDAP_URL is not set")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /modify", p.modify)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}
