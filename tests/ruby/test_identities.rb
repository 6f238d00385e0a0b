# frozen_string_literal: true

# Server identity and keys from Ruby: protected keys (a String or a proc
# password; PKCS#12), the key log file, Encrypted Client Hello (accepted,
# rejected with retry configs, GREASE), a certificate per name and rotation.
require "tmpdir"
require "minitest/autorun"
require "netsocket"
require_relative "certs"

class TestIdentities < Minitest::Test
  def read(name) = File.binread(File.join(CERT_DIR, name))
  def path(name) = File.join(CERT_DIR, name)

  def blocking(**fields) = { non_blocking: false, read_timeout: 5_000_000 }.merge(fields)

  def server_options(**fields)
    Netsocket.server_tls_socket_options(**blocking(certificates: [read("server.pem")],
                                                   private_key: read("server.key"), **fields))
  end

  def client_options(**fields)
    Netsocket.tls_socket_options(**blocking(trusted_certificates: [read("ca.pem")], **fields))
  end

  # Accepts n connections, echoing a line each; returns what each saw.
  def serve(srv, count = 1)
    Thread.new do
      Array.new(count) do
        conn = srv.accept
        seen = [conn.identity_index, conn.server_name, conn.ech_accepted]
        conn.send_all(conn.recv(64))
        conn.close
        seen
      end
    end
  end

  def exchange(srv, opts, node = "localhost")
    c = Netsocket.make_client_tls_socket(node, srv.info[1], opts)
    c.send_all("hi\n")
    assert_equal "hi\n", c.recv(64)
    [c.peer_certificate, c.ech_accepted]
  ensure
    c&.close
  end

  def test_encrypted_key_with_a_string_or_a_proc
    calls = 0
    ["s3cret", -> { calls += 1; "s3cret" }].each do |pw|
      o = Netsocket.server_tls_socket_options(certificates: [read("server.pem")])
      o.set_private_key_with_password(read("server-enc.key"), pw)
      assert o.has_private_key
    end
    assert_equal 1, calls
    o = Netsocket.server_tls_socket_options(private_key: read("server.key"))
    e = assert_raises(Netsocket::ValueError) { o.set_private_key_file_with_password(path("server-enc.key"), "wrong") }
    assert_equal "private-key: wrong password (or a damaged encrypted key)", e.message
    e = assert_raises(Netsocket::ValueError) { o.set_private_key(read("server-enc.key")) }
    assert_equal "private-key: the key is encrypted and no password was given", e.message
    o.add_certificate(read("server.pem")) # still the plain key
  end

  def test_pkcs12_and_key_log_file
    Dir.mktmpdir do |dir|
      log = File.join(dir, "keys.log")
      so = Netsocket.server_tls_socket_options(**blocking(key_log_file: log))
      so.set_pkcs12_file(path("server.p12"), "s3cret")
      assert_equal 2, so.certificates.size
      assert_equal log, so.key_log_file
      srv = Netsocket.make_server_tls_socket("127.0.0.1", 0, so)
      t = serve(srv)
      der, = exchange(srv, client_options)
      t.value
      srv.close
      assert_equal so.certificates[0], der
      labels = File.readlines(log).map { |l| l.split(" ")[0] }
      assert_equal %w[CLIENT_HANDSHAKE_TRAFFIC_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET
                      CLIENT_TRAFFIC_SECRET_0 SERVER_TRAFFIC_SECRET_0 EXPORTER_SECRET], labels
      e = assert_raises(Netsocket::ValueError) { so.set_pkcs12(read("server.p12"), "wrong") }
      assert_equal "pkcs12: wrong password: INCORRECT_PASSWORD", e.message
      e = assert_raises(Netsocket::ValueError) { so.set_pkcs12("junk", nil) }
      assert_equal "pkcs12: not a valid PKCS#12 bundle: BAD_PKCS12_DATA", e.message
      assert_equal 2, so.certificates.size
    end
  end

  def test_key_log_callback
    lines = []
    collect = ->(line) { lines << line }
    co = client_options(key_log_callback: collect)
    assert_same collect, co.key_log_callback
    srv = Netsocket.make_server_tls_socket("127.0.0.1", 0, server_options)
    t = serve(srv)
    exchange(srv, co)
    t.value
    srv.close
    assert_equal %w[CLIENT_HANDSHAKE_TRAFFIC_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET
                    CLIENT_TRAFFIC_SECRET_0 SERVER_TRAFFIC_SECRET_0 EXPORTER_SECRET],
                 lines.map { |l| l.split(" ")[0] }
  end

  def ech_server
    so = server_options(certificates: [read("alt.pem")], private_key: read("alt.key"))
    so.generate_ech_key("public.test", 5)
    so
  end

  def test_ech_accepted_rejected_and_grease
    so = ech_server
    published = so.published_ech_config_list
    assert_equal 1, so.ech_key_count
    srv = Netsocket.make_server_tls_socket("127.0.0.1", 0, so)
    t = serve(srv, 2)
    _, accepted = exchange(srv, client_options(sni: ["alt.test"], ech_config_list: published), "127.0.0.1")
    assert accepted
    _, greased = exchange(srv, client_options(sni: ["alt.test"], ech_grease: true), "127.0.0.1")
    refute greased
    assert_equal [[-1, "alt.test", true], [-1, "alt.test", false]], t.value

    stale = client_options(sni: ["alt.test"], ech_config_list: ech_server.published_ech_config_list)
    t = Thread.new { srv.accept.close }
    e = assert_raises(Netsocket::TLSError) { Netsocket.make_client_tls_socket("127.0.0.1", srv.info[1], stale) }
    t.join
    srv.close
    assert e.message.end_with?(": the server rejected ECH and sent retry configs: " \
                               "retry with them (ns_last_ech_retry_configs)"), e.message
    assert_equal published, Netsocket.last_ech_retry_configs
    e = assert_raises(Netsocket::ValueError) { stale.set_ech_config_list("\x00\x05junk") }
    assert_equal "ech-config-list: not a valid ECHConfigList: INVALID_ECH_CONFIG_LIST", e.message
  end

  def test_certificate_per_name_and_rotation
    so = server_options
    so.add_identity(read("alt.pem"), read("alt.key"))
    so.add_identity_name(0, "other.test")
    assert_equal 1, so.identity_count
    e = assert_raises(Netsocket::ValueError) { so.add_identity(read("alt.pem"), read("server.key")) }
    assert_equal "identity: the private key does not match the first certificate", e.message
    srv = Netsocket.make_server_tls_socket("127.0.0.1", 0, so)
    t = serve(srv, 3)
    accept_all = client_options(sni: ["other.test"], certificate_verifier: ->(*) { true })
    alt_der, = exchange(srv, accept_all, "127.0.0.1")
    default_der, = exchange(srv, client_options)
    srv.replace_identities(server_options(certificates: [read("alt.pem")], private_key: read("alt.key")))
    rotated_der, = exchange(srv, client_options(sni: ["alt.test"]), "127.0.0.1")
    seen = t.value
    srv.close
    assert_equal alt_der, rotated_der
    refute_equal alt_der, default_der
    assert_equal [[0, "other.test"], [-1, "localhost"], [-1, "alt.test"]], seen.map { |s| s[0, 2] }
  end
end
