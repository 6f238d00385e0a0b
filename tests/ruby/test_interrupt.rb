# frozen_string_literal: true

# Blocked calls can be stopped (issue 13): SIGINT and SIGTERM end a main
# thread blocked in recv (no timeout) or accept; Thread#kill and
# Thread#raise end a thread blocked in recv, accept or a TLS handshake, and
# the interpreter exits with such a thread.  Loopback only, every wait
# bounded; signals go to child processes.
require "open3"
require "rbconfig"
require "timeout"
require "minitest/autorun"
require "netsocket"

class InterruptTest < Minitest::Test
  BLOCKING = { non_blocking: false }.freeze # no read timeout

  CHILD = <<~RUBY
    require "netsocket"
    blocking = Netsocket.socket_options(non_blocking: false)
    srv = Netsocket.make_server_socket("127.0.0.1", 0, blocking)
    trap("TERM") { exit 3 } if ARGV[0] == "term"
    begin
      case ARGV[1]
      when "accept"
        $stdout.puts "ready"; $stdout.flush
        srv.accept
      when "recv"
        c = Netsocket.make_client_socket("127.0.0.1", srv.info[1], blocking)
        conn = srv.accept
        $stdout.puts "ready"; $stdout.flush
        c.recv(10)
      when "exit_with_a_thread_in_a_handshake"
        t = Thread.new do
          Netsocket.make_client_tls_socket("127.0.0.1", srv.info[1], Netsocket.tls_socket_options(non_blocking: false))
        end
        sleep 0.2 until t.status == "sleep"
        $stdout.puts "ready"; $stdout.flush
        sleep 0.3
        exit 4
      end
      puts "returned"
    rescue Interrupt
      puts "Interrupt"
      exit 2
    end
  RUBY

  def run_child(sig, call)
    Open3.popen3(RbConfig.ruby, "-I", $LOAD_PATH.grep(/bindings/).first || ".", "-e", CHILD,
                 sig.to_s, call) do |_in, out, err, wait|
      assert_equal "ready\n", Timeout.timeout(10) { out.gets }
      sleep 0.3 # into the blocking call
      t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      Process.kill(sig.to_s.upcase, wait.pid) if sig
      status = nil
      begin
        Timeout.timeout(10) { status = wait.value }
      ensure
        Process.kill("KILL", wait.pid) unless status
      end
      [status.exitstatus, out.read, err.read, Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0]
    end
  end

  %w[accept recv].each do |call|
    define_method("test_sigint_stops_#{call}") do
      code, out, err, took = run_child(:int, call)
      assert_equal [2, "Interrupt\n", ""], [code, out, err]
      assert_operator took, :<, 5
    end

    define_method("test_sigterm_stops_#{call}") do
      code, out, err, took = run_child(:term, call)
      assert_equal [3, "", ""], [code, out, err]
      assert_operator took, :<, 5
    end
  end

  def test_exit_with_a_thread_blocked_in_a_tls_handshake
    code, out, err, took = run_child(nil, "exit_with_a_thread_in_a_handshake")
    assert_equal [4, "", ""], [code, out, err]
    assert_operator took, :<, 5
  end

  def setup
    @srv = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(**BLOCKING))
  end

  def teardown
    @srv.close
  end

  # [thread, result queue]: the block runs in a thread; the queue gets what
  # it raised.
  def blocked_thread
    q = Queue.new
    t = Thread.new do
      yield
      q << :returned
    rescue StandardError => e
      q << e
    end
    sleep 0.05 until t.status == "sleep" # blocked without the GVL
    [t, q]
  end

  def blocked_calls
    {
      accept: -> { @srv.accept },
      recv: lambda {
        c = Netsocket.make_client_socket("127.0.0.1", @srv.info[1], Netsocket.socket_options(**BLOCKING))
        (@open ||= []) << c << @srv.accept
        c.recv(10)
      },
      tls_handshake: lambda {
        Netsocket.make_client_tls_socket("127.0.0.1", @srv.info[1], Netsocket.tls_socket_options(**BLOCKING))
      }
    }
  end

  def test_thread_raise_and_kill_stop_blocked_calls
    Timeout.timeout(30) do
      blocked_calls.each do |name, call|
        t, q = blocked_thread(&call)
        sleep 0.1
        t.raise(ArgumentError, "stop #{name}")
        assert t.join(5), "Thread#raise did not stop #{name}"
        e = q.pop
        assert_instance_of ArgumentError, e
        assert_equal "stop #{name}", e.message

        t, q = blocked_thread(&call)
        sleep 0.1
        t.kill
        assert t.join(5), "Thread#kill did not stop #{name}"
        assert q.empty?
        assert_nil t.value
      end
      # The socket of an interrupted recv stays usable.  (A fresh server:
      # @srv's backlog holds the handshake cases' connections.)
      srv = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(**BLOCKING))
      c = Netsocket.make_client_socket("127.0.0.1", srv.info[1], Netsocket.socket_options(**BLOCKING))
      conn = srv.accept
      t, q = blocked_thread { c.recv(10) }
      t.raise(ArgumentError, "once")
      t.join(5)
      assert_equal "once", q.pop.message
      conn.send_all("still open")
      assert_equal "still open", c.recv(20)
      [c, conn, srv, *@open].each(&:close)
    end
  end

  # Name resolution: a blocking open with no connection timeout, stuck on a
  # DNS server that never answers (in namespaces of the test's own, see
  # tests/silent_dns_namespace.sh), stops on Thread#raise and Thread#kill.
  RESOLVING_CHILD = <<~'RUBY'
    require "socket"
    require "netsocket"
    dns = UDPSocket.new
    dns.bind("127.0.0.1", 53) # never read: the name never resolves
    stuck = lambda do
      q = Queue.new
      t = Thread.new do
        Netsocket.make_client_socket("silent.test", 80, Netsocket.socket_options(non_blocking: false))
        q << :returned
      rescue StandardError => e
        q << e
      end
      sleep 0.05 until t.status == "sleep"
      sleep 0.3 # into the resolution (glibc would wait 30 s)
      [t, q]
    end
    t, q = stuck.call
    t.raise(ArgumentError, "stop resolving")
    puts t.join(5) ? q.pop.inspect : "still resolving"
    t, q = stuck.call
    t.kill
    puts t.join(5) ? "killed, #{q.size} results" : "still resolving"
  RUBY

  def test_thread_raise_and_kill_stop_a_blocking_open_stuck_resolving_the_name
    script = File.expand_path("../silent_dns_namespace.sh", __dir__)
    out, err, status = Timeout.timeout(30) do
      Open3.capture3(script, RbConfig.ruby, "-I", $LOAD_PATH.grep(/bindings/).first || ".", "-e", RESOLVING_CHILD)
    end
    skip "no user/mount/network namespaces here" if status.exitstatus == 77
    assert_equal ["#<ArgumentError: stop resolving>\nkilled, 0 results\n", "", 0], [out, err, status.exitstatus]
  end
end
