#!/bin/sh
# softfloat-rt.sh DIR builds what a soft-float mipsel_24kc binary needs on
# top of Debian's mipsel glibc, which is built hard-float only (a 24Kc has
# no FPU; docs/bench/binary-size.md says why each piece is needed):
#
#   DIR/include/gnu/stubs-o32_soft.h  empty: glibc's headers include it
#                                     under -msoft-float, Debian ships none
#   DIR/libsoftfp.a                   GCC's soft-fp routines (__adddf3,
#                                     __fixdfdi, …) compiled -msoft-float,
#                                     and setjmp.S
#
# libgcc.a's routines of the same names use the FPU and take doubles in
# FPU registers. Their source comes from Debian's gcc-12-source package
# (/usr/src/gcc-12/gcc-12.2.0-dfsg.tar.xz, GPL with the GCC runtime
# library exception, like libgcc itself). CC defaults to
# mipsel-linux-gnu-gcc.
set -eu

dir=$1
cc=${CC:-mipsel-linux-gnu-gcc}
here=$(cd "$(dirname "$0")" && pwd)
src=$(ls /usr/src/gcc-*/gcc-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
if [ -z "$src" ]; then
	echo "softfloat-rt: no GCC source in /usr/src (apt-get install gcc-12-source)" >&2
	exit 2
fi
top=$(basename "$src" .tar.xz)
top=${top%-dfsg}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xJf "$src" -C "$tmp" --wildcards "$top/libgcc/soft-fp/*" \
	"$top/libgcc/config/mips/sfp-machine.h" "$top/include/longlong.h"
lib=$tmp/$top/libgcc

# Every soft-float routine GCC emits calls to for float and double on
# o32 (SQLite uses a score of them; the rest cost nothing unless linked).
for f in adddf3 subdf3 muldf3 divdf3 negdf2 eqdf2 gedf2 ledf2 unorddf2 \
	fixdfdi fixdfsi fixunsdfdi fixunsdfsi floatdidf floatsidf floatundidf \
	floatunsidf extendsfdf2 truncdfsf2 addsf3 subsf3 mulsf3 divsf3 negsf2 \
	eqsf2 gesf2 lesf2 unordsf2 fixsfdi fixsfsi fixunssfdi fixunssfsi \
	floatdisf floatsisf floatundisf floatunsisf; do
	"$cc" -O2 -msoft-float -fPIC -fno-stack-protector -I"$lib/config/mips" \
		-I"$lib/soft-fp" -I"$tmp/$top/include" -c "$lib/soft-fp/$f.c" -o "$tmp/$f.o"
done
"$cc" -msoft-float -c "$here/setjmp.S" -o "$tmp/setjmp.o"

mkdir -p "$dir/include/gnu"
: >"$dir/include/gnu/stubs-o32_soft.h"
rm -f "$tmp/libsoftfp.a"
"${cc%gcc}ar" rcD "$tmp/libsoftfp.a" "$tmp"/*.o
mv "$tmp/libsoftfp.a" "$dir/libsoftfp.a"
