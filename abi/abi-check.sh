#!/bin/sh
# The ABI check of libnetsocket (see abi/README.md).
#
#   abi-check.sh dump   LIB OUT.abi.xml HEADERS_DIR
#       Writes LIB's ABI (exported functions, the types they reach, symbol
#       versions, SONAME) as libabigail XML.  This is how the committed
#       baselines are made, and how the check reads a fresh build.
#   abi-check.sh check  BASELINE.abi.xml LIB HEADERS_DIR [WORK_DIR]
#       Exit 0 if LIB can replace the library the baseline was taken from,
#       1 if it cannot (the report says why), 2 if the tools failed.
#   abi-check.sh expect-reject BASELINE.abi.xml LIB HEADERS_DIR [WORK_DIR]
#       The check's own test: exit 0 only if `check` says 1 (incompatible).
#
# Compatible = the same SONAME, and nothing of the baseline removed or changed
# (functions, their parameter and return types, enumerator values, symbol
# versions).  Added functions pass, but only in a version node the baseline
# does not have: the nodes of a release are frozen.
#
# Only types are compared: source locations, build paths and the compiler's
# type numbering are not read, so a baseline made on one machine checks a
# build made on another.
set -u

ABI_DW_OPTS="--no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed
 --exported-interfaces-only --drop-private-types"

SUPPRESSIONS="$(dirname "$0")/opaque-types.abignore"

die() { echo "abi-check: $*" >&2; exit 2; }

need_tools() {
    [ -f "$SUPPRESSIONS" ] || die "missing $SUPPRESSIONS"
    command -v abidw >/dev/null 2>&1 && command -v abidiff >/dev/null 2>&1 ||
        die "abidw/abidiff not found (Debian: apt-get install abigail-tools)"
}

dump() {  # LIB OUT HEADERS_DIR
    [ -f "$1" ] || die "no library at $1"
    [ -d "$3" ] || die "no headers directory at $3"
    # shellcheck disable=SC2086  # the options are meant to split
    abidw $ABI_DW_OPTS --headers-dir "$3" --out-file "$2.tmp" "$1" || die "abidw failed on $1"
    # Translation units keep their file name only, not the build machine's path.
    sed "s|^\( *<abi-instr .* path='\)[^']*/\([^'/]*'\)|\1\2|" "$2.tmp" > "$2" && rm -f "$2.tmp" ||
        die "cannot write $2"
    grep -q '<function-decl' "$2" || die "abidw found no exported function with debug info in $1 (built without -g?)"
}

# "name version" for every defined symbol of an abidw XML file.
symbols() {
    sed -n "s/.*<elf-symbol name='\([^']*\)' version='\([^']*\)'.*is-defined='yes'.*/\1 \2/p" "$1" | sort
}

check() {  # BASELINE LIB HEADERS_DIR WORK_DIR
    base=$1 lib=$2 hdr=$3 work=$4
    [ -f "$base" ] || die "no baseline at $base"
    mkdir -p "$work" || die "cannot create $work"
    new="$work/$(basename "$lib").abi.xml"
    dump "$lib" "$new" "$hdr"

    echo "== abidiff $(basename "$base") $lib"
    abidiff --no-show-locs --suppressions "$SUPPRESSIONS" "$base" "$new"
    rc=$?
    # abidiff's exit status is a bit set: 1 error, 2 usage, 4 ABI change,
    # 8 incompatible change (a removed symbol, a changed SONAME).
    [ $((rc & 3)) -eq 0 ] || die "abidiff failed (status $rc)"
    verdict=0
    if [ $((rc & 8)) -ne 0 ]; then
        verdict=1
    elif [ $((rc & 4)) -ne 0 ]; then
        # Any change other than additions (changed types, enumerator values).
        abidiff --no-show-locs --suppressions "$SUPPRESSIONS" --no-added-syms "$base" "$new" >/dev/null
        rc2=$?
        [ $((rc2 & 3)) -eq 0 ] || die "abidiff failed (status $rc2)"
        [ "$rc2" -eq 0 ] || verdict=1
    fi

    # Frozen version nodes: a symbol the baseline lacks must not join a node
    # the baseline has (the version script's ns_* wildcard would put it there).
    symbols "$base" > "$work/base.syms"
    symbols "$new" > "$work/new.syms"
    cut -d' ' -f2 "$work/base.syms" | sort -u > "$work/base.nodes"
    cut -d' ' -f1 "$work/base.syms" > "$work/base.names"
    while read -r name node; do
        grep -qx "$name" "$work/base.names" && continue
        if grep -qx "$node" "$work/base.nodes"; then
            echo "$name was added to $node, a node released with the baseline:" \
                 "list it in a new node of cmake/netsocket.map.in"
            verdict=1
        fi
    done < "$work/new.syms"

    if [ "$verdict" -eq 0 ]; then
        echo "== compatible with $(basename "$base")"
    else
        echo "== INCOMPATIBLE with $(basename "$base")"
    fi
    return "$verdict"
}

[ $# -ge 1 ] || die "usage: $0 dump|check|expect-reject ..."
mode=$1
shift
need_tools
case $mode in
dump)
    [ $# -eq 3 ] || die "usage: $0 dump LIB OUT HEADERS_DIR"
    dump "$1" "$2" "$3"
    ;;
check | expect-reject)
    [ $# -ge 3 ] || die "usage: $0 $mode BASELINE LIB HEADERS_DIR [WORK_DIR]"
    work=${4:-$(mktemp -d)}
    check "$1" "$2" "$3" "$work"
    rc=$?
    if [ "$mode" = check ]; then
        exit "$rc"
    fi
    case $rc in
    1) echo "== rejected, as expected" ;;
    0) echo "== the check ACCEPTED a library it must reject" >&2; exit 1 ;;
    *) exit "$rc" ;;
    esac
    ;;
*)
    die "unknown mode $mode"
    ;;
esac
