# frozen_string_literal: true

# Builds netsocket/netsocket.so from the SWIG wrapper shipped in the gem.
require "mkmf"

if (lib_dir = ENV["NETSOCKET_LIB_DIR"])
  $LDFLAGS << " -L#{lib_dir} -Wl,-rpath,#{lib_dir}"
end
dir_config("netsocket")
$CFLAGS << " -Wno-unused-function -Wno-unused-parameter"
$INCFLAGS << " -I$(srcdir)"
unless have_library("netsocket", "ns_version", "netsocket.h")
  abort "libnetsocket not found: set NETSOCKET_LIB_DIR or pass --with-netsocket-dir"
end
create_makefile("netsocket/netsocket")
