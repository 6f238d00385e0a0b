#!/bin/bash
# Runs every benchmark side by side with its baseline and prints one table
# of ratios (netsocket / baseline; see RESULTS.md for how to read it).
#
#   bash tests/bench/run.sh [--quick] [--runs N] [--record] [--build DIR] [--bindings DIR]
#
# --quick   tiny sizes, one run each (seconds; figures meaningless)
# --runs N  alternating runs per variant, median reported (default 5)
# --record  also rewrite tests/bench/RESULTS.md with this run
# --build   the build tree (default: build); built first if needed
# --bindings the build tree whose bindings/{python,ruby,lua} hold the
#           modules (default: the --build tree); only read, never built
#
# The language-binding benchmarks (bench_python.py, bench_ruby.rb,
# bench_lua.lua) run when their script exists and the netsocket module
# loads from the build tree; otherwise they are skipped with a message.
# Benchmarks are measurements: nothing here fails on a time.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=build bindings= quick=() runs=() record=0
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=(--quick) ;;
    --runs) runs=(--runs "$2"); shift ;;
    --record) record=1 ;;
    --build) build=$2; shift ;;
    --bindings) bindings=$2; shift ;;
    *) echo "usage: $0 [--quick] [--runs N] [--record] [--build DIR] [--bindings DIR]" >&2; exit 2 ;;
    esac
    shift
done
case $build in /*) ;; *) build=$root/$build ;; esac
bindings=${bindings:-$build}
case $bindings in /*) ;; *) bindings=$root/$bindings ;; esac
bench=$build/tests/bench
args=("${quick[@]}" "${runs[@]}" --rows-only)

if [ ! -x "$bench/bench_tcp" ]; then
    echo "building in $build ..." >&2
    { [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build"; } >&2 &&
        cmake --build "$build" -j2 >&2 || exit 1
fi

failed=0
table=$(mktemp)
trap 'rm -f "$table"' EXIT
row() { tee -a "$table"; }
skip() { echo "skipped: $*" >&2; echo "| $1 | skipped: ${*:2} | | | | |" | row; }

{
    echo "| item | figure | netsocket | baseline | ratio | target |"
    echo "|---|---|---:|---:|---:|---|"
} | row
for prog in bench_tcp bench_tls bench_python bench_ruby bench_lua bench_memory bench_selector bench_resume \
        bench_selector_python bench_selector_ruby bench_selector_lua bench_asyncio bench_happy_eyeballs; do
    case $prog in
    bench_selector_python | bench_asyncio)
        dir=$bindings/bindings/python
        if ! PYTHONPATH=$dir /usr/bin/python3 -c 'import netsocket' 2>/dev/null; then
            skip "12 $prog" "netsocket module not importable from $dir"
        else
            PYTHONPATH=$dir PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$here/$prog.py" "${args[@]}" | row
            [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
        fi ;;
    bench_selector_ruby)
        ruby -I "$bindings/bindings/ruby" "$here/$prog.rb" "${args[@]}" | row
        [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1 ;;
    bench_selector_lua)
        dir=$bindings/bindings/lua
        LUA_CPATH="$dir/?.so;;" LUA_PATH="$dir/?.lua;;" lua5.4 "$here/$prog.lua" "${args[@]}" | row
        [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1 ;;
    bench_python)
        py=/usr/bin/python3 dir=$bindings/bindings/python
        if [ ! -f "$here/bench_python.py" ]; then skip "3 Python" "no bench_python.py"
        elif ! PYTHONPATH=$dir $py -c 'import netsocket' 2>/dev/null; then
            skip "3 Python" "netsocket module not importable from $dir"
        else
            PYTHONPATH=$dir PYTHONDONTWRITEBYTECODE=1 $py "$here/bench_python.py" "${args[@]}" | row
            [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
        fi ;;
    bench_ruby)
        dir=$bindings/bindings/ruby
        if [ ! -f "$here/bench_ruby.rb" ]; then skip "4 Ruby" "no bench_ruby.rb yet"
        elif ! ruby -I "$dir" -e 'require "netsocket"' 2>/dev/null; then
            skip "4 Ruby" "netsocket extension not loadable from $dir"
        else
            ruby -I "$dir" "$here/bench_ruby.rb" "${args[@]}" | row
            [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
        fi ;;
    bench_lua)
        dir=$bindings/bindings/lua
        if [ ! -f "$here/bench_lua.lua" ]; then skip "4 Lua" "no bench_lua.lua yet"
        elif ! LUA_CPATH="$dir/?.so;;" LUA_PATH="$dir/?.lua;;" lua5.4 -e 'require "netsocket"' 2>/dev/null; then
            skip "4 Lua" "netsocket module not loadable from $dir"
        else
            LUA_CPATH="$dir/?.so;;" LUA_PATH="$dir/?.lua;;" lua5.4 "$here/bench_lua.lua" "${args[@]}" | row
            [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
        fi ;;
    *)
        "$bench/$prog" "${args[@]}" | row
        [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "$prog failed" >&2; failed=1; } ;;
    esac
done

if [ $record -eq 1 ]; then
    cmd="bash tests/bench/run.sh${quick:+ --quick}${runs:+ ${runs[*]}}"
    [ "$bindings" = "$build" ] || cmd="$cmd --bindings $bindings"
    python3 "$here/record.py" "$here/RESULTS.md" "$table" "$cmd" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null)" || failed=1
fi
exit $failed
