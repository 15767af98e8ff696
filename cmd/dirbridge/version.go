package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by `make build` and `make dist` with -ldflags "-X main.version=…"
// (likewise commit and buildDate). Empty means a plain `go build` or
// `go install`, whose module and VCS stamps currentBuild reads instead, so
// that `dirbridge version` never says just "dev" for a binary built from a
// clone.
var (
	version   = ""
	commit    = ""
	buildDate = ""
)

type buildInfo struct {
	Version, Commit, Date, GoVersion string
}

// currentBuild merges the -X values with what the Go toolchain stamped.
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: buildDate, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b = fillFromBuildInfo(b, bi)
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

func fillFromBuildInfo(b buildInfo, bi *debug.BuildInfo) buildInfo {
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Commit == "" {
				b.Commit = s.Value
			}
		case "vcs.time":
			if b.Date == "" {
				b.Date = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if b.Version == "" {
		// `go install …@v1.2.3` stamps the module version; a build in a
		// clone stamps "(devel)" or a pseudo-version.
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		} else if b.Commit != "" {
			b.Version = "dev-" + short(b.Commit)
			if modified {
				b.Version += "-dirty"
			}
		}
	}
	return b
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

func versionText(b buildInfo) string {
	return fmt.Sprintf("dirbridge %s\ncommit: %s\nbuilt: %s\ngo: %s\n", b.Version, b.Commit, b.Date, b.GoVersion)
}
