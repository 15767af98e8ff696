# dirbridge — the README's two commands are `make run` and `make test`.
GO        ?= go
BIN       := bin/dirbridge
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 15s
N         ?= 100000
BENCHOUT  ?= bench-results.json
BENCHARGS ?=

.PHONY: build run test test-unit vet fuzz bench clean

build: $(BIN)

$(BIN): $(shell find . -name '*.go' -not -path './var/*' 2>/dev/null) $(shell find conf/examples -name '*.toml' 2>/dev/null) go.mod go.sum
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/dirbridge

# The embedded default: SCIM on 127.0.0.1:8080, LDAP on 127.0.0.1:1389, data in ./var.
run: build
	./$(BIN) serve --data ./var

vet:
	$(GO) vet ./...
	@# The binary must build for the platforms operators run it on.
	GOOS=windows CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/dirbridge
	GOOS=darwin CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/dirbridge
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

# Seeds a private OpenLDAP with N users, starts bin/dirbridge on it and
# measures every SCIM workload beside raw go-ldap; prints a Markdown table,
# writes the details to BENCHOUT. Not part of `make test` (its smoke test is).
# E.g. make bench N=10000 BENCHARGS="-quick -profile prof"
bench:
	$(GO) run ./bench -n $(N) -out $(BENCHOUT) $(BENCHARGS)

clean:
	rm -rf bin
