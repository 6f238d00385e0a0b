#!/bin/sh
# test_package.sh RUBY SRC WORKDIR: gem build + gem install --local of
# bindings/ruby into WORKDIR/gems (no network), then the suite against it.
set -eu
ruby=$1 src=$2 work=$3
bindir=$(dirname "$ruby")
rm -rf "$work"
mkdir -p "$work"
(cd "$src" && "$bindir/gem" build --silent netsocket.gemspec --output "$work/netsocket.gem")
"$bindir/gem" install --local --silent --no-document --install-dir "$work/gems" "$work/netsocket.gem"
GEM_PATH="$work/gems:$("$ruby" -e 'print Gem.path.join(":")')"
export GEM_PATH
cd "$work"
"$ruby" -e 'require "netsocket"; abort $LOADED_FEATURES.grep(/netsocket/).inspect unless $LOADED_FEATURES.grep(/netsocket\.so/).first.start_with?(ARGV[0])' "$work/gems"
exec "$ruby" "$(dirname "$0")/test_netsocket.rb"
