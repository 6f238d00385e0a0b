#!/bin/sh
# install-and-consume.sh BUILD_DIR CONSUMER_DIR C_COMPILER [CMAKE]
# Installs netsocket from BUILD_DIR into a temporary prefix, then builds the
# consumer in CONSUMER_DIR against it twice, with pkg-config + cc and as a
# CMake project using find_package(netsocket), and runs both.
# NS_CONSUMER_CFLAGS: extra compiler flags for the consumer (e.g. sanitizers).
set -eu
build=$1 consumer=$2 cc=$3 cmake=${4:-cmake}
extra=${NS_CONSUMER_CFLAGS:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

step() { echo "== $*"; }

step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" > "$work/install.log" ||
    { cat "$work/install.log"; exit 1; }
pc=$(find "$prefix" -name netsocket.pc)
libdir=$(dirname "$(find "$prefix" -name 'libnetsocket.so.*.*.*')")
[ -f "$prefix/include/netsocket.h" ] || { echo "no header installed"; exit 1; }
[ "$(readlink "$libdir/libnetsocket.so")" = libnetsocket.so.1 ] || { echo "bad libnetsocket.so link"; exit 1; }
case $(readlink "$libdir/libnetsocket.so.1") in
libnetsocket.so.1.*.*) ;;
*) echo "bad libnetsocket.so.1 link"; exit 1 ;;
esac
[ -f "$libdir/cmake/netsocket/netsocketConfig.cmake" ] ||
    { echo "no CMake package installed"; exit 1; }

step "pkg-config + $cc"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs netsocket)
echo "pkg-config: netsocket $(pkg-config --modversion netsocket): $flags"
# shellcheck disable=SC2086  # the flag lists are meant to split
"$cc" -std=c99 -Wall -Wextra -Werror $extra -o "$work/pc-consumer" "$consumer/consumer.c" $flags
LD_LIBRARY_PATH=$libdir ldd "$work/pc-consumer" | grep -q "$libdir/libnetsocket.so.1" ||
    { echo "pc-consumer does not load the installed library"; exit 1; }
LD_LIBRARY_PATH=$libdir "$work/pc-consumer"

step "CMake find_package(netsocket)"
"$cmake" -S "$consumer" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra" > "$work/cmake.log" || { cat "$work/cmake.log"; exit 1; }
"$cmake" --build "$work/cmake-build" > "$work/cmake-build.log" || { cat "$work/cmake-build.log"; exit 1; }
ldd "$work/cmake-build/consumer" | grep -q "$libdir/libnetsocket.so.1" ||
    { echo "the CMake consumer does not load the installed library"; exit 1; }
"$work/cmake-build/consumer"
