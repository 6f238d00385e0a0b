#!/bin/sh
# bindings.sh CROSS_BUILD HOST_BUILD — the Lua, Python and Ruby bindings
# cross-built for aarch64 and smoke-tested under qemu-aarch64-static
# (tests/run_all.sh phase 4).  CROSS_BUILD is the aarch64 tree (its
# libnetsocket.so.1); HOST_BUILD is the x86_64 tree whose SWIG output
# (bindings/<lang>/netsocket_wrap.c and the .py/.rb/.lua files beside it) is
# the same for every machine and is compiled here with aarch64-linux-gnu-gcc
# against Debian's arm64 Lua 5.4 and Ruby 3.1 headers; Python's is the wheel
# its build backend makes for aarch64 (arm64 Python 3.11 headers).  The
# arm64 packages are unpacked into CROSS_BUILD/sysroot by sysroot.sh (never
# installed).  Each module must
# be an AArch64 ELF, then tests/aarch64/smoke.<ext> runs in Debian's arm64
# interpreter under qemu: version, and one TLS round trip over 127.0.0.1
# between a netsocket server and client.  Every language listed is required:
# a build or smoke test that fails fails this script, nothing is skipped.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
cross=$(cd "$1" && pwd)
host=$(cd "$2" && pwd)
sys="$cross/sysroot"
out="$cross/bindings"
cc=aarch64-linux-gnu-gcc
qemu="qemu-aarch64-static -L $sys"

sh "$here/sysroot.sh" "$cross"
rm -rf "$out"
mkdir -p "$out"
sh "$src/tests/gen-certs.sh" "$out/certs"

failed=""
elf_is_aarch64() {
    readelf -h "$1" | grep -q 'Machine:.*AArch64' || { echo "bindings.sh: $1 is not AArch64" >&2; return 1; }
}
# module WRAP_C OUTPUT [cc flags...]: the SWIG wrapper compiled for aarch64,
# linked against the cross-built libnetsocket.so.1 (found by its rpath).
module() {
    wrap=$1 so=$2
    shift 2
    [ -f "$wrap" ] || { echo "bindings.sh: $wrap missing (is $host built?)" >&2; return 1; }
    mkdir -p "$(dirname "$so")"
    $cc -shared -fPIC -O2 -std=gnu11 -fvisibility=hidden -w -I"$src/core/include" "$@" \
        -o "$so" "$wrap" -L"$cross" -lnetsocket -Wl,-rpath,"$cross" || return 1
    elf_is_aarch64 "$so"
}
# run LANG COMMAND...: the smoke test; its last line is the report.
run() {
    lang=$1
    shift
    if log=$("$@" 2>&1); then
        printf '%s\n' "$log" | tail -n 1
    else
        printf '%s\n' "$log" >&2
        echo "bindings.sh: $lang smoke test FAILED under qemu-aarch64" >&2
        failed="$failed $lang"
    fi
}

# Lua 5.4: netsocket-core.so (require "netsocket" loads it) and netsocket.lua.
if module "$host/bindings/lua/netsocket_wrap.c" "$out/lua/netsocket-core.so" \
        -I"$sys/usr/include/lua5.4" -I"$sys/usr/include/aarch64-linux-gnu"; then
    cp -r "$host/bindings/lua/netsocket.lua" "$host/bindings/lua/netsocket" "$out/lua/"
    run lua env LUA_CPATH="$out/lua/?.so" LUA_PATH="$out/lua/?.lua" \
        $qemu "$sys/usr/bin/lua5.4" "$here/smoke.lua" "$out/certs"
else
    echo "bindings.sh: the Lua binding did not cross-build" >&2
    failed="$failed lua(build)"
fi

# Python 3.11: the wheel, made by the package's own build backend
# (bindings/python/netsocket_build.py) told to build for aarch64; it carries
# the cross-built libnetsocket.so.1.  Installed as pip would (unpacked onto
# the path: no arm64 pip here), then smoke-tested.
pyext=$(sed -n "s/^.*'EXT_SUFFIX': '\([^']*\)'.*$/\1/p" \
    "$sys/usr/lib/python3.11/_sysconfigdata__aarch64-linux-gnu.py" | head -n 1)
mkdir -p "$out/wheel" "$out/python"
if [ -n "$pyext" ] && wheel=$(cd "$src/bindings/python" &&
        NETSOCKET_LIB_DIR="$cross" NETSOCKET_CROSS_CC="$cc" NETSOCKET_CROSS_PLATFORM=linux_aarch64 \
        NETSOCKET_CROSS_PYTHON_INCLUDE="$sys/usr/include/python3.11:$sys/usr/include" \
        NETSOCKET_CROSS_EXT_SUFFIX="$pyext" PYTHONDONTWRITEBYTECODE=1 \
        /usr/bin/python3 -c 'import sys, netsocket_build; print(netsocket_build.build_wheel(sys.argv[1]))' \
        "$out/wheel" | tail -n 1) &&
        /usr/bin/python3 -m zipfile -e "$out/wheel/$wheel" "$out/python" &&
        elf_is_aarch64 "$out/python/netsocket/_netsocket$pyext" &&
        elf_is_aarch64 "$out/python/netsocket/libnetsocket.so.1"; then
    echo "bindings.sh: built $wheel"
    run python env PYTHONPATH="$out/python" PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1 \
        $qemu "$sys/usr/bin/python3.11" "$here/smoke.py" "$out/certs"
else
    echo "bindings.sh: the Python wheel did not cross-build" >&2
    failed="$failed python(build)"
fi

# Ruby 3.1: netsocket/netsocket.so and lib/netsocket.rb with its helpers.
if module "$host/bindings/ruby/netsocket_wrap.c" "$out/ruby/netsocket/netsocket.so" \
        -I"$sys/usr/include/ruby-3.1.0" -I"$sys/usr/include/aarch64-linux-gnu/ruby-3.1.0"; then
    cp "$host/bindings/ruby/netsocket.rb" "$out/ruby/"
    cp "$host/bindings/ruby/netsocket/"*.rb "$out/ruby/netsocket/"
    run ruby $qemu "$sys/usr/bin/ruby3.1" --disable-gems -I"$out/ruby" "$here/smoke.rb" "$out/certs"
else
    echo "bindings.sh: the Ruby binding did not cross-build" >&2
    failed="$failed ruby(build)"
fi

if [ -n "$failed" ]; then
    echo "bindings.sh: aarch64 bindings FAILED:$failed" >&2
    exit 1
fi
echo "bindings.sh: aarch64 bindings built and smoke-tested: lua, python (wheel), ruby"
