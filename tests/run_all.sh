#!/bin/bash
# The whole test suite, in phases, each with ctest as the runner:
#   1. build/       everything (C, bindings, ABI, packaging, interop) — ctest
#   2. build/       the C tests again under valgrind memcheck — ctest -L valgrind
#   3. build-asan/  the C tests under AddressSanitizer + UBSan — ctest -L c
#   4. build-aarch64/  cross-built for 64-bit Arm (gcc-aarch64-linux-gnu), the C
#                   tests run under qemu-user-static — ctest -L '^c$'; the Lua,
#                   Python and Ruby bindings cross-built and smoke-tested under
#                   qemu — tests/aarch64/bindings.sh
#   5. build-tsan/  the C tests (every threaded one) under ThreadSanitizer,
#                   BoringSSL built with -fsanitize=thread too — ctest -L c
#   6. build-fuzz/  clang + libFuzzer: each fuzz target (tests/fuzz, 7 of
#                   them) runs NS_FUZZ_SECONDS (default 25) seconds, BoringSSL
#                   in its fuzzer mode, corpora kept in build-fuzz/fuzz-corpus —
#                   tests/fuzz/run_fuzz.sh (about 3 minutes)
# NS_QUICK=1 skips phases 5 and 6 (for a quick local run; CI runs them), and
# says so at the start and the end.  Nothing skipped passes unseen: a ctest
# label that selects no test fails its phase (--no-tests=error), a C test
# that skipped a case shows as "Skipped" (exit 77), and phase 1 fails if a
# binding cannot be built (NS_REQUIRE_BINDINGS).
# BoringSSL's source is fetched once (into build/_deps, or wherever build/
# was configured to find it) and reused by every tree.  Every phase runs even if an earlier one failed; the exit status is
# non-zero if any failed.
set -u
cd "$(dirname "$0")/.."
jobs=${NS_JOBS:-2}
# CI installs the real TLS peers: a missing one is a failure, not a skip.
export NS_INTEROP_REQUIRE_PEERS=1
failed=()
left_out=()
[ "${NS_QUICK:-0}" = 1 ] && left_out=("5/6 ThreadSanitizer" "6/6 libFuzzer")
ctest() { command ctest --no-tests=error "$@"; }

phase() { echo; echo "=== $1 ==="; }

configure_and_build() { # dir, cmake args... (targets: $NS_BUILD_TARGETS, default all)
    local dir=$1; shift
    local targets=()
    [ -n "${NS_BUILD_TARGETS:-}" ] && targets=(--target $NS_BUILD_TARGETS)
    cmake -S . -B "$dir" "$@" >"$dir/ns-configure.log" 2>&1 || { cat "$dir/ns-configure.log"; return 1; }
    cmake --build "$dir" -j "$jobs" "${targets[@]}" >"$dir/ns-build.log" 2>&1 ||
        { tail -n 60 "$dir/ns-build.log"; return 1; }
}

start=$(date +%s)
[ ${#left_out[@]} -gt 0 ] && echo "run_all: NS_QUICK=1 leaves out phases: ${left_out[*]}"
phase "1/6 build and test everything (build/)"
mkdir -p build
if configure_and_build build -DNS_REQUIRE_BINDINGS=ON; then
    (cd build && ctest -j "$jobs" -LE valgrind --output-on-failure) || failed+=("tests")
else
    failed+=("build")
fi

phase "2/6 C tests under valgrind memcheck (build/)"
if [ -f build/CTestTestfile.cmake ]; then
    (cd build && ctest -j "$jobs" -L valgrind --output-on-failure) || failed+=("valgrind")
else
    failed+=("valgrind (no build)")
fi

phase "3/6 C tests under AddressSanitizer + UBSan (build-asan/)"
mkdir -p build-asan
bssl_src=$(sed -n 's/^NS_BORINGSSL_SOURCE_DIR:PATH=//p' build/CMakeCache.txt 2>/dev/null)
[ -n "$bssl_src" ] || bssl_src="$PWD/build/_deps/boringssl/tree"
if configure_and_build build-asan -DNS_SANITIZE=address,undefined -DNS_BUILD_BINDINGS=OFF \
        -DNS_BUILD_EXAMPLES=OFF -DNS_BORINGSSL_SOURCE_DIR="$bssl_src"; then
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -j "$jobs" -L c --output-on-failure) \
        || failed+=("asan")
else
    failed+=("asan build")
fi

phase "4/6 cross-built for aarch64, C tests under qemu-user-static (build-aarch64/)"
mkdir -p build-aarch64
# Every C test runs (ctest's emulator is qemu, see the toolchain file); the
# interop tests' openssl/gnutls peers are this machine's own x86_64 programs.
# Except c.test_openssl_coexistence: it loads OpenSSL 3 into the test process,
# and the cross sysroot has no aarch64 libssl.so.3.  Timing bounds are
# stretched: emulated TLS is several times slower.
if configure_and_build build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake \
        -DNS_BUILD_BINDINGS=OFF -DNS_BUILD_EXAMPLES=OFF -DNS_BUILD_ABI_CHECKS=OFF \
        -DNS_BORINGSSL_SOURCE_DIR="$bssl_src"; then
    (cd build-aarch64 && NS_TEST_TIME_SCALE=4 ctest -j "$jobs" -L '^c$' -E '^c\.test_openssl_coexistence$' \
    --output-on-failure) || failed+=("aarch64")
    # The Lua, Python and Ruby bindings: phase 1's SWIG output compiled for
    # aarch64 against Debian's arm64 interpreters (unpacked into
    # build-aarch64/sysroot, not installed), each smoke-tested under qemu:
    # version and a TLS round trip.  Any of the three failing fails the phase.
    sh tests/aarch64/bindings.sh build-aarch64 build || failed+=("aarch64 bindings")
else
    failed+=("aarch64 build")
fi

if [ "${NS_QUICK:-0}" != 1 ]; then
    phase "5/6 C tests under ThreadSanitizer (build-tsan/)"
    mkdir -p build-tsan
    # BoringSSL is instrumented too (NS_BORINGSSL_SANITIZE): TSan must see
    # its locks and atomics, or it reports races inside it.
    if configure_and_build build-tsan -DNS_SANITIZE=thread -DNS_BORINGSSL_SANITIZE=thread \
            -DNS_BUILD_BINDINGS=OFF -DNS_BUILD_EXAMPLES=OFF -DNS_BORINGSSL_SOURCE_DIR="$bssl_src"; then
        # TSan slows thread start-up: stretch the tests' time bounds (as
        # under valgrind), but keep the full torture and client counts.
        (cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
            NS_TEST_TIME_SCALE=4 NS_TORTURE_STRIDE=1 NS_HOSTILE_CLIENTS=1000 \
            ctest -j "$jobs" -L c --output-on-failure) || failed+=("tsan")
    else
        failed+=("tsan build")
    fi

    phase "6/6 libFuzzer targets, ${NS_FUZZ_SECONDS:-25} s each (build-fuzz/)"
    mkdir -p build-fuzz
    # Only the fuzzers: the instrumented tree's other targets (ABI variants,
    # tests) are not meant to link without the fuzzer runtime.
    if CC=clang CXX=clang++ NS_BUILD_TARGETS=fuzzers \
            configure_and_build build-fuzz -DNS_FUZZ=ON \
            -DNS_SANITIZE=fuzzer-no-link,address,undefined -DNS_BORINGSSL_SANITIZE=fuzzer-no-link \
            -DNS_BUILD_BINDINGS=OFF -DNS_BUILD_EXAMPLES=OFF -DNS_BORINGSSL_SOURCE_DIR="$bssl_src"; then
        bash tests/fuzz/run_fuzz.sh build-fuzz || failed+=("fuzz")
    else
        failed+=("fuzz build")
    fi
fi

echo
echo "run_all: $(( $(date +%s) - start )) s"
[ ${#left_out[@]} -gt 0 ] && echo "run_all: NOT RUN (NS_QUICK=1): ${left_out[*]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "run_all: FAILED phases: ${failed[*]}"
    exit 1
fi
if [ ${#left_out[@]} -gt 0 ]; then
    echo "run_all: every phase run passed (${#left_out[@]} left out)"
else
    echo "run_all: every phase passed"
fi
