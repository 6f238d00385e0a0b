#!/bin/sh
# docs_check.sh ROOT: docs/architecture.md names every core/src file, and
# every path it names exists; the call direction it states inside core
# holds (tls.c, selector.c and socket_info.c call nothing socket.c
# defines); no README or header points at files the repository does not
# hold (API.md, FACTS.md).
set -u
root=$1 fail=0
page="$root/docs/architecture.md"
for f in "$root"/core/src/*.c; do
    name=$(basename "$f")
    grep -q "$name" "$page" || { echo "docs_check: architecture.md does not name core/src/$name"; fail=1; }
done
for path in $(grep -o '[a-z_/.]*\.\(i\|h\|md\|sh\|rb\|lua\|in\)\b' "$page" | sort -u); do
    case $path in */*) [ -e "$root/$path" ] || [ -e "$root/bindings/$path" ] ||
        { echo "docs_check: architecture.md names $path, which does not exist"; fail=1; } ;; esac
done
src="$root/core/src"
for fn in $(sed -n 's/^[a-z][a-z_ *]*[ *]\(ns_[a-z0-9_]*\)(.*/\1/p' "$src/socket.c"); do
    for f in tls.c selector.c socket_info.c; do
        grep -q "\b$fn(" "$src/$f" &&
            { echo "docs_check: core/src/$f calls $fn (socket.c); architecture.md says socket.c -> $f"; fail=1; }
    done
done
if grep -rln 'API\.md\|FACTS\.md' "$root/README.md" "$root/bindings/README.md" "$root/core/include" \
        "$root/bindings/netsocket.i" "$root/docs"; then
    echo "docs_check: the files above point at API.md/FACTS.md (not in the repository)"; fail=1
fi
[ "$fail" -eq 0 ] && echo "docs_check: docs/architecture.md agrees with the tree"
exit "$fail"
