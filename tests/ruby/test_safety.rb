# frozen_string_literal: true

# Script code cannot break the binding's promises (issue 13): verifiers
# decide only with true or false.  Loopback only, every wait bounded.
require "timeout"
require "minitest/autorun"
require "netsocket"
require_relative "certs"

class SafetyTest < Minitest::Test
  def cert(name) = File.binread(File.join(CERT_DIR, name))

  def blocking(**fields) = { non_blocking: false, read_timeout: 5_000_000 }.merge(fields)

  def tls_server
    o = Netsocket.server_tls_socket_options(certificates: [cert("server.pem")],
                                            private_key: cert("server.key"), **blocking)
    Netsocket.make_server_tls_socket("127.0.0.1", 0, o)
  end

  # 0 is true in Ruby: a verifier returning it (or nil, or anything but
  # true/false) must reject, not accept, and the error says why.
  def test_verifier_must_return_true_or_false
    Timeout.timeout(20) do
      [[0, "0 (Integer)"], [1, "1 (Integer)"], [nil, "nil (NilClass)"], ["yes", '"yes" (String)']].each do |value, shown|
        srv = tls_server
        port = srv.info[1]
        acceptor = Thread.new { assert_raises(Netsocket::TLSError) { srv.accept } }
        o = Netsocket.tls_socket_options(**blocking) { |_depth, _err, _der| value }
        e = assert_raises(Netsocket::CertificateError) { Netsocket.make_client_tls_socket("localhost", port, o) }
        assert_equal "TLS handshake with localhost:#{port}: the certificate verifier rejected the certificate " \
                     "at depth 0 (unable to get local issuer certificate) (the certificate verifier returned " \
                     "#{shown}, not true or false: rejected)", e.message
        acceptor.join
        srv.close
      end
    end
  end
end
