#!/bin/bash
# The whole test suite, in phases, each with ctest as the runner:
#   1. build/       everything (C, bindings, ABI, packaging, interop) — ctest
#   2. build/       the C tests again under valgrind memcheck — ctest -L valgrind
#   3. build-asan/  the C tests under AddressSanitizer + UBSan — ctest -L c
# BoringSSL's source is fetched once (into build/_deps) and reused by every
# tree.  Every phase runs even if an earlier one failed; the exit status is
# non-zero if any failed.
set -u
cd "$(dirname "$0")/.."
jobs=${NS_JOBS:-2}
# CI installs the real TLS peers: a missing one is a failure, not a skip.
export NS_INTEROP_REQUIRE_PEERS=1
failed=()

phase() { echo; echo "=== $1 ==="; }

configure_and_build() { # dir, cmake args...
    local dir=$1; shift
    cmake -S . -B "$dir" "$@" >"$dir/ns-configure.log" 2>&1 || { cat "$dir/ns-configure.log"; return 1; }
    cmake --build "$dir" -j "$jobs" >"$dir/ns-build.log" 2>&1 || { tail -n 60 "$dir/ns-build.log"; return 1; }
}

start=$(date +%s)
phase "1/3 build and test everything (build/)"
mkdir -p build
if configure_and_build build; then
    (cd build && ctest -j "$jobs" -LE valgrind --output-on-failure) || failed+=("tests")
else
    failed+=("build")
fi

phase "2/3 C tests under valgrind memcheck (build/)"
if [ -f build/CTestTestfile.cmake ]; then
    (cd build && ctest -j "$jobs" -L valgrind --output-on-failure) || failed+=("valgrind")
else
    failed+=("valgrind (no build)")
fi

phase "3/3 C tests under AddressSanitizer + UBSan (build-asan/)"
mkdir -p build-asan
bssl_src="$PWD/build/_deps/boringssl/tree"
if configure_and_build build-asan -DNS_SANITIZE=address,undefined -DNS_BUILD_BINDINGS=OFF \
        -DNS_BUILD_EXAMPLES=OFF -DNS_BORINGSSL_SOURCE_DIR="$bssl_src"; then
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -j "$jobs" -L c --output-on-failure) \
        || failed+=("asan")
else
    failed+=("asan build")
fi

echo
echo "run_all: $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "run_all: FAILED phases: ${failed[*]}"
    exit 1
fi
echo "run_all: every phase passed"
