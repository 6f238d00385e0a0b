# Builds BoringSSL from Debian's source package as static, PIC,
# hidden-visibility archives that are linked into libnetsocket and never
# exported (see FACTS.md: Debian's shared BoringSSL clashes with OpenSSL 3).
#
# The source is fetched once into the build tree (_deps/boringssl) and
# reused by every later configure; NS_BORINGSSL_SOURCE_DIR may point at an
# unpacked tree instead (e.g. shared between several build trees).

set(NS_BORINGSSL_SOURCE_DIR "" CACHE PATH "Unpacked BoringSSL source (Debian's android-platform-external-boringssl)")

if(NOT NS_BORINGSSL_SOURCE_DIR)
  set(_ns_bssl_cache "${CMAKE_BINARY_DIR}/_deps/boringssl")
  if(NOT EXISTS "${_ns_bssl_cache}/tree/android-sources.cmake")
    message(STATUS "Fetching BoringSSL source from Debian into ${_ns_bssl_cache}")
    execute_process(COMMAND sh "${CMAKE_CURRENT_LIST_DIR}/fetch-boringssl.sh" "${_ns_bssl_cache}"
                    RESULT_VARIABLE _ns_bssl_rc)
    if(NOT _ns_bssl_rc EQUAL 0)
      message(FATAL_ERROR "Could not fetch BoringSSL's source (see above)")
    endif()
  endif()
  set(NS_BORINGSSL_SOURCE_DIR "${_ns_bssl_cache}/tree")
endif()

set(BORINGSSL_ROOT "${NS_BORINGSSL_SOURCE_DIR}/")
include("${NS_BORINGSSL_SOURCE_DIR}/android-sources.cmake")

# The tree carries pre-generated assembly per platform: x86_64 and 64-bit Arm
# (cross-build: cmake/toolchain-aarch64-linux-gnu.cmake).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_ns_bssl_asm ${crypto_sources_linux_x86_64})
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(_ns_bssl_asm ${crypto_sources_linux_aarch64})
else()
  message(FATAL_ERROR "netsocket's BoringSSL build is set up for x86_64 and aarch64 Linux, not ${CMAKE_SYSTEM_PROCESSOR}")
endif()

enable_language(ASM)
add_library(ns_bssl_crypto STATIC ${crypto_sources} ${_ns_bssl_asm})
add_library(ns_bssl_ssl STATIC ${ssl_sources})
foreach(t ns_bssl_crypto ns_bssl_ssl)
  target_include_directories(${t} SYSTEM PUBLIC "${NS_BORINGSSL_SOURCE_DIR}/src/include")
  set_target_properties(${t} PROPERTIES POSITION_INDEPENDENT_CODE ON
                        C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden
                        VISIBILITY_INLINES_HIDDEN ON)
  # BoringSSL is third-party code: build it optimised and without our
  # warnings or sanitizers, whatever the build type.
  target_compile_options(${t} PRIVATE -O2 -w)
  target_compile_definitions(${t} PRIVATE _XOPEN_SOURCE=700 _GNU_SOURCE)
endforeach()
target_compile_options(ns_bssl_ssl PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti>)
# Opt-in instrumentation of BoringSSL itself, for trees that need it:
# "thread" for ThreadSanitizer (an uninstrumented BoringSSL hides its own
# synchronisation from TSan), "fuzzer-no-link" for coverage-guided fuzzing
# of its parsers.  Empty (the default) keeps BoringSSL uninstrumented.
set(NS_BORINGSSL_SANITIZE "" CACHE STRING "Sanitizers for BoringSSL too, e.g. thread or fuzzer-no-link")
if(NS_BORINGSSL_SANITIZE)
  foreach(t ns_bssl_crypto ns_bssl_ssl)
    target_compile_options(${t} PRIVATE -fsanitize=${NS_BORINGSSL_SANITIZE})
  endforeach()
endif()
# NS_FUZZ (top-level CMakeLists.txt): BoringSSL in its fuzzer mode, which
# is insecure by design: deterministic, records unencrypted, Finished and
# signatures always pass, so a fuzzed peer gets past the first flight to
# application data.  PUBLIC: the library and the fuzz targets see it too.
if(NS_FUZZ)
  foreach(t ns_bssl_crypto ns_bssl_ssl)
    target_compile_definitions(${t} PUBLIC BORINGSSL_UNSAFE_FUZZER_MODE
                                           BORINGSSL_UNSAFE_DETERMINISTIC_MODE)
  endforeach()
endif()
target_link_libraries(ns_bssl_ssl PUBLIC ns_bssl_crypto)
find_package(Threads REQUIRED)
target_link_libraries(ns_bssl_crypto PUBLIC Threads::Threads)
