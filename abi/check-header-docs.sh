#!/bin/sh
# check-header-docs.sh HEADER
# Every NS_API declaration sits in a paragraph (lines between blank lines)
# that holds a doc comment: either its own comment or the comment of the
# small group it belongs to (libuv style).  What the comments say is for
# review; this only catches a function added without one.
awk '
function flush() {
    if (decls != "" && !has_comment) { printf "undocumented: %s\n", decls; bad = 1 }
    decls = ""; has_comment = 0
}
/^[ \t]*$/ { flush(); next }
/\/\*/ { has_comment = 1 }
/^NS_API/ {
    name = $0; sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
    decls = decls " " name; n++
}
END { flush(); if (!bad) printf "check-header-docs: %d NS_API declarations, all documented\n", n; exit bad }
' "$1"
