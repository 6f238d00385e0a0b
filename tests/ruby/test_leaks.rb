# frozen_string_literal: true

# The Ruby binding frees what it allocates when a call ends in an exception
# or when script objects form a cycle (issue 13).  Each test runs a cycle
# many times and bounds the C heap's growth (tests/heap_probe.c) so that a
# leak of 100 bytes per cycle breaks it.
require "timeout"
require "minitest/autorun"
require "netsocket"
require_relative "certs"
require_relative "heap"

class LeaksTest < Minitest::Test
  include CertHelpers
  include HeapHelpers

  class Stop < StandardError; end

  # Each cycle: a thread blocked in recv(1000) without the GVL is stopped by
  # Thread#raise.  (The raise is only let in around the recv, and each is
  # sent once the previous one was caught and the thread is blocked again.)
  # 2,000 cycles: a 100-byte leak is 200,000 bytes; the bound is half that.
  def test_no_leak_when_thread_raise_stops_recv
    o = Netsocket.socket_options(non_blocking: false)
    srv = Netsocket.make_server_socket("127.0.0.1", 0, o)
    c = Netsocket.make_client_socket("127.0.0.1", srv.info[1], o)
    conn = srv.accept
    total = 0
    cycle = lambda do |n|
      caught = 0
      t = Thread.new do
        Thread.handle_interrupt(Stop => :never) do
          n.times do
            Thread.handle_interrupt(Stop => :immediate) { c.recv(1000) }
          rescue Stop
            caught += 1
          end
        end
      end
      n.times do |i|
        sleep 0.0002 until (caught == i && t.status == "sleep") || !t.alive?
        t.raise(Stop)
      end
      assert t.join(10), "the recv thread did not end"
      total += caught
    end
    grown = Timeout.timeout(60) { heap_growth(2000, &cycle) }
    assert_equal 2200, total
    conn.send_all("still open")
    assert_equal "still open", c.recv(100) # the socket stays usable
    [c, conn, srv].each(&:close)
    assert_operator grown, :<, 100_000, "the C heap grew by #{grown} bytes over 2,000 recvs stopped by Thread#raise"
  end

  # Each cycle: client options whose verifier block captures the options
  # (and the socket: a block holds every local of its scope), and a TLS
  # connection with them to a netsocket server in this process.  options ->
  # verifier -> block -> options is a cycle the GC must collect (it leaked
  # the options, the socket and their TLS state: ~5.7 KB per cycle).  2,000
  # cycles: a 100-byte leak is 200,000 bytes; the bound is half that.
  def test_no_leak_from_a_verifier_that_captures_its_options
    srv = Netsocket.make_server_tls_socket(
      "127.0.0.1", 0, Netsocket.server_tls_socket_options(certificates: [cert("server.pem")],
                                                          private_key: cert("server.key"), **blocking)
    )
    ca = cert("ca.pem")
    verified = 0
    cycle = lambda do |n|
      server = Thread.new { n.times { srv.accept(&:close) } }
      n.times do
        sock = nil
        options = Netsocket.tls_socket_options(trusted_certificates: [ca], **blocking) do |_depth, error, _der|
          verified += 1 if options.tls? && sock.nil?
          error.zero?
        end
        sock = Netsocket.make_client_tls_socket("localhost", srv.info[1], options)
        sock.close
      end
      assert server.join(60), "the server thread did not end"
    end
    grown = Timeout.timeout(120) { heap_growth(2000, warm_up: 1000, &cycle) }
    srv.close
    assert_equal 3000 * 2, verified # the chain: the CA and the leaf
    assert_operator grown, :<, 100_000, "the C heap grew by #{grown} bytes over 2,000 connections"
  end
end
