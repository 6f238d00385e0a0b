#!/bin/sh
# bump-version.sh NEW_VERSION [ROOT]: the release step of abi/README.md.
# Writes NEW_VERSION (M.N.P) into VERSION, the one source, and into what
# cannot read it: the header's NS_VERSION_* macros and the Lua rockspec's
# name and version.  abi.version (check-version.sh) then checks they agree;
# abi.version.bump runs this script on a scratch copy to keep it working.
set -eu
new=$1
root=${2:-$(cd "$(dirname "$0")/.." && pwd)}
case $new in
*[!0-9.]* | "" | *..* | .* | *.) echo "bump-version: not M.N.P: '$new'" >&2; exit 2 ;;
esac
major=${new%%.*} rest=${new#*.}
minor=${rest%%.*} patch=${rest#*.}
[ "$major.$minor.$patch" = "$new" ] || { echo "bump-version: not M.N.P: '$new'" >&2; exit 2; }

old=$(head -n 1 "$root/VERSION")
echo "$new" > "$root/VERSION"
sed -i -e "s/^#define NS_VERSION_MAJOR [0-9]*\$/#define NS_VERSION_MAJOR $major/" \
       -e "s/^#define NS_VERSION_MINOR [0-9]*\$/#define NS_VERSION_MINOR $minor/" \
       -e "s/^#define NS_VERSION_PATCH [0-9]*\$/#define NS_VERSION_PATCH $patch/" \
    "$root/core/include/netsocket.h"
lua="$root/bindings/lua"
if [ "$old" != "$new" ]; then
    if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
       git -C "$root" ls-files --error-unmatch "$lua/netsocket-$old-1.rockspec" >/dev/null 2>&1; then
        git -C "$root" mv "$lua/netsocket-$old-1.rockspec" "$lua/netsocket-$new-1.rockspec"
    else
        mv "$lua/netsocket-$old-1.rockspec" "$lua/netsocket-$new-1.rockspec"
    fi
fi
sed -i "s/^version = \"[0-9.]*-1\"\$/version = \"$new-1\"/" "$lua/netsocket-$new-1.rockspec"
echo "bump-version: $old -> $new (VERSION, netsocket.h, netsocket-$new-1.rockspec)"
