# libnetsocket.so.1: netsocket's sources with BoringSSL linked in and hidden.
# Only ns_* symbols leave the library, under the version node NETSOCKET_1.0
# (see cmake/netsocket.map.in and abi/README.md).

file(GLOB NS_CORE_SOURCES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/core/src/*.c")
configure_file("${CMAKE_CURRENT_LIST_DIR}/netsocket.map.in" "${PROJECT_BINARY_DIR}/netsocket.map" @ONLY)
configure_file("${CMAKE_CURRENT_LIST_DIR}/version.h.in" "${PROJECT_BINARY_DIR}/generated/ns_version.h" @ONLY)

add_library(netsocket SHARED ${NS_CORE_SOURCES})
target_include_directories(netsocket
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/core/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  PRIVATE "${PROJECT_SOURCE_DIR}/core/src" "${PROJECT_BINARY_DIR}/generated")
target_link_libraries(netsocket PRIVATE ns_project_flags ns_bssl_ssl)
set_target_properties(netsocket PROPERTIES
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  C_STANDARD 11 C_VISIBILITY_PRESET hidden
  LINKER_LANGUAGE CXX
  LINK_DEPENDS "${PROJECT_BINARY_DIR}/netsocket.map")
target_link_options(netsocket PRIVATE
  "-Wl,--version-script=${PROJECT_BINARY_DIR}/netsocket.map"
  "-Wl,--exclude-libs,ALL" "-Wl,--no-undefined" "-Wl,-z,relro,-z,now")

install(TARGETS netsocket EXPORT netsocketTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES "${PROJECT_SOURCE_DIR}/core/include/netsocket.h" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
