# pakon — build, test and package.
GO        ?= go
BIN       := bin/pakon
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/pakon/pakon/src/version.Version=$(VERSION)
GOFLAGS   ?= -trimpath
TAGS      := sqlite_omit_load_extension

.PHONY: build setup test unit vet fmt fmt-check fuzz-short fuzz-long bench-load demo clean

build:
	CGO_ENABLED=1 $(GO) build $(GOFLAGS) -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN) ./src/cmd/pakon
	ln -sf pakon bin/pakon-show

# setup installs what the build and the tests need (Debian; needs root).
setup:
	sh tests/setup-debian.sh

# test is what CI runs (.ci/run): set-up, static checks, every test (the
# integration tests drive real Suricata, network namespaces, dbus-daemon and
# Chromium, so they need root), the unit tests of the aarch64 and armv7
# builds under qemu-user, and a short fuzz pass.
test: setup build fmt-check vet
	$(GO) test -tags '$(TAGS)' -count=1 -timeout 30m ./...
	$(MAKE) test-cross
	FUZZTIME=5s sh tests/fuzz-short.sh

# fuzz-long runs every Fuzz target for FUZZTIME each (default 5m; about
# an hour for the dozen targets). New crashers land in the package's
# testdata/fuzz/, where they become regression tests.
fuzz-long:
	FUZZTIME=$${FUZZTIME:-5m} sh tests/fuzz-short.sh

# bench-load streams 5,000 events/s of a 30-device home plus a flooding
# device through the real daemon's socket for PAKON_LOAD_DURATION (10m),
# sampling RSS and the status counters every second into
# bench-load-rss.csv (figures: docs/performance.md). CI runs 20 s of it
# as TestLoadBounded.
bench-load:
	PAKON_LOAD_DURATION=$${PAKON_LOAD_DURATION:-10m} PAKON_LOAD_RSS=$(CURDIR)/bench-load-rss.csv \
		$(GO) test -tags '$(TAGS)' -count=1 -run TestLoadBounded -timeout 40m -v ./tests/hardening

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

# --- OpenWrt: cross builds, packages, tests under qemu-user ---------------
# Routers' pakon binaries, built with Debian's cross compilers and cgo for
# SQLite, linked statically: OpenWrt's C library is musl and these
# compilers link glibc, so only a static binary runs on both. netgo and
# osusergo keep glibc's NSS (which a static glibc cannot load) out.
# mipsel_24kc: the 24Kc has no FPU and OpenWrt's kernels do not emulate
# one, so Go runs with GOMIPS=softfloat and SQLite is compiled -msoft-float
# against Debian's mipsel glibc, which is hard-float only; MIPSEL_RT
# (packaging/mipsel/softfloat-rt.sh, from Debian's gcc-12-source) adds the
# soft-float arithmetic (libgcc.a's uses the FPU) and integer-only
# setjmp/longjmp (glibc's save FPU registers at start-up), forced in
# before libc.a with -u. docs/bench/binary-size.md says why precisely.
# The Go build cache makes rebuilds quick.
CROSS_ARCHS   := aarch64_generic arm_cortex-a7_neon-vfpv4 mipsel_24kc
CROSS_TAGS    := $(TAGS) netgo osusergo
CROSS_LDFLAGS  = $(LDFLAGS) -linkmode external -extldflags '-static $(CROSS_EXTLDFLAGS_$*)'
CROSS_ENV_aarch64_generic          := GOARCH=arm64 CC=aarch64-linux-gnu-gcc
CROSS_ENV_arm_cortex-a7_neon-vfpv4 := GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc
MIPSEL_RT                          := $(CURDIR)/dist/mipsel-rt
CROSS_ENV_mipsel_24kc              := GOARCH=mipsle GOMIPS=softfloat CC=mipsel-linux-gnu-gcc CGO_CFLAGS='-O2 -g -I$(MIPSEL_RT)/include'
CROSS_EXTLDFLAGS_mipsel_24kc       := -Wl,-u,__sigsetjmp_aux -Wl,-u,__longjmp $(MIPSEL_RT)/libsoftfp.a
# Package version: the last commit's date and time (UTC), valid for opkg
# and apk; packages are reproducible (every entry has the commit's time).
IPK_VERSION ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y.%m.%d.%H%M%S 2>/dev/null || echo 0)-1
IPK_MTIME   ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: cross ipk test-cross test-cross-mipsel test-packaging

cross: $(addprefix cross-,$(CROSS_ARCHS))

cross-mipsel_24kc: $(MIPSEL_RT)/libsoftfp.a

$(MIPSEL_RT)/libsoftfp.a: packaging/mipsel/softfloat-rt.sh packaging/mipsel/setjmp.S
	sh packaging/mipsel/softfloat-rt.sh $(MIPSEL_RT)

cross-%:
	$(if $(CROSS_ENV_$*),,$(error no cross build for "$*"; the architectures are $(CROSS_ARCHS)))
	@mkdir -p dist/$*
	CGO_ENABLED=1 GOOS=linux $(CROSS_ENV_$*) $(GO) build $(GOFLAGS) -tags '$(CROSS_TAGS)' -ldflags "$(CROSS_LDFLAGS)" -o dist/$*/pakon ./src/cmd/pakon

ipk: cross
	@mkdir -p dist/tools
	$(GO) build -o dist/tools/ipk ./packaging/ipk
	rm -f dist/*.ipk
	$(foreach a,$(CROSS_ARCHS),dist/tools/ipk -pkg pakon -arch $(a) -bin dist/$(a)/pakon -version $(IPK_VERSION) -mtime $(IPK_MTIME) -out dist &&) true
	dist/tools/ipk -pkg luci-app-pakon -version $(IPK_VERSION) -mtime $(IPK_MTIME) -out dist

# Unit tests of src/... for aarch64 and armv7, each package's test binary
# run under qemu-user.
test-cross:
	GO='$(GO)' TAGS='$(CROSS_TAGS)' sh packaging/test-cross.sh aarch64 armv7

# Unit tests of src/... for mipsel_24kc, soft-float, each package's test
# binary run under qemu-user on a 24Kc (no FPU): a floating-point
# instruction anywhere they reach ends the package with SIGILL.
test-cross-mipsel: $(MIPSEL_RT)/libsoftfp.a
	GO='$(GO)' TAGS='$(CROSS_TAGS)' MIPSEL_RT='$(MIPSEL_RT)' sh packaging/test-cross.sh mipsel

# The packaging tests, including the install test of the packages in dist/.
test-packaging: ipk
	PAKON_IPK_DIR=$(CURDIR)/dist $(GO) test -count=1 ./tests/packaging/...
