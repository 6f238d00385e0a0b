# frozen_string_literal: true

# Ruby packaging for netsocket (no network needed):
#   cd bindings/ruby && gem build netsocket.gemspec
#   gem install --local netsocket-*.gem -- --with-netsocket-dir=PREFIX
# Building the gem runs SWIG on ../netsocket.i and ships the generated
# wrapper and netsocket.h; installing compiles it against the libnetsocket
# that `cmake --install` put in PREFIX (or NETSOCKET_LIB_DIR, or the system
# paths), with that directory as the extension's rpath.
root = File.expand_path("../..", __dir__)
ext = File.join(__dir__, "ext", "netsocket")
interface = File.join(root, "bindings", "netsocket.i")
if File.exist?(interface) # in the source tree: generate the wrapper
  header = File.join(root, "core", "include", "netsocket.h")
  system("swig", "-ruby", "-I#{File.dirname(header)}", "-I#{File.dirname(interface)}",
         "-o", File.join(ext, "netsocket_wrap.c"), interface, exception: true)
  File.write(File.join(ext, "netsocket.h"), File.read(header))
end
version_file = File.join(root, "VERSION")

Gem::Specification.new do |s|
  s.name = "netsocket"
  s.version = File.read(version_file).split.first # the one source: VERSION
  s.summary = "Plain TCP and TLS sockets (BoringSSL inside libnetsocket) for Ruby"
  s.authors = ["netsocket developers"]
  s.license = "Nonstandard"
  s.required_ruby_version = ">= 3.0"
  s.files = %w[lib/netsocket.rb lib/netsocket/fiber_scheduler.rb lib/netsocket/api.rb ext/netsocket/extconf.rb ext/netsocket/netsocket_wrap.c ext/netsocket/netsocket.h]
  s.extensions = ["ext/netsocket/extconf.rb"]
  s.require_paths = ["lib"]
end
