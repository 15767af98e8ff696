# dirbridge — the README's two commands are `make run` and `make test`.
GO        ?= go
BIN       := bin/dirbridge
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILDDATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILDDATE)
# The platforms release archives are built for (and `make vet` builds).
PLATFORMS := linux/amd64 linux/arm64 windows/amd64 darwin/arm64
DISTDIR   ?= dist
PREFIX    ?= /usr/local
SYSTEMDDIR ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
SYSCONFDIR ?= /etc
FUZZTIME  ?= 15s
N         ?= 100000
BENCHOUT  ?= bench-results.json
BENCHARGS ?=
DIR       ?= openldap

.PHONY: build run test test-unit vet fuzz bench clean dist install

build: $(BIN)

$(BIN): $(shell find . -name '*.go' -not -path './var/*' 2>/dev/null) $(shell find conf/examples -name '*.toml' 2>/dev/null) go.mod go.sum
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/dirbridge

# The embedded default: SCIM on 127.0.0.1:8080, LDAP on 127.0.0.1:1389, data in ./var.
run: build
	./$(BIN) serve --data ./var

vet:
	$(GO) vet ./...
	@# The binary must build, without cgo, for the platforms operators run it on.
	@set -e; for p in $(PLATFORMS); do echo "build $$p"; \
	  GOOS=$${p%/*} GOARCH=$${p#*/} CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/dirbridge; done
	@# Vet for Windows what has no Unix-only tests: the e2e tests of
	@# cmd/dirbridge, ldapside and bench start slapd/samba through testenv's
	@# launchers, which build on Unix only (their product code is built above).
	GOOS=windows $(GO) vet $$($(GO) list ./... | grep -vE '/(cmd/dirbridge|ldapside|bench|packaging)$$|/testenv$$|/testenv/cmd')
	@# cmd/dirbridge's product code (the Windows service) vetted for Windows, without its tests.
	GOOS=windows CGO_ENABLED=0 $(GO) vet $$(GOOS=windows $(GO) list -f '{{range .GoFiles}}{{$$.Dir}}/{{.}} {{end}}' ./cmd/dirbridge)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every tier: unit, conformance against the embedded directory and a real
# OpenLDAP, and the black-box tests of the built binary. Directory tiers fail
# (not skip) when CI is set and a directory cannot be started.
test: vet build
	$(GO) test -race -count=1 -timeout 20m ./...

test-unit:
	$(GO) test -short -count=1 ./...

# Runs each fuzz target for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Seeds a private OpenLDAP (DIR=openldap) or the AD tier's Samba DC
# (DIR=ad, held through the tests' lock for the whole run) with N users,
# starts bin/dirbridge on it and measures every SCIM workload beside raw
# go-ldap; prints a Markdown table, writes the details to BENCHOUT. Not part
# of `make test` (its smoke test is).
# E.g. make bench N=10000 BENCHARGS="-quick -profile prof"; make bench DIR=ad N=10000
bench:
	$(GO) run ./bench -dir $(DIR) -n $(N) -out $(BENCHOUT) $(BENCHARGS)

# Release archives for PLATFORMS with SHA256SUMS in DISTDIR (see docs/install.md).
dist:
	rm -rf $(DISTDIR)
	GO=$(GO) packaging/dist.sh $(DISTDIR) $(VERSION) $(COMMIT) $(BUILDDATE) $(PLATFORMS)

# Installs the binary, the systemd unit, the sysusers.d entry and the example
# configs (never overwriting a file already in $(SYSCONFDIR)/dirbridge).
# E.g. make install DESTDIR=/tmp/stage PREFIX=/usr
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/dirbridge
	sed 's#@BINDIR@#$(PREFIX)/bin#g' packaging/systemd/dirbridge.service > $(BIN).service
	install -D -m 0644 $(BIN).service $(DESTDIR)$(SYSTEMDDIR)/dirbridge.service
	install -D -m 0644 packaging/systemd/dirbridge.sysusers $(DESTDIR)$(SYSUSERSDIR)/dirbridge.conf
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/dirbridge/examples
	@set -e; for f in conf/examples/*.toml; do \
	  t=$(DESTDIR)$(SYSCONFDIR)/dirbridge/examples/$$(basename $$f); \
	  if [ -e $$t ]; then echo "keep $$t"; else install -m 0644 $$f $$t; fi; done

clean:
	rm -rf bin dist
