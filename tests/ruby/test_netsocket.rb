# frozen_string_literal: true

# Ruby binding tests (minitest): loopback only, every wait bounded.
# OpenSSL is required before netsocket on purpose: both TLS libraries live
# in this process (Ruby loads extensions RTLD_GLOBAL).
require "openssl"
require "socket"
require "tmpdir"
require "timeout"
require "minitest/autorun"
require "netsocket"

require_relative "certs"
require_relative "heap"
TIMEOUT_US = 5_000_000

def cert(name) = File.binread(File.join(CERT_DIR, name))
def cert_path(name) = File.join(CERT_DIR, name)

def blocking(**fields)
  { non_blocking: false, read_timeout: TIMEOUT_US }.merge(fields)
end

class NetsocketTest < Minitest::Test
  include HeapHelpers

  def run_with_timeout(&blk) = Timeout.timeout(20, &blk)

  def plain_server
    Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(**blocking))
  end

  # [server, client, accepted] on loopback; the client blocks with read_timeout.
  def plain_pair(read_timeout: TIMEOUT_US)
    srv = plain_server
    c = Netsocket.make_client_socket("127.0.0.1", srv.info[1],
                                     Netsocket.socket_options(non_blocking: false, read_timeout: read_timeout))
    [srv, c, srv.accept]
  end

  def tls_server(**fields)
    o = Netsocket.server_tls_socket_options(certificates: [cert("server.pem")],
                                            private_key: cert("server.key"), **blocking(**fields))
    Netsocket.make_server_tls_socket("127.0.0.1", 0, o)
  end

  def tls_client_options(**fields, &verifier)
    Netsocket.tls_socket_options(trusted_certificates: [cert("ca.pem")], **blocking(**fields), &verifier)
  end

  # A Ruby OpenSSL server for one connection: echoes one message upcased.
  def openssl_server(alpn: nil, expect_fail: false)
    ctx = OpenSSL::SSL::SSLContext.new
    ctx.cert = OpenSSL::X509::Certificate.new(cert("server.pem"))
    ctx.key = OpenSSL::PKey.read(cert("server.key"))
    seen = {}
    ctx.alpn_select_cb = ->(protocols) { (alpn & protocols).first } if alpn
    ctx.servername_cb = ->((sock, name)) { seen[:sni] = name; nil }
    tcp = TCPServer.new("127.0.0.1", 0)
    thread = Thread.new do
      raw = tcp.accept
      ssl = OpenSSL::SSL::SSLSocket.new(raw, ctx)
      begin
        ssl.accept
        seen[:alpn] = ssl.alpn_protocol
        ssl.write(ssl.readpartial(1024).upcase)
        ssl.close
      rescue OpenSSL::SSL::SSLError, SystemCallError, EOFError
        raise unless expect_fail
      ensure
        raw.close
        tcp.close
      end
      seen
    end
    [tcp.addr[1], thread]
  end

  # ---------------------------------------------------------- builders

  def test_builders_defaults_and_predicates
    o = Netsocket.socket_options
    assert_equal Netsocket::NS_SOCKET_OPTIONS, o.kind
    assert_equal Netsocket::AF_INET, o.ai_family
    assert_equal Netsocket::SOCK_STREAM, o.ai_socktype
    assert_equal Netsocket::AI_V4MAPPED, o.ai_flags
    assert_equal true, o.non_blocking
    assert_equal(-1, o.read_timeout)
    assert_equal(-1, o.connection_timeout)
    assert Netsocket.socket_options?(o)
    assert Netsocket.is_socket_options(o)
    refute Netsocket.tls_socket_options?(o)
    refute Netsocket.socket_options?("nope")
    refute Netsocket.socket_options?(nil)

    t = Netsocket.tls_socket_options(alpn: %w[h2 http/1.1], sni: ["a.test"], handshake: false,
                                     read_timeout: 1000)
    assert_equal %w[h2 http/1.1], t.alpn
    assert_equal ["a.test"], t.sni
    assert_equal false, t.handshake
    assert_equal 1000, t.read_timeout
    assert t.tls?
    refute t.server_tls?
    assert_nil t.certificate_verifier

    s = Netsocket.server_tls_socket_options(client_certificate_required: true,
                                            trusted_certificates: [cert("ca.pem")])
    assert_equal true, s.client_certificate_required
    assert_equal 1, s.trusted_certificates.size
    assert_equal Encoding::ASCII_8BIT, s.trusted_certificates[0].encoding
    assert Netsocket.server_tls_socket_options?(s)

    copy = Netsocket.tls_socket_options(from: t, sni: ["b.test"])
    assert_equal ["a.test", "b.test"], copy.sni
    verifier = ->(_depth, _err, _der) { true }
    assert_same verifier, Netsocket.tls_socket_options(certificate_verifier: verifier).certificate_verifier
  end

  def test_builder_errors
    e = assert_raises(Netsocket::ValueError) { Netsocket.socket_options(alpn: ["h2"]) }
    assert_equal "NS_ERR_INVALID", e.status
    assert_match(/alpn/, e.message)
    assert_raises(Netsocket::ValueError) { Netsocket.tls_socket_options(certificates: ["junk"]) }
    assert_raises(ArgumentError) { Netsocket.socket_options(no_such_field: 1) }
    assert_raises(TypeError) { Netsocket.tls_socket_options(certificate_verifier: 42) }
  end

  def test_builder_errors_name_the_field_and_what_it_takes
    e = assert_raises(TypeError) { Netsocket.tls_socket_options(alpn: "h2") }
    assert_equal "tls_socket_options: alpn takes a list of strings, not String", e.message
    e = assert_raises(TypeError) { Netsocket.socket_options(read_timeout: [1]) }
    assert_equal "socket_options: read_timeout takes an integer (microseconds, -1 = no limit), not Array",
                 e.message
    e = assert_raises(TypeError) { Netsocket.tls_socket_options(certificate_verifier: 42) }
    assert_equal "tls_socket_options: certificate_verifier takes a callable (depth, preverify_error, der) " \
                 "or nothing, not Integer", e.message
    e = assert_raises(ArgumentError) { Netsocket.socket_options(no_such_field: 1) }
    assert e.message.start_with?("socket_options: no option field no_such_field (the fields: ai_family, "), e.message
    e = assert_raises(Netsocket::ValueError) { Netsocket.socket_options(alpn: ["h2"]) }
    assert_equal "alpn* is not a field of socket-options", e.message
  end

  def test_option_fields_one_table
    rows = Netsocket.option_fields
    assert_equal %w[ai_family ai_socktype ai_flags ai_protocol non_blocking connection_timeout read_timeout
                    handshake private_key private_key_file certificates certificate_files certificate_verifier
                    sni alpn trusted_certificates trusted_certificate_files client_certificate_required ignore_unexpected_eof
                    key_log_file key_log_callback ech_config_list ech_grease session_resumption sessions],
                 rows.map(&:first)
    o = Netsocket::Options.new(Netsocket::NS_SERVER_TLS_SOCKET_OPTIONS)
    rows.each do |field, method, kinds, _, type_text, list|
      assert o.respond_to?(method), field
      assert_equal (list ? "add_" : "set_") + method[4..], method
      refute_equal 0, kinds & ((1 << Netsocket::NS_SERVER_TLS_SOCKET_OPTIONS) | (1 << Netsocket::NS_TLS_SOCKET_OPTIONS))
      assert_equal list, type_text.start_with?("a list of"), field
    end
    # sni is the client's: a server picks identities by name (add_identity)
    assert_equal [1 << Netsocket::NS_TLS_SOCKET_OPTIONS, "client TLS options"], Netsocket::OPTION_FIELDS[:sni][2, 2]
  end

  def test_status_list_makes_constants_names_and_classes
    expected = { # status => [value, class, parent]
      "NS_OK" => [0, nil, nil],
      "NS_ERR_INVALID" => [-1, Netsocket::ValueError, Netsocket::Error],
      "NS_ERR_NOMEM" => [-2, Netsocket::MemoryError, Netsocket::Error],
      "NS_ERR_HOST_NOT_FOUND" => [-3, Netsocket::HostNotFoundError, Netsocket::Error],
      "NS_ERR_CONNECT" => [-4, Netsocket::SocketConnectionError, Netsocket::Error],
      "NS_ERR_CONNECT_TIMEOUT" => [-5, Netsocket::ConnectTimeoutError, Netsocket::Error],
      "NS_ERR_READ_TIMEOUT" => [-6, Netsocket::SocketReadTimeoutError, Netsocket::Error],
      "NS_ERR_WOULD_BLOCK" => [-7, Netsocket::WouldBlockError, Netsocket::Error],
      "NS_ERR_CLOSED" => [-8, Netsocket::SocketClosedError, Netsocket::Error],
      "NS_ERR_TLS" => [-9, Netsocket::TLSError, Netsocket::Error],
      "NS_ERR_CERTIFICATE" => [-10, Netsocket::CertificateError, Netsocket::TLSError],
      "NS_ERR_IO" => [-11, Netsocket::Error, StandardError],
      "NS_ERR_WRITE_TIMEOUT" => [-12, Netsocket::WriteTimeoutError, Netsocket::Error]
    }
    constants = Netsocket.constants.map(&:to_s).grep(/\ANS_(OK|ERR_)/)
    assert_equal expected.keys.sort, constants.sort
    expected.each do |name, (value, cls, parent)|
      assert_equal value, Netsocket.const_get(name)
      assert_equal name, Netsocket.status_name(value)
      assert_equal parent, cls.superclass, name if cls
    end
    assert_equal "NS_ERR_UNKNOWN", Netsocket.status_name(-13)
  end

  # ---------------------------------------------------------- plain

  def test_plain_exchange_binary_block_forms
    run_with_timeout do
      srv = plain_server
      port = srv.info[1]
      payload = ("a\0b\xff".b * 5000)
      server = Thread.new do
        srv.accept do |conn|
          got = +""
          got << conn.recv(65_536) while got.bytesize < payload.bytesize
          conn.send_all(got)
          conn.shutdown(Netsocket::SHUT_WR)
          conn.peer
        end
      end
      client = nil
      Netsocket.make_client_socket("127.0.0.1", port, Netsocket.socket_options(**blocking)) do |c|
        client = c
        assert_equal "127.0.0.1", c.node
        assert_equal port.to_s, c.service
        refute c.tls?
        assert_equal payload.bytesize, c.send_all(payload)
        back = +""
        while (chunk = c.recv(4096)) != ""
          back << chunk
        end
        assert_equal Encoding::ASCII_8BIT, back.encoding
        assert_equal payload, back
        assert_equal ["127.0.0.1", c.info[1]], server.value
      end
      assert client.closed?
      assert_equal(-1, client.fileno)
      assert_raises(Netsocket::SocketClosedError) { client.send("x") }
      client.close # twice is fine
      srv.close
    end
  end

  def test_socket_options_to_client_socket
    run_with_timeout do
      srv = plain_server
      Netsocket.socket_options_to_client_socket(Netsocket.socket_options(**blocking), "127.0.0.1", srv.info[1]) do |c|
        refute c.tls?
        srv.accept { |conn| conn.send_all("to") && assert_equal("to", c.recv(2)) }
      end
      srv.close
    end
  end

  def test_read_timeout_and_non_blocking_recv
    run_with_timeout do
      srv, c, conn = plain_pair(read_timeout: 100_000)
      t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      e = assert_raises(Netsocket::SocketReadTimeoutError) { c.recv(10) }
      assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0, :>, 0.08
      assert_equal "NS_ERR_READ_TIMEOUT", e.status
      c.set_non_blocking(true)
      assert c.non_blocking?
      assert_raises(Netsocket::WaitReadableError) { c.recv(10) }
      assert_equal :wait_readable, c.recv(10, exception: false)
      conn.send_all("hi")
      got = nil
      200.times do
        got = c.recv(10, exception: false)
        break if got.is_a?(String)

        sleep 0.005
      end
      assert_equal "hi", got
      [c, conn, srv].each(&:close)
    end
  end

  def test_blocking_calls_release_the_gvl
    run_with_timeout do
      srv, c, conn = plain_pair(read_timeout: 300_000)
      count = 0
      spinner = Thread.new { loop { count += 1 } }
      assert_raises(Netsocket::SocketReadTimeoutError) { c.recv(1) }
      seen = count
      spinner.kill
      spinner.join
      assert_operator seen, :>, 1000, "the spinning thread did not run during recv"
      [c, conn, srv].each(&:close)
    end
  end

  # ---------------------------------------------------------- TLS

  def test_tls_client_against_openssl_with_alpn_and_sni
    run_with_timeout do
      port, thread = openssl_server(alpn: %w[h2 http/1.1])
      o = tls_client_options(alpn: ["http/1.1"], sni: ["localhost"])
      Netsocket.make_client_tls_socket("127.0.0.1", port, o) do |c|
        assert c.tls?
        assert_equal "http/1.1", c.selected_alpn
        assert_includes %w[TLSv1.2 TLSv1.3], c.tls_version
        assert_equal OpenSSL::X509::Certificate.new(cert("server.pem")).to_der, c.peer_certificate
        c.send_all("hello\0tls")
        assert_equal "HELLO\0TLS", c.recv(100)
      end
      seen = thread.value
      assert_equal "http/1.1", seen[:alpn]
      assert_equal "localhost", seen[:sni]
    end
  end

  def test_tls_server_against_openssl_client_with_mtls
    run_with_timeout do
      srv = tls_server(alpn: ["h2"], client_certificate_required: true, trusted_certificates: [cert("ca.pem")])
      client = Thread.new do
        ctx = OpenSSL::SSL::SSLContext.new
        ctx.cert_store = OpenSSL::X509::Store.new.tap { |s| s.add_file(cert_path("ca.pem")) }
        ctx.verify_mode = OpenSSL::SSL::VERIFY_PEER
        ctx.verify_hostname = true
        ctx.alpn_protocols = ["h2"]
        ctx.cert = OpenSSL::X509::Certificate.new(cert("client.pem"))
        ctx.key = OpenSSL::PKey.read(cert("client.key"))
        raw = TCPSocket.new("127.0.0.1", srv.info[1])
        ssl = OpenSSL::SSL::SSLSocket.new(raw, ctx)
        ssl.hostname = "localhost"
        ssl.connect
        ssl.write("ping")
        reply = ssl.readpartial(100)
        [ssl.alpn_protocol, reply].tap { ssl.close; raw.close }
      end
      srv.accept do |conn|
        assert_equal "localhost", conn.server_name
        assert_equal "h2", conn.selected_alpn
        assert_equal OpenSSL::X509::Certificate.new(cert("client.pem")).to_der, conn.peer_certificate
        assert_equal "ping", conn.recv(100)
        conn.send_all("pong")
      end
      assert_equal %w[h2 pong], client.value
      srv.close
    end
  end

  def test_mtls_both_ends_and_missing_client_certificate
    run_with_timeout do
      srv = tls_server(client_certificate_required: true, trusted_certificates: [cert("ca.pem")],
                       read_timeout: 2_000_000)
      port = srv.info[1]
      acceptor = Thread.new { srv.accept }
      c = Netsocket.make_client_tls_socket("localhost", port,
                                           tls_client_options(certificates: [cert("client.pem")],
                                                              private_key: cert("client.key")))
      conn = acceptor.value
      c.send_all("m")
      assert_equal "m", conn.recv(1)
      # The peer's whole chain as sent (one certificate each way here) and the group.
      assert_equal [c.peer_certificate], c.peer_certificate_chain
      assert_equal [conn.peer_certificate], conn.peer_certificate_chain
      assert_equal %w[X25519 X25519], [c.key_exchange_group, conn.key_exchange_group]
      assert_equal [[], nil], [srv.peer_certificate_chain, srv.key_exchange_group]
      [c, conn].each(&:close)

      acceptor = Thread.new do
        srv.accept
      rescue Netsocket::Error => e
        e
      end
      assert_raises(Netsocket::TLSError) do
        Netsocket.make_client_tls_socket("localhost", port, tls_client_options).recv(1)
      end
      assert_kind_of Netsocket::TLSError, acceptor.value
      srv.close
    end
  end

  def test_verifier_accepts_rejects_and_raises
    run_with_timeout do
      calls = []
      verifiers = [
        [->(depth, err, der) { calls << [depth, err, der.encoding]; true }, nil],
        [->(_d, _e, _der) { false }, Netsocket::CertificateError],
        [->(_d, _e, _der) { raise "boom" }, Netsocket::CertificateError],
        [nil, Netsocket::CertificateError]
      ]
      verifiers.each do |verifier, error|
        port, thread = openssl_server(expect_fail: !error.nil?)
        o = Netsocket.tls_socket_options(certificate_verifier: verifier, **blocking)
        if error
          e = assert_raises(error) { Netsocket.make_client_tls_socket("localhost", port, o) }
          assert_equal "NS_ERR_CERTIFICATE", e.status
          assert_kind_of Netsocket::TLSError, e
          assert_equal verifier == verifiers[2][0], e.message.include?("boom"), e.message
        else
          Netsocket.make_client_tls_socket("localhost", port, o) do |c|
            c.send_all("ok")
            assert_equal "OK", c.recv(10)
          end
        end
        thread.join
      end
      refute_empty calls
      assert_equal 0, calls.last[0]
      assert_equal Encoding::ASCII_8BIT, calls.last[2]
      assert(calls.any? { |_, err, _| err != 0 })

      # a block is the verifier too
      port, thread = openssl_server
      o = Netsocket.tls_socket_options(**blocking) { |_d, _e, _der| true }
      Netsocket.make_client_tls_socket("localhost", port, o) { |c| c.send_all("b") && c.recv(1) }
      thread.join
    end
  end

  def test_verifier_survives_gc_of_its_options
    run_with_timeout do
      hits = []
      copy = Netsocket.tls_socket_options(certificate_verifier: ->(d, _e, _der) { hits << d; true }, **blocking)
                      .copy(Netsocket::NS_TLS_SOCKET_OPTIONS)
      GC.start
      GC.compact if GC.respond_to?(:compact)
      port, thread = openssl_server
      c = Netsocket.make_client_tls_socket("localhost", port, copy)
      copy = nil # rubocop:disable Lint/UselessAssignment
      GC.start
      c.send_all("x")
      assert_equal "X", c.recv(1)
      c.close
      thread.join
      refute_empty hits
    end
  end

  def test_verifier_is_collected_after_its_last_user
    refs = ObjectSpace::WeakMap.new
    make = lambda do
      verifier = ->(_d, _e, _der) { true }
      refs[:v] = verifier
      Netsocket.tls_socket_options(certificate_verifier: verifier).copy(Netsocket::NS_TLS_SOCKET_OPTIONS)
    end
    copy = make.call
    3.times { GC.start }
    assert refs.key?(:v), "collected while the copy still uses it"
    copy.set_certificate_verifier(nil)
    copy = nil # rubocop:disable Lint/UselessAssignment
    10.times do
      GC.start
      break unless refs.key?(:v)
    end
    refute refs.key?(:v), "the verifier was never released"
  end

  def test_verifiers_in_many_threads
    run_with_timeout do
      srv = tls_server
      port = srv.info[1]
      callers = Queue.new
      verifier = ->(_d, _e, _der) { callers << Thread.current.object_id; true }
      server = Thread.new { 8.times { srv.accept { |conn| conn.send_all(conn.recv(10)) } } }
      clients = Array.new(8) do |i|
        Thread.new do
          o = Netsocket.tls_socket_options(certificate_verifier: verifier, **blocking)
          Netsocket.make_client_tls_socket("localhost", port, o) { |c| c.send_all(i.to_s) && c.recv(10) }
        end
      end
      assert_equal (0..7).map(&:to_s), clients.map(&:value).sort
      server.join
      srv.close
      assert_equal 8, Array.new(callers.size) { callers.pop }.uniq.size
    end
  end

  # ---------------------------------------------------------- errors

  def test_tls_errors_carry_verify_code_alert_and_names
    run_with_timeout do
      srv = tls_server
      port = srv.info[1]
      acceptor = Thread.new do
        srv.accept
      rescue Netsocket::Error => e
        e
      end
      e = assert_raises(Netsocket::CertificateError) do
        Netsocket.make_client_tls_socket("127.0.0.1", port, tls_client_options(sni: ["wrong.example"]))
      end
      assert_equal "TLS handshake with 127.0.0.1:#{port}: certificate rejected at depth 0: " \
                   "Hostname mismatch: expected \"wrong.example\", the certificate holds " \
                   "DNS:localhost, IP:127.0.0.1, IP:::1", e.message
      assert_equal [62, "Hostname mismatch"], [e.verify_code, e.verify_message]
      assert_equal ["bad_certificate", 42, true], [e.alert, e.alert_code, e.alert_sent]
      server_error = acceptor.value
      assert_kind_of Netsocket::TLSError, server_error
      assert server_error.message.end_with?(": the peer sent the alert bad_certificate (42)"), server_error.message
      assert_equal ["bad_certificate", 42, false], [server_error.alert, server_error.alert_code, server_error.alert_sent]
      assert_nil server_error.verify_code
      srv.close
    end
  end

  def test_error_classes
    run_with_timeout do
      assert_operator Netsocket::Error, :<, StandardError
      assert_operator Netsocket::CertificateError, :<, Netsocket::TLSError
      e = assert_raises(Netsocket::HostNotFoundError) do
        Netsocket.make_client_socket("no-such-host.invalid", "80", Netsocket.socket_options(**blocking))
      end
      assert_equal "NS_ERR_HOST_NOT_FOUND", e.status

      srv = plain_server
      port = srv.info[1]
      srv.close
      e = assert_raises(Netsocket::SocketConnectionError) do
        Netsocket.make_client_socket("127.0.0.1", port, Netsocket.socket_options(**blocking))
      end
      assert_equal 111, e.os_error

      mute = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options)
      assert_raises(Netsocket::ConnectTimeoutError) do
        Netsocket.make_client_tls_socket("127.0.0.1", mute.info[1], tls_client_options(connection_timeout: 200_000))
      end
      mute.close
      idle = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options)
      e = assert_raises(Netsocket::WouldBlockError) { idle.accept }
      assert_kind_of IO::WaitReadable, e
      assert_equal :wait_readable, idle.accept(exception: false)
      idle.close

      srv = tls_server(alpn: ["h2"], read_timeout: 2_000_000)
      acceptor = Thread.new do
        srv.accept
      rescue Netsocket::Error => e
        e
      end
      assert_raises(Netsocket::TLSError) do
        Netsocket.make_client_tls_socket("localhost", srv.info[1], tls_client_options(alpn: ["x"]))
      end
      assert_kind_of Netsocket::Error, acceptor.value

      acceptor = Thread.new do
        srv.accept
      rescue Netsocket::Error => e
        e
      end
      assert_raises(Netsocket::CertificateError) do
        Netsocket.make_client_tls_socket("localhost", srv.info[1],
                                         Netsocket.tls_socket_options(trusted_certificates: [cert("other-ca.pem")],
                                                                      **blocking))
      end
      assert_kind_of Netsocket::Error, acceptor.value
      srv.close
      assert_raises(Netsocket::SocketClosedError) { srv.accept }
      assert_raises(Netsocket::ValueError) do
        Netsocket.make_server_tls_socket("127.0.0.1", 0, Netsocket.server_tls_socket_options)
      end
      assert_equal Netsocket::NS_ERR_INVALID, Netsocket.last_status
    end
  end

  # ---------------------------------------------------------- selector

  def test_selector
    run_with_timeout do
      srv, a, conn_a = plain_pair
      b = Netsocket.make_client_socket("127.0.0.1", srv.info[1], Netsocket.socket_options(**blocking))
      conn_b = srv.accept
      sel = Netsocket::Selector.new
      sel.add(a, -1, "A").add(b, 50_000, :b)
      assert_equal 2, sel.size
      conn_a.send_all("!")
      events = []
      10.times do
        sel.wait(2_000_000) { |sock, data, timed_out| events << [sock, data, timed_out] }
        break if events.size == 2
      end
      assert_equal [["A", false], [:b, true]], events.map { |_, d, t| [d, t] }.sort_by(&:to_s)
      assert_same a, events.find { |_, d, _| d == "A" }[0]
      assert_equal 0, sel.size
      assert_empty sel.wait(10_000)

      sel.add(b)
      waker = Thread.new { sleep 0.1; sel.interrupt }
      assert_empty sel.wait(-1)
      waker.join
      sel.remove(b)
      assert_equal 0, sel.size
      [a, b, conn_a, conn_b, srv].each(&:close)
    end
  end

  def test_exit_does_not_hang_on_a_thread_blocked_in_accept
    lib_dir = File.dirname($LOADED_FEATURES.grep(%r{/netsocket\.rb\z}).first)
    script = <<~RUBY
      require "netsocket"
      srv = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(non_blocking: false))
      Thread.new { srv.accept }
      sleep 0.2
    RUBY
    t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    pid = Process.spawn(RbConfig.ruby, "-I", lib_dir, "-e", script)
    status = nil
    100.times do
      break if (status = Process.wait2(pid, Process::WNOHANG)&.last)

      sleep 0.05
    end
    Process.kill("KILL", pid) && Process.wait(pid) unless status
    assert status&.success?, "the interpreter did not exit"
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0, :<, 4
  end

  def test_signal_trap_leaves_a_blocked_socket_usable
    run_with_timeout do
      srv, c, conn = plain_pair(read_timeout: 300_000)
      trapped = false
      old = trap("USR1") { trapped = true }
      Thread.new { sleep 0.1; Process.kill("USR1", Process.pid) }
      assert_raises(Netsocket::SocketReadTimeoutError) { c.recv(1) }
      sleep 0.05 until trapped
      conn.send_all("still here")
      assert_equal "still here", c.recv(100)
      [c, conn, srv].each(&:close)
    ensure
      trap("USR1", old || "DEFAULT")
    end
  end

  # ---------------------------------------------------------- lifetime

  # Each cycle: new server options (certificate, key, ALPN, a verifier) and
  # client options, a TLS handshake with a netsocket server in this process,
  # the TLS queries, both ends closed.  A leak of 100 bytes per cycle is
  # 1,000,000 over 10,000; the bound is half that.  (No data exchange: a
  # small write after the handshake waits out the peer's delayed ACK.)
  def test_no_leak_over_10000_tls_connections
    pem = cert("server.pem")
    key = cert("server.key")
    srv = tls_server(alpn: ["h2"])
    # Made here, the verifier's binding cannot reach the options of a cycle.
    # (A block written inside the loop would: options -> verifier -> block
    # -> options is a reference cycle the binding does not collect.)
    accept_all = proc { true }
    cycle = lambda do |n|
      server = Thread.new { n.times { srv.accept { |conn| assert_equal "localhost", conn.server_name } } }
      n.times do
        Netsocket.server_tls_socket_options(certificates: [pem], private_key: key, alpn: ["h2"],
                                            &accept_all)
        o = tls_client_options(alpn: ["h2"], &accept_all)
        Netsocket.make_client_tls_socket("localhost", srv.info[1], o) do |c|
          assert_equal "h2", c.selected_alpn
          assert c.peer_certificate
        end
      end
      server.join(120)
    end
    grown = heap_growth(10_000, &cycle)
    srv.close
    assert_operator grown, :<, 500_000, "the C heap grew by #{grown} bytes over 10,000 TLS connections"
  end
end
