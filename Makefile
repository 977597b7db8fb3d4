# pakon — build, test and package.
GO        ?= go
BIN       := bin/pakon
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/pakon/pakon/src/version.Version=$(VERSION)
GOFLAGS   ?= -trimpath
TAGS      := sqlite_omit_load_extension

.PHONY: build test unit vet fmt demo clean

build:
	CGO_ENABLED=1 $(GO) build $(GOFLAGS) -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN) ./src/cmd/pakon
	ln -sf pakon bin/pakon-show

unit:
	$(GO) test -tags '$(TAGS)' ./src/...

vet:
	$(GO) vet -tags '$(TAGS)' ./...

fmt:
	gofmt -l -w src tests

clean:
	rm -rf bin dist tests/artifacts
