# frozen_string_literal: true

# Builds netsocket/netsocket.so from the SWIG wrapper shipped in the gem,
# against an installed libnetsocket (`cmake --install`):
#   gem install netsocket-1.1.0.gem -- --with-netsocket-dir=PREFIX
# (or NETSOCKET_LIB_DIR=DIR holding libnetsocket.so, e.g. a build tree).
# The extension records the library's directory as its rpath, so `require`
# finds it without LD_LIBRARY_PATH.
require "mkmf"

lib_dirs = [ENV.fetch("NETSOCKET_LIB_DIR", nil)]
_, lib_dir = dir_config("netsocket")
lib_dirs += lib_dir.to_s.split(File::PATH_SEPARATOR)
lib_dirs.compact.reject(&:empty?).uniq.each do |dir|
  $LDFLAGS << " -L#{dir} -Wl,-rpath,#{dir}"
end
$CFLAGS << " -Wno-unused-function -Wno-unused-parameter"
$INCFLAGS << " -I$(srcdir)"
unless have_library("netsocket", "ns_version", "netsocket.h")
  abort "libnetsocket not found: pass -- --with-netsocket-dir=PREFIX (where cmake --install put it) " \
        "or set NETSOCKET_LIB_DIR"
end
create_makefile("netsocket/netsocket")
