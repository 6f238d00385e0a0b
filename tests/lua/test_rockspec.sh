#!/bin/sh
# test_rockspec.sh LUA SRC INCDIR WORKDIR (NETSOCKET_LIB_DIR set): luarocks is not in Debian
# bookworm, so this runs the rockspec's build_command the way `luarocks make`
# would (same variables) on a copy of bindings/, then the suite against the
# result.
set -eu
lua=$1 src=$2 incdir=$3 work=$4 libdir=$NETSOCKET_LIB_DIR
rm -rf "$work"
mkdir -p "$work"
cp -r "$src" "$work/bindings"
cd "$work/bindings/lua"
# The rockspec of this version (VERSION is the one source; abi.version
# checks the rockspec's name and version agree with it).
rockspec="netsocket-$(head -n 1 "$src/../VERSION")-1.rockspec"
cmd=$(ROCKSPEC=$rockspec "$lua" -e 'local env = {}
  assert(loadfile(os.getenv("ROCKSPEC"), "t", env))(); io.write(env.build.build_command)')
cmd=$(printf '%s' "$cmd" | sed -e "s|\$(NETSOCKET_INCDIR)|$incdir|g; s|\$(NETSOCKET_LIBDIR)|$libdir|g" \
  -e 's|\$(CC)|cc|; s|\$(CFLAGS)|-O2 -fPIC|; s|\$(LUA_INCDIR)|/usr/include/lua5.4|; s|\$(LIBFLAG)|-shared|')
sh -c "$cmd"
mkdir -p "$work/tree"
cp netsocket.lua netsocket-core.so "$work/tree/"
cd "$work"
LUA_PATH="$work/tree/?.lua;;" LUA_CPATH="$work/tree/?.so;;" exec "$lua" "$(dirname "$0")/test_netsocket.lua"
