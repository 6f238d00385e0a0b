#!/bin/sh
# check-exports.sh LIB HEADER
# The dynamic symbol table of libnetsocket holds exactly the public API:
#  - every DEFINED dynamic symbol is an ns_* function with a NETSOCKET_*
#    version, or a NETSOCKET_* version node itself (BoringSSL, libstdc++
#    and helper symbols stay hidden);
#  - the ns_* symbols are exactly the functions the header declares NS_API;
#  - every UNDEFINED symbol is versioned (it comes from glibc/libgcc), or is
#    one of the weak, optional references listed below.  These are not
#    exports: they are hooks that stay NULL unless the process defines them.
set -u
lib=$1 header=$2

# Weak undefined references the library is allowed to carry.
TOLERATED_UNDEFINED="
OPENSSL_memory_alloc
OPENSSL_memory_free
OPENSSL_memory_get_size
sdallocx
__gmon_start__
_ITM_deregisterTMCloneTable
_ITM_registerTMCloneTable
"

fail=0
bad() { echo "check-exports: $*"; fail=1; }

[ -f "$lib" ] || { echo "check-exports: no library at $lib"; exit 2; }
command -v nm >/dev/null 2>&1 || { echo "check-exports: nm not found (binutils)"; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

nm -D --defined-only "$lib" > "$work/defined" || exit 2
nm -D --undefined-only "$lib" > "$work/undefined" || exit 2

# Defined: "ADDR TYPE NAME@@NODE" or "ADDR A NODE".
while read -r _ type sym; do
    case "$type $sym" in
    "A NETSOCKET_"*) ;;
    "T ns_"*@@NETSOCKET_*) echo "${sym%%@*}" >> "$work/exported" ;;
    *) bad "unexpected export: $type $sym" ;;
    esac
done < "$work/defined"

# Undefined: "TYPE NAME[@VERSION]".  Not checked in a sanitizer build: its
# runtime (libasan, libubsan) is unversioned.
if [ -n "${NS_ABI_SANITIZED:-}" ]; then
    echo "check-exports: sanitizer build ($NS_ABI_SANITIZED): undefined symbols not checked"
    : > "$work/undefined"
fi
while read -r type sym; do
    case "$sym" in
    *@*) continue ;;
    esac
    if [ "$type" = w ] && printf '%s\n' "$TOLERATED_UNDEFINED" | grep -qx "$sym"; then
        continue
    fi
    bad "unexpected unversioned undefined symbol: $type $sym"
done < "$work/undefined"

# The functions the header declares NS_API (the name is on the NS_API line).
sed -n 's/^NS_API .*[ *]\(ns_[a-z0-9_]*\)(.*/\1/p' "$header" | sort > "$work/declared"
sort -o "$work/exported" "$work/exported" 2>/dev/null || : > "$work/exported"
comm -23 "$work/declared" "$work/exported" | while read -r f; do
    echo "check-exports: declared in the header but not exported: $f"
done | grep . && fail=1
comm -13 "$work/declared" "$work/exported" | while read -r f; do
    echo "check-exports: exported but not declared NS_API in the header: $f"
done | grep . && fail=1

n=$(wc -l < "$work/exported")
[ "$n" -gt 0 ] || bad "no ns_* function exported"
[ "$fail" -eq 0 ] && echo "check-exports: $n ns_* functions exported, nothing else"
exit "$fail"
