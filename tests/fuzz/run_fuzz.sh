#!/bin/bash
# Runs every libFuzzer target of a fuzz build tree for a bounded time.
#   tests/fuzz/run_fuzz.sh BUILD_DIR        (BUILD_DIR made with -DNS_FUZZ=ON, clang)
# The targets are those BUILD_DIR/tests/fuzz/fuzz-targets.txt names (written
# from the list in tests/fuzz/CMakeLists.txt).  NS_FUZZ_SECONDS (default 25;
# CI needs more than 20) bounds each target: 7 targets, about 3 minutes.
# Each starts from its committed seeds (tests/fuzz/corpus/<target>), its regression inputs
# (tests/fuzz/regressions/<target>) and the corpus it grew in earlier runs,
# NS_FUZZ_CORPUS/<target> (default BUILD_DIR/fuzz-corpus; CI keeps it between
# runs), where it writes new inputs: the committed seeds stay small, the
# corpus keeps growing.  A crash, leak or timeout fails the run;
# the input is kept as BUILD_DIR/fuzz-artifacts/<target>-crash-*: once the
# bug is fixed, add it to tests/fuzz/regressions/<target>/, where every
# build's ctest (fuzz-replay.*) replays it.
set -u
build=$(cd "$1" && pwd) || exit 1
cd "$(dirname "$0")"
seconds=${NS_FUZZ_SECONDS:-25}
corpora=${NS_FUZZ_CORPUS:-$build/fuzz-corpus}
failed=()
mkdir -p "$build/fuzz-artifacts"
targets=$(cat "$build/tests/fuzz/fuzz-targets.txt") || exit 1
for target in $targets; do
    work=$corpora/$target
    mkdir -p "$work"
    dirs=("$work" corpus/$target)
    [ -d regressions/$target ] && dirs+=(regressions/$target)
    echo "--- $target: ${seconds} s"
    if "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -max_len=8192 -print_final_stats=1 \
            -artifact_prefix="$build/fuzz-artifacts/$target-" "${dirs[@]}" \
            >"$build/fuzz-artifacts/$target.log" 2>&1; then
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$build/fuzz-artifacts/$target.log" | tail -3
        echo "corpus: $(ls "$work" | wc -l) inputs in $work"
    else
        tail -n 40 "$build/fuzz-artifacts/$target.log"
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs in $build/fuzz-artifacts/)"
    exit 1
fi
echo "fuzz: every target ran ${seconds} s without a finding"
