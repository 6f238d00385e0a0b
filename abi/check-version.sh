#!/bin/sh
# check-version.sh VERSION_FILE HEADER MAP_IN LIB PRINT_VERSION BASELINE_DIR BINDINGS_DIR
# VERSION is the one source of the version; what cannot read it must agree
# with it (abi/README.md; abi/bump-version.sh writes them all):
#  VERSION "M.N.P" = the header's NS_VERSION_MAJOR/MINOR/PATCH
#                  = ns_version() and ns_version_number() of the built library
#                  = the Lua rockspec's file name and version ("M.N.P-1");
#                    the gemspec and the Python build read VERSION itself
#                    (no version written in them)
#  SONAME          = libnetsocket.so.M
#  version script  = nodes NETSOCKET_M.x only, none newer than M.N, and
#                    exactly the nodes the built library defines
#  abi/            = a baseline libnetsocket-M.0.abi.xml for this major
set -u
# LIB and PRINT_VERSION "-": check the sources only (no built library).
version_file=$1 header=$2 map=$3 lib=$4 print_version=$5 baseline_dir=$6 bindings=$7
fail=0
bad() { echo "check-version: $*"; fail=1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

version=$(head -n 1 "$version_file")
case $version in
*[!0-9.]* | "" ) echo "check-version: VERSION is not M.N.P: '$version'"; exit 1 ;;
esac
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
patch=${rest#*.}
echo "check-version: VERSION $version"

macro() { sed -n "s/^#define $1 \([0-9]*\)\$/\1/p" "$header"; }
[ "$(macro NS_VERSION_MAJOR).$(macro NS_VERSION_MINOR).$(macro NS_VERSION_PATCH)" = "$version" ] ||
    bad "header says $(macro NS_VERSION_MAJOR).$(macro NS_VERSION_MINOR).$(macro NS_VERSION_PATCH)"

rockspecs=$(cd "$bindings/lua" && echo netsocket-*.rockspec)
[ "$rockspecs" = "netsocket-$version-1.rockspec" ] ||
    bad "bindings/lua has '$rockspecs', expected netsocket-$version-1.rockspec"
[ -f "$bindings/lua/netsocket-$version-1.rockspec" ] &&
    ! grep -q "^version = \"$version-1\"\$" "$bindings/lua/netsocket-$version-1.rockspec" &&
    bad "netsocket-$version-1.rockspec does not say version = \"$version-1\""
for f in "$bindings/ruby/netsocket.gemspec" "$bindings/python/netsocket_build.py" "$bindings/python/pyproject.toml"; do
    grep -Eq '[0-9]+\.[0-9]+\.[0-9]+' "$f" && bad "$f writes a version number: read VERSION instead"
done

if [ "$lib" = - ]; then
    [ "$fail" -eq 0 ] && echo "check-version: VERSION, header and packages agree (sources only)"
    exit "$fail"
fi

expected_number=$(( (major << 16) | (minor << 8) | patch ))
[ "$("$print_version")" = "$version $expected_number" ] ||
    bad "ns_version()/ns_version_number() say '$("$print_version")', expected '$version $expected_number'"

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libnetsocket.so.$major" ] || bad "SONAME is '$soname', expected libnetsocket.so.$major"

sed -n 's/^\(NETSOCKET_[0-9.]*\) *{.*/\1/p' "$map" | sort > "$work/map-nodes"
nm -D --defined-only "$lib" | awk '$2 == "A" { print $3 }' | sort > "$work/lib-nodes"
cmp -s "$work/map-nodes" "$work/lib-nodes" ||
    bad "version nodes of the script ($(echo $(cat "$work/map-nodes"))) differ from the library's ($(echo $(cat "$work/lib-nodes")))"
grep -qx "NETSOCKET_$major.0" "$work/map-nodes" || bad "no node NETSOCKET_$major.0 in $map"
while read -r node; do
    v=${node#NETSOCKET_}
    [ "${v%%.*}" = "$major" ] || bad "node $node is not of major version $major"
    [ "${v#*.}" -le "$minor" ] || bad "node $node is newer than VERSION $version"
done < "$work/map-nodes"

[ -f "$baseline_dir/libnetsocket-$major.0.abi.xml" ] || bad "no baseline $baseline_dir/libnetsocket-$major.0.abi.xml"

[ "$fail" -eq 0 ] && echo "check-version: VERSION, header, packages, ns_version(), SONAME, version script and baseline agree"
exit "$fail"
