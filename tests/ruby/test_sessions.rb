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
  def read(name) = File.binread(File.join(SESSION_CERT_DIR, name))

  def tls_server(**fields)
    o = Netsocket.server_tls_socket_options(certificates: [read("server.pem")], private_key: read("server.key"),
                                            non_blocking: false, read_timeout: 5_000_000, **fields)
    Netsocket.make_server_tls_socket("127.0.0.1", 0, o)
  end

  def client_options(**fields, &verifier)
    Netsocket.tls_socket_options(trusted_certificates: [read("ca.pem")], non_blocking: false,
                                 read_timeout: 5_000_000, **fields, &verifier)
  end

  # Accepts n connections in turn, echoing one read; session_reused? of each.
  def serve(srv, count)
    Thread.new do
      Array.new(count) do
        conn = srv.accept
        reused = conn.session_reused?
        conn.send_all(conn.recv(10))
        conn.close
        reused
      end
    end
  end

  # One connection: [resumed?, the saved session or the error saving it].
  def visit(srv, options)
    c = Netsocket.make_client_tls_socket("127.0.0.1", srv.info[1], options)
    c.send_all("ping")
    assert_equal "ping", c.recv(10) # brings the TLS 1.3 tickets
    saved = begin
      c.save_session
    rescue Netsocket::ValueError => e
      e
    end
    [c.session_reused?, saved]
  ensure
    c&.close
  end

  def test_one_options_object_resumes_and_runs_the_verifier
    srv = tls_server
    server = serve(srv, 4)
    calls = []
    o = client_options { |depth, err, _der| calls << depth; err.zero? }
    assert_equal true, o.session_resumption
    assert_equal false, visit(srv, o)[0]
    assert_equal [1, 0], calls
    reused, saved = visit(srv, o)
    assert_equal true, reused
    assert_equal Encoding::BINARY, saved.encoding
    assert_equal [1, 0, 1, 0], calls # again, over the session's stored chain
    # A restarted process: new options given the saved session first.
    fresh = Netsocket.tls_socket_options(sessions: [saved], trusted_certificates: [read("ca.pem")],
                                         non_blocking: false, read_timeout: 5_000_000)
    assert_equal true, visit(srv, fresh)[0]
    o.add_alpn("x-test")
    o.clear_alpn
    assert_equal false, visit(srv, o)[0]
    assert_equal [false, true, true, false], server.value
  ensure
    srv&.close
  end

  def test_bad_saved_sessions_and_resumption_off
    srv = tls_server(session_resumption: false)
    server = serve(srv, 2)
    o = client_options
    reused, why = visit(srv, o)
    assert_equal false, reused
    assert_equal "save-session with 127.0.0.1:#{srv.info[1]}: no resumable session (resumption off, or no " \
                 "ticket yet: TLS 1.3 tickets arrive with the first data received)", why.message
    assert_equal [false, false], [visit(srv, o)[0], server.value[1]]
    e = assert_raises(Netsocket::ValueError) { client_options(sessions: ["not a session"]) }
    assert_equal "session: not a saved netsocket session", e.message
  ensure
    srv&.close
  end

  def test_corrupt_saved_session_is_refused
    srv = tls_server
    server = serve(srv, 1)
    saved = visit(srv, client_options)[1]
    server.join
    bad = saved.dup
    bad.setbyte(bad.bytesize / 2, bad.getbyte(bad.bytesize / 2) ^ 0x20)
    e = assert_raises(Netsocket::ValueError) { client_options(sessions: [bad]) }
    assert_equal "session: corrupt (checksum mismatch)", e.message
  ensure
    srv&.close
  end

  def test_changing_options_while_threads_connect
    out, err, status = Open3.capture3(RbConfig.ruby, *$LOAD_PATH.grep(/netsocket|bindings/).map { |d| "-I#{d}" },
                                      "-e", MUTATE_WHILE_CONNECTING, SESSION_CERT_DIR)
    assert_equal [0, "2000 true true\n", ""], [status.exitstatus, out, err]
  end
end
