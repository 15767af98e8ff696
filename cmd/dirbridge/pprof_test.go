package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestPprofLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "localhost"} {
		if err := startPprof(context.Background(), addr, io.Discard); err == nil {
			t.Errorf("%q: accepted", addr)
		}
	}
	if err := startPprof(context.Background(), "", io.Discard); err != nil {
		t.Errorf("unset: %v", err)
	}
}

func TestPprofServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log strings.Builder
	if err := startPprof(ctx, "127.0.0.1:0", &log); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`pprof_addr=(\S+)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no address logged: %q", log.String())
	}
	resp, err := http.Get("http://" + m[1] + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
