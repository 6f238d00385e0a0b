#!/bin/sh
# test_package.sh RUBY ROOT WORKDIR: gem build (in a copy of the sources, so
# the generated wrapper stays out of the tree) + gem install --local into
# WORKDIR/gems (no network), then the suite against the installed gem.
# NETSOCKET_LIB_DIR points at the built library.
set -eu
ruby=$1 root=$2 work=$3
bindir=$(dirname "$ruby")
rm -rf "$work"
mkdir -p "$work/src/core"
cp -r "$root/bindings" "$root/VERSION" "$work/src/"
cp -r "$root/core/include" "$work/src/core/"
(cd "$work/src/bindings/ruby" && "$bindir/gem" build --silent netsocket.gemspec --output "$work/netsocket.gem")
"$bindir/gem" install --local --silent --no-document --install-dir "$work/gems" "$work/netsocket.gem"
GEM_PATH="$work/gems:$("$ruby" -e 'print Gem.path.join(":")')"
export GEM_PATH
cd "$work"
"$ruby" -e 'require "netsocket"; abort $LOADED_FEATURES.grep(/netsocket/).inspect unless $LOADED_FEATURES.grep(/netsocket\.so/).first.start_with?(ARGV[0])' "$work/gems"
exec "$ruby" "$(dirname "$0")/test_netsocket.rb"
