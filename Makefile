# pakon — build, test and package.
GO        ?= go
BIN       := bin/pakon
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/pakon/pakon/src/version.Version=$(VERSION)
GOFLAGS   ?= -trimpath
TAGS      := sqlite_omit_load_extension

.PHONY: build setup test unit vet fmt fmt-check fuzz-short demo clean

build:
	CGO_ENABLED=1 $(GO) build $(GOFLAGS) -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN) ./src/cmd/pakon
	ln -sf pakon bin/pakon-show

# setup installs what the build and the tests need (Debian; needs root).
setup:
	sh tests/setup-debian.sh

# test is what CI runs (.ci/run): set-up, static checks, every test (the
# integration tests drive real Suricata, network namespaces, dbus-daemon and
# Chromium, so they need root), and a short fuzz pass.
test: setup build fmt-check vet
	$(GO) test -tags '$(TAGS)' -count=1 -timeout 30m ./...
	FUZZTIME=5s sh tests/fuzz-short.sh

unit:
	$(GO) test -tags '$(TAGS)' ./src/...

# demo runs real Suricata over the shipped capture, imports it and shows it.
demo: build
	@command -v suricata >/dev/null || sh tests/setup-debian.sh
	sh tests/demo.sh

fmt-check:
	@out=$$(gofmt -l src tests); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet -tags '$(TAGS)' ./...

fmt:
	gofmt -l -w src tests

clean:
	rm -rf bin dist tests/artifacts
