# frozen_string_literal: true

# TLS configuration compiled once per options object and shared by threads;
# client session resumption, saved sessions and the verifier on resumption.
require "open3"
require "rbconfig"
require "tmpdir"
require "minitest/autorun"
require "netsocket"

SESSION_CERT_DIR = Dir.mktmpdir("netsocket-certs")
Minitest.after_run { FileUtils.rm_rf(SESSION_CERT_DIR) }
system("sh", File.expand_path("../gen-certs.sh", __dir__), SESSION_CERT_DIR, exception: true)

# Run in a child, so that a crash (SIGSEGV before the fix) fails the test.
MUTATE_WHILE_CONNECTING = <<~'RUBY'
  require "netsocket"
  ca = File.binread(File.join(ARGV[0], "ca.pem"))
  srv = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(non_blocking: false))
  port = srv.info[1]
  # No handshake: a connect is mostly the TLS context being built from o.
  o = Netsocket.tls_socket_options(trusted_certificates: [ca], handshake: false, non_blocking: false,
                                   connection_timeout: 5_000_000)
  clients, connects = 4, 500
  made = Queue.new
  server = Thread.new { (clients * connects).times { srv.accept.close } }
  threads = Array.new(clients) do
    Thread.new do
      connects.times do
        c = Netsocket.make_client_tls_socket("127.0.0.1", port, o)
        made << c.tls?
        c.close
      end
    end
  end
  changes = 0
  deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 60
  while threads.any?(&:alive?) && Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline
    o.clear_trusted_certificates
    o.add_trusted_certificate(ca * 20) # a list for a connect to walk
    o.add_alpn("x-test")
    o.clear_alpn
    changes += 1
  end
  threads.each { |t| t.join(60) }
  server.join(60)
  all = Array.new(made.size) { made.pop }
  puts "#{all.size} #{all.all?} #{changes.positive?}"
RUBY

class SessionTest < Minitest::Test
  def test_changing_options_while_threads_connect
    out, err, status = Open3.capture3(RbConfig.ruby, *$LOAD_PATH.grep(/netsocket|bindings/).map { |d| "-I#{d}" },
                                      "-e", MUTATE_WHILE_CONNECTING, SESSION_CERT_DIR)
    assert_equal [0, "2000 true true\n", ""], [status.exitstatus, out, err]
  end
end
