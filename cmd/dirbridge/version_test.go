package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	got := versionText(buildInfo{Version: "v1.2.0", Commit: "abc123", Date: "2026-12-02T01:00:00Z", GoVersion: "go1.22.5"})
	want := "dirbridge v1.2.0\ncommit: abc123\nbuilt: 2026-12-02T01:00:00Z\ngo: go1.22.5\n"
	if got != want {
		t.Fatalf("versionText = %q, want %q", got, want)
	}
}

// TestVersionFromBuildInfo: without -ldflags the VCS stamps of `go build`
// fill commit and date, and the version names the commit instead of "dev".
func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	b := fillFromBuildInfo(buildInfo{}, bi)
	if b.Version != "dev-0123456789ab-dirty" || b.Commit != "0123456789abcdef0123" || b.Date != "2026-12-01T10:00:00Z" {
		t.Fatalf("from build info: %+v", b)
	}
	// go install …@v1.3.0 stamps the module version.
	b = fillFromBuildInfo(buildInfo{}, &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}})
	if b.Version != "v1.3.0" {
		t.Fatalf("module version: %+v", b)
	}
	// -ldflags values win over the stamps.
	b = fillFromBuildInfo(buildInfo{Version: "v2.0.0", Commit: "feed"}, bi)
	if b.Version != "v2.0.0" || b.Commit != "feed" || b.Date != "2026-12-01T10:00:00Z" {
		t.Fatalf("ldflags first: %+v", b)
	}
	if s := versionText(currentBuild()); !strings.HasPrefix(s, "dirbridge ") || !strings.Contains(s, "\ngo: go") {
		t.Fatalf("current build: %q", s)
	}
}
