# frozen_string_literal: true

# Test certificates for the Ruby test files, made by gen-certs.sh into a
# directory removed after the run.
require "fileutils"
require "tmpdir"
require "minitest"

CERT_DIR = Dir.mktmpdir("netsocket-certs")
Minitest.after_run { FileUtils.rm_rf(CERT_DIR) }
system("sh", File.expand_path("../gen-certs.sh", __dir__), CERT_DIR, exception: true)

# Helpers for test classes: `include CertHelpers`.
module CertHelpers
  def cert(name) = File.binread(File.join(CERT_DIR, name))

  # Blocking socket options with a read timeout (tests never hang).
  def blocking(**fields) = { non_blocking: false, read_timeout: 5_000_000 }.merge(fields)
end
