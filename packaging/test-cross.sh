#!/bin/sh
# test-cross.sh ARCH... runs pakon's unit tests (./src/...) for other CPU
# architectures: each package's test binary is cross-compiled with cgo and
# Debian's cross compiler, linked statically like the router binaries
# ("make cross"), and run under qemu-user in the package's directory, so
# testdata is found. ARCH is aarch64, armv7 or mipsel (soft-float, run on
# an FPU-less 24Kc; it needs MIPSEL_RT, the directory "make" builds with
# packaging/mipsel/softfloat-rt.sh). It prints one line per package and
# ends with "N passed, N failed"; the exit status is 1 if any package
# failed. GO and TAGS come from the Makefile.
set -u

GO=${GO:-go}
# Tests that re-execute the test binary (in a network namespace): a foreign
# binary started by the kernel instead of qemu needs binfmt_misc, which CI
# machines do not have. Extend with "|^TestName$".
SKIP=${SKIP:-^TestNetns$}
TAGS=${TAGS:-sqlite_omit_load_extension netgo osusergo}
top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/dist/test"
passed=0
failed=0

for arch in "$@"; do
	cflags="-O2 -g" extld=""
	case "$arch" in
	aarch64) env="GOARCH=arm64 CC=aarch64-linux-gnu-gcc" qemu=qemu-aarch64 ;;
	armv7) env="GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc" qemu=qemu-arm ;;
	mipsel)
		env="GOARCH=mipsle GOMIPS=softfloat CC=mipsel-linux-gnu-gcc" qemu="qemu-mipsel -cpu 24Kc"
		rt=${MIPSEL_RT:?MIPSEL_RT not set (make test-cross-mipsel sets it)}
		cflags="$cflags -I$rt/include"
		extld="-Wl,-u,__sigsetjmp_aux -Wl,-u,__longjmp $rt/libsoftfp.a"
		;;
	*) echo "test-cross: unknown architecture $arch (aarch64, armv7, mipsel)" >&2; exit 2 ;;
	esac
	cc=${env##*CC=}
	for tool in "$cc" "${qemu%% *}"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "test-cross: $tool not installed (tests/setup-debian.sh installs it)" >&2
			exit 2
		fi
	done
	mkdir -p "$out/$arch"
	rm -f "$out/$arch.results"
	pkgs=$(cd "$top" && "$GO" list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' ./src/...) || exit 1
	echo "$pkgs" | while read -r pkg dir; do
		[ -n "$pkg" ] || continue
		bin="$out/$arch/$(echo "$pkg" | tr / _).test"
		# shellcheck disable=SC2086 # $env holds several assignments
		if ! (cd "$top" && env CGO_ENABLED=1 GOOS=linux $env CGO_CFLAGS="$cflags" "$GO" test -c -trimpath -tags "$TAGS" \
			-ldflags "-linkmode external -extldflags '-static $extld'" -o "$bin" "$pkg" >"$bin.log" 2>&1); then
			echo "FAIL	$pkg [$arch, build]"
			sed 's/^/	/' "$bin.log"
			echo fail >>"$out/$arch.results"
			continue
		fi
		start=$(date +%s)
		# shellcheck disable=SC2086 # $qemu may hold the CPU option
		if (cd "$dir" && $qemu "$bin" -test.short -test.timeout=10m -test.skip "$SKIP" >"$bin.log" 2>&1); then
			echo "ok  	$pkg [$arch] $(($(date +%s) - start))s"
			echo pass >>"$out/$arch.results"
		else
			echo "FAIL	$pkg [$arch]"
			tail -n 40 "$bin.log" | sed 's/^/	/'
			echo fail >>"$out/$arch.results"
		fi
	done
done

for arch in "$@"; do
	[ -f "$out/$arch.results" ] || continue
	passed=$((passed + $(grep -c pass "$out/$arch.results")))
	failed=$((failed + $(grep -c fail "$out/$arch.results")))
	rm -f "$out/$arch.results"
done
echo "test-cross: $passed passed, $failed failed"
[ "$failed" = 0 ]
