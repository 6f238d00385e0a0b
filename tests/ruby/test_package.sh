#!/bin/sh
# test_package.sh RUBY ROOT WORKDIR: gem build (in a copy of the sources, so
# the generated wrapper stays out of the tree), then
# `gem install --local ... -- --with-netsocket-dir=PREFIX` against the C
# library as `cmake --install` lays it out (NETSOCKET_BUILD_DIR: the CMake
# build tree) into WORKDIR/gems (no network); `require` must load the
# installed library (no LD_LIBRARY_PATH), then the suite runs against the gem.
set -eu
ruby=$1 root=$2 work=$3 build=$NETSOCKET_BUILD_DIR
bindir=$(dirname "$ruby")
unset NETSOCKET_LIB_DIR LD_LIBRARY_PATH
rm -rf "$work"
mkdir -p "$work/src/core"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cp -r "$root/bindings" "$root/VERSION" "$work/src/"
cp -r "$root/core/include" "$work/src/core/"
(cd "$work/src/bindings/ruby" && "$bindir/gem" build --silent netsocket.gemspec --output "$work/netsocket.gem")
rm -rf "$work/src"
"$bindir/gem" install --local --silent --no-document --install-dir "$work/gems" "$work/netsocket.gem" \
    -- --with-netsocket-dir="$work/prefix"
GEM_PATH="$work/gems:$("$ruby" -e 'print Gem.path.join(":")')"
export GEM_PATH
cd "$work"
"$ruby" - "$work/gems" "$work/prefix/lib/libnetsocket.so.1" <<'RB'
require "netsocket"
gems, lib = ARGV
ext = $LOADED_FEATURES.grep(/netsocket\.so/).first
abort "extension not from the gem: #{ext}" unless ext.start_with?(gems)
maps = File.readlines("/proc/self/maps").map { |l| l.split.last }.grep(/libnetsocket\.so/).uniq
abort "loaded #{maps.inspect}, not #{lib}" unless maps == [File.realpath(lib)]
RB
exec "$ruby" "$(dirname "$0")/test_netsocket.rb"
