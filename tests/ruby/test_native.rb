# frozen_string_literal: true

# The module as a Ruby user expects it (issue 13): inspect describes the
# object, IO.select takes sockets.  Loopback only, every wait bounded.
require "timeout"
require "minitest/autorun"
require "netsocket"
require_relative "certs"

class NativeTest < Minitest::Test
  include CertHelpers

  def test_inspect_of_options
    o = Netsocket.tls_socket_options(alpn: %w[h2 http/1.1], sni: ["example.org"], **blocking)
    assert_equal '#<Netsocket::Options kind=tls non_blocking=false connection_timeout=none ' \
                 'read_timeout=5000000us handshake=true alpn=["h2", "http/1.1"] sni=["example.org"] ' \
                 "certificates=0 private_key=no trusted_certificates=0 verifier=no>", o.inspect
    assert_equal "#<Netsocket::Options kind=socket non_blocking=true connection_timeout=none read_timeout=none>",
                 Netsocket.socket_options.inspect
  end

  def test_inspect_of_sockets_and_selectors
    o = Netsocket.server_tls_socket_options(certificates: [cert("server.pem")], private_key: cert("server.key"),
                                            **blocking)
    srv = Netsocket.make_server_tls_socket("127.0.0.1", 0, o)
    port = srv.info[1]
    assert_equal "#<Netsocket::Socket fd=#{srv.fileno} tls local=127.0.0.1:#{port} listening>", srv.inspect
    t = Thread.new { srv.accept }
    c = Netsocket.make_client_tls_socket("127.0.0.1", port,
                                         Netsocket.tls_socket_options(trusted_certificates: [cert("ca.pem")],
                                                                      **blocking))
    conn = Timeout.timeout(10) { t.value }
    assert_equal "#<Netsocket::Socket fd=#{c.fileno} tls=TLSv1.3 local=127.0.0.1:#{c.info[1]} " \
                 "peer=127.0.0.1:#{port}>", c.inspect
    sel = Netsocket::Selector.new
    sel.add(c)
    assert_equal "#<Netsocket::Selector sockets=1>", sel.inspect
    sel.remove(c)
    c.close
    assert_equal "#<Netsocket::Socket tls closed>", c.inspect
    conn.close
    srv.close
  end

  def test_io_select_takes_sockets
    srv = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(**blocking))
    c = Netsocket.make_client_socket("127.0.0.1", srv.info[1], Netsocket.socket_options(**blocking))
    conn = srv.accept
    assert_nil IO.select([c], nil, nil, 0)
    assert_equal [[], [c], []], IO.select([c], [c], nil, 5)
    conn.send_all("ping")
    readable, = IO.select([c], nil, nil, 5)
    assert_same c, readable.first
    assert_equal "ping", c.recv(4)
    c.close
    assert_raises(IOError) { IO.select([c], nil, nil, 0) }
    conn.close
    srv.close
  end

  def test_argument_errors_name_the_method_and_the_type
    o = Netsocket.socket_options
    {
      -> { o.set_read_timeout("x") } => "Netsocket::Options#set_read_timeout: argument 1 must be Integer",
      -> { Netsocket.make_client_socket(1, 2) } =>
        "Netsocket.make_client_socket: argument 1 must be String",
      -> { Netsocket::Options.new("tls") } => "Netsocket::Options.new: argument 1 must be Integer",
      -> { Netsocket::Selector.new.add(o) } =>
        "Netsocket::Selector#watch: argument 1 must be Netsocket::Socket"
    }.each do |call, message|
      assert_equal message, assert_raises(TypeError, &call).message
    end
  end
end
