#!/bin/sh
# test_rockspec.sh LUA SRC INCDIR WORKDIR: the real `luarocks make` (offline,
# into a local tree) of bindings/lua's rockspec against the C library as
# `cmake --install` lays it out (NETSOCKET_BUILD_DIR: the CMake build tree),
# then the suite against the installed rock.  luarocks missing: skipped (77).
set -eu
lua=$1 src=$2 work=$4 build=$NETSOCKET_BUILD_DIR
command -v luarocks > /dev/null || { echo "luarocks not installed (Debian package luarocks): skipped"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cp -r "$src" "$work/bindings" # the build writes its wrapper beside the rockspec
cd "$work/bindings/lua"
# The rockspec of this version (VERSION is the one source; abi.version
# checks the rockspec's name and version agree with it).
rockspec="netsocket-$(head -n 1 "$src/../VERSION")-1.rockspec"
luarocks --lua-version=5.4 make --tree "$work/tree" "$rockspec" NETSOCKET_DIR="$work/prefix"
rm -rf "$work/bindings"
module=$work/tree/lib/lua/5.4/netsocket-core.so
# The module finds the installed library, not the build tree's.
ldd "$module" | grep -q "libnetsocket.so.1 => $work/prefix/lib/libnetsocket.so.1 " ||
    { ldd "$module"; echo "netsocket-core.so does not load the installed libnetsocket" >&2; exit 1; }
cd "$work"
env -u LD_LIBRARY_PATH LUA_PATH="$work/tree/share/lua/5.4/?.lua;;" LUA_CPATH="$work/tree/lib/lua/5.4/?.so;;" \
    "$lua" "$(dirname "$0")/test_netsocket.lua"
