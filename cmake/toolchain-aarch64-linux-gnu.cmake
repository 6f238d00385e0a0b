# Cross-build for 64-bit Arm Linux with Debian's gcc-aarch64-linux-gnu and
# g++-aarch64-linux-gnu (sysroot: libc6-dev-arm64-cross in /usr/aarch64-linux-gnu):
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
# ctest runs the test programs under qemu-user-static (CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
find_program(NS_QEMU_AARCH64 qemu-aarch64-static)
if(NS_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${NS_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu")
endif()
