# libnetsocket.so.1: netsocket's sources with BoringSSL linked in and hidden.
# Only ns_* symbols leave the library, under the version node NETSOCKET_1.0
# (see cmake/netsocket.map.in and abi/README.md).

file(GLOB NS_CORE_SOURCES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/core/src/*.c")
configure_file("${CMAKE_CURRENT_LIST_DIR}/netsocket.map.in" "${PROJECT_BINARY_DIR}/netsocket.map" @ONLY)
configure_file("${CMAKE_CURRENT_LIST_DIR}/version.h.in" "${PROJECT_BINARY_DIR}/generated/ns_version.h" @ONLY)

# Makes `target` a libnetsocket: the core sources, BoringSSL hidden inside,
# hidden visibility, the SONAME libnetsocket.so.<soversion> and the exports
# of version script `map`.  abi/CMakeLists.txt builds deliberately broken
# variants with it, so they differ from the real library only where meant.
function(ns_make_library target map soversion)
  target_sources(${target} PRIVATE ${NS_CORE_SOURCES})
  target_include_directories(${target}
    PRIVATE "${PROJECT_SOURCE_DIR}/core/src" "${PROJECT_BINARY_DIR}/generated")
  target_link_libraries(${target} PRIVATE ns_project_flags ns_bssl_ssl)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME netsocket
    VERSION ${PROJECT_VERSION} SOVERSION ${soversion}
    C_STANDARD 11 C_VISIBILITY_PRESET hidden
    LINKER_LANGUAGE CXX
    LINK_DEPENDS "${map}")
  # -z nodelete: dlclose never unmaps the library.  BoringSSL inside it
  # registers thread-local destructors (pthread keys) that run at each
  # thread's exit; a thread that outlives an unload (a runtime closing an
  # extension, lua_close on a worker thread's state) would otherwise run
  # unmapped code then (tests/c/dlclose_thread.c).  The cost: one mapping
  # that stays until the process ends, as for a library linked directly.
  target_link_options(${target} PRIVATE
    "-Wl,--version-script=${map}"
    "-Wl,--exclude-libs,ALL" "-Wl,--no-undefined" "-Wl,-z,relro,-z,now" "-Wl,-z,nodelete")
  # NS_FUZZ: clang leaves the sanitizer and coverage runtimes to the
  # executable, so the instrumented library links with those undefined.
  if(NS_FUZZ)
    target_link_options(${target} PRIVATE "-Wl,-z,undefs")
  endif()
endfunction()

add_library(netsocket SHARED)
ns_make_library(netsocket "${PROJECT_BINARY_DIR}/netsocket.map" ${PROJECT_VERSION_MAJOR})
target_include_directories(netsocket
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/core/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
add_library(netsocket::netsocket ALIAS netsocket)

# Install: the header, libnetsocket.so.M.N.P with its .so.M and .so links,
# netsocket.pc and the CMake package (find_package(netsocket) ->
# netsocket::netsocket).  Both package files are relocatable: they find the
# prefix from where they are installed.
include(CMakePackageConfigHelpers)
set(NS_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/netsocket")

install(TARGETS netsocket EXPORT netsocketTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES "${PROJECT_SOURCE_DIR}/core/include/netsocket.h" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT netsocketTargets NAMESPACE netsocket:: DESTINATION "${NS_CMAKE_INSTALL_DIR}")

configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/netsocketConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/netsocketConfig.cmake" INSTALL_DESTINATION "${NS_CMAKE_INSTALL_DIR}")
# A program built against 1.N runs with any later 1.x: same major, not older.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/netsocketConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/netsocketConfig.cmake" "${PROJECT_BINARY_DIR}/netsocketConfigVersion.cmake"
  DESTINATION "${NS_CMAKE_INSTALL_DIR}")

# netsocket.pc locates the prefix relative to its own directory (${pcfiledir}).
set(_ns_pcdir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${_ns_pcdir}")
  set(NS_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _ns_up "/root/${_ns_pcdir}" "/root")
  string(REGEX REPLACE "/$" "" _ns_up "${_ns_up}")
  set(NS_PC_PREFIX "\${pcfiledir}/${_ns_up}")
endif()
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(NS_PC_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(NS_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
configure_file("${CMAKE_CURRENT_LIST_DIR}/netsocket.pc.in" "${PROJECT_BINARY_DIR}/netsocket.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/netsocket.pc" DESTINATION "${_ns_pcdir}")
