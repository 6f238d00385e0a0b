# frozen_string_literal: true

# netsocket under a Fiber scheduler: blocking calls yield to the scheduler
# instead of blocking the thread.  Server and clients run as fibers of one
# thread, on a minimal scheduler (below) and on Async (ruby-async).
# Loopback only, every wait bounded.
require "openssl"
require "socket"
require "tmpdir"
require "timeout"
require "minitest/autorun"
require "netsocket"

CERT_DIR = Dir.mktmpdir("netsocket-certs")
Minitest.after_run { FileUtils.rm_rf(CERT_DIR) }
system("sh", File.expand_path("../gen-certs.sh", __dir__), CERT_DIR, exception: true)
SCALE = Float(ENV.fetch("NS_TEST_TIME_SCALE", "1"))

def cert(name) = File.binread(File.join(CERT_DIR, name))

# The smallest complete Fiber scheduler: IO.select over the fds fibers
# wait on, timers, and wake-ups from block/unblock.
class MiniScheduler
  def initialize
    @readable = {} # io => fiber
    @writable = {}
    @timers = {} # fiber => deadline
    @blocked = 0
    @ready = []
    @lock = Mutex.new
    @wake_r, @wake_w = IO.pipe
    @selects = 0
  end

  attr_reader :selects

  def now = Process.clock_gettime(Process::CLOCK_MONOTONIC)

  def run
    until @readable.empty? && @writable.empty? && @timers.empty? && @blocked.zero?
      timeout = @timers.values.min&.then { |t| [t - now, 0].max }
      @selects += 1
      r, w = IO.select(@readable.keys + [@wake_r], @writable.keys, [], timeout)
      @wake_r.read_nonblock(256, exception: false) if r&.delete(@wake_r)
      r&.each { |io| resume(@readable[io], IO::READABLE) }
      w&.each { |io| resume(@writable[io], IO::WRITABLE) }
      t = now
      @timers.select { |_, deadline| deadline <= t }.each_key { |fiber| resume(fiber, false) }
      @lock.synchronize { @ready.slice!(0..) }.each { |fiber| resume(fiber, true) }
    end
  end

  def resume(fiber, value)
    fiber.resume(value) if fiber&.alive?
  end

  def io_wait(io, events, timeout)
    fiber = Fiber.current
    @readable[io] = fiber if events & IO::READABLE != 0
    @writable[io] = fiber if events & IO::WRITABLE != 0
    @timers[fiber] = now + timeout if timeout
    Fiber.yield
  ensure
    @readable.delete(io)
    @writable.delete(io)
    @timers.delete(fiber)
  end

  def kernel_sleep(duration = nil)
    @timers[Fiber.current] = now + duration if duration
    @blocked += 1 unless duration
    Fiber.yield
  ensure
    @timers.delete(Fiber.current)
    @blocked -= 1 unless duration
  end

  def block(_blocker, timeout = nil)
    @timers[Fiber.current] = now + timeout if timeout
    @blocked += 1
    Fiber.yield
  ensure
    @blocked -= 1
    @timers.delete(Fiber.current)
  end

  def unblock(_blocker, fiber)
    @lock.synchronize { @ready << fiber }
    @wake_w.write_nonblock(".", exception: false)
  end

  def fiber(&blk)
    Fiber.new(blocking: false, &blk).tap(&:resume)
  end

  def close
    run
    @wake_r.close
    @wake_w.close
  end
end

module FiberTestHelpers
  BLOCKING = { non_blocking: false, read_timeout: 10_000_000 }.freeze

  def server_options(**fields)
    # handshake: false until accept hands back TLS connections with the
    # handshake pending; the binding then runs it through the scheduler.
    Netsocket.server_tls_socket_options(certificates: [cert("server.pem")], private_key: cert("server.key"),
                                        handshake: false, **BLOCKING, **fields)
  end

  def client_options(**fields)
    Netsocket.tls_socket_options(trusted_certificates: [cert("ca.pem")], **BLOCKING, **fields)
  end

  # Bytes distinct per connection.
  def pattern(seed, size) = ([seed].pack("N") * (size / 4 + 1)).byteslice(0, size)

  def echo(conn)
    while (data = conn.recv(65_536)) && !data.empty?
      conn.send_all(data)
    end
  ensure
    conn.close
  end

  # Echoes +clients+ connections in fibers; returns what each client got back.
  def echo_round(server, clients, size, spawn)
    port = server.info[1]
    results = Array.new(clients)
    spawn.call do
      clients.times { |_| conn = server.accept; spawn.call { echo(conn) } }
    end
    clients.times do |i|
      spawn.call do
        Netsocket.make_client_tls_socket("127.0.0.1", port, client_options) do |c|
          data = pattern(i, size + i)
          c.send_all(data)
          c.shutdown(Netsocket::SHUT_WR)
          got = +""
          while (chunk = c.recv(65_536)) && !chunk.empty?
            got << chunk
          end
          results[i] = got == data ? got.bytesize : "mismatch #{got.bytesize}"
        end
      end
    end
    results
  end

  def with_file_limit(need)
    soft, hard = Process.getrlimit(:NOFILE)
    skip "RLIMIT_NOFILE hard limit #{hard} < #{need}" if hard != Process::RLIM_INFINITY && hard < need
    Process.setrlimit(:NOFILE, [soft, need].max, hard)
    yield
  ensure
    Process.setrlimit(:NOFILE, soft, hard) if soft
  end

  def bounded(seconds = 60, &blk) = Timeout.timeout(seconds * SCALE, &blk)

  # A listener whose accept queue is full (backlog 0, one client queued):
  # the kernel drops further SYNs until the queued one is accepted.  Made
  # outside any scheduler.
  def blackholed_listener
    listener = ::Socket.new(:INET, :STREAM)
    listener.bind(Addrinfo.tcp("127.0.0.1", 0))
    listener.listen(0)
    [listener, ::Socket.tcp("127.0.0.1", listener.local_address.ip_port, connect_timeout: 5)]
  end

  # A TLS client opens "localhost" (resolved on the library's thread) to a
  # listener that drops its SYN until another fiber has ticked 20 times;
  # a server thread then lets it in and handshakes (Ruby OpenSSL).  An open
  # that blocked the thread would never let the ticker run: it would time
  # out instead.  Spawns the fibers with +spawn+; returns what the client
  # saw (filled in as the fibers run) and a check to call after them.
  def open_while_another_fiber_ticks(spawn)
    listener, filler = blackholed_listener
    go = Queue.new
    server = Thread.new do # no scheduler here
      go.pop
      listener.accept[0].close # room in the queue: the client's next SYN gets in
      tls = OpenSSL::SSL::SSLSocket.new(listener.accept[0], server_context)
      tls.accept
      tls.write("hello")
      tls.close
    end
    ticks = 0
    seen = {}
    spawn.call do
      20.times { sleep 0.01; ticks += 1 } # rubocop:disable Style/Semicolon
      go << true
    end
    spawn.call do
      Netsocket.make_client_tls_socket("localhost", listener.local_address.ip_port,
                                       client_options(connection_timeout: 8_000_000)) do |c|
        seen[:opened_after_ticks] = ticks
        seen[:got] = c.recv(5)
        seen[:still_blocking] = !c.non_blocking?
      end
    end
    finish = lambda do
      go << true
      server.join(10)
      [listener, filler].each(&:close)
    end
    [seen, finish]
  end

  def server_context
    ctx = OpenSSL::SSL::SSLContext.new
    ctx.cert = OpenSSL::X509::Certificate.new(cert("server.pem"))
    ctx.key = OpenSSL::PKey.read(cert("server.key"))
    ctx
  end

  class StoppedOpen < StandardError; end

  # Yields an opener to the block, which runs it in a fiber and stops it:
  # a lambda that opens a plain client to a blackholed listener (with a
  # 10 s connection timeout) and fills in the hash it is given: the
  # StoppedOpen message, the time it waited and the sockets left open by
  # the stopped open.
  def stopped_open
    listener, filler = blackholed_listener
    # Sockets only: the binding's per-thread eventfd may come or go meanwhile.
    fds = lambda do
      Dir.children("/proc/self/fd").count do |fd|
        File.readlink("/proc/self/fd/#{fd}").start_with?("socket:")
      rescue SystemCallError # the listing's own descriptor, closed by now
        false
      end
    end
    opener = lambda do |res|
      before = fds.call
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      begin
        res[:opened] = Netsocket.make_client_socket("127.0.0.1", listener.local_address.ip_port,
                                                    Netsocket.socket_options(connection_timeout: 10_000_000))
      rescue StoppedOpen => e
        res[:error] = e.message
      ensure # also when Async stops the task
        res[:waited] = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
        res[:leaked_fds] = fds.call - before
      end
    end
    yield opener
  ensure
    [listener, filler].each { |s| s&.close }
  end

  def assert_open_yielded(seen)
    assert_equal({ opened_after_ticks: 20, got: "hello", still_blocking: true }, seen)
  end
end

class MiniSchedulerTest < Minitest::Test
  include FiberTestHelpers

  def in_scheduler(&blk)
    bounded do
      thread = Thread.new do
        scheduler = MiniScheduler.new
        Fiber.set_scheduler(scheduler)
        out = blk.call(scheduler)
        Fiber.set_scheduler(nil) # runs every fiber to its end
        out
      end
      thread.value
    end
  end

  def test_thousand_tls_connections_in_one_thread_every_byte_checked
    results, selects = with_file_limit(4500) do
      in_scheduler do |scheduler|
        server = Netsocket.make_server_tls_socket("127.0.0.1", 0, server_options)
        spawn = ->(&b) { Fiber.schedule(&b) }
        r = echo_round(server, 1000, 16 * 1024, spawn)
        Fiber.schedule { sleep 0.01 until r.all?; server.close }
        [r, scheduler]
      end
    end
    assert_equal Array.new(1000) { |i| 16 * 1024 + i }, results
    assert_operator selects.selects, :>, 100 # the work went through the scheduler's waits
  end

  def test_blocking_recv_yields_and_honours_the_read_timeout
    ticks = 0
    outcome = in_scheduler do
      server = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(**BLOCKING))
      res = {}
      Fiber.schedule do
        conn = server.accept
        sleep 0.5 * SCALE
        conn.close
        server.close
      end
      Fiber.schedule do
        c = Netsocket.make_client_socket("127.0.0.1", server.info[1],
                                         Netsocket.socket_options(non_blocking: false, read_timeout: 200_000))
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        begin
          c.recv(10)
        rescue Netsocket::SocketReadTimeoutError => e
          res[:error] = [e.message, e.status, e.code]
        end
        res[:waited] = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
        res[:still_blocking] = !c.non_blocking?
        c.close
      end
      Fiber.schedule { 10.times { ticks += 1; sleep 0.01 } }
      res
    end
    assert_equal ["recv timed out after 200000 us", "NS_ERR_READ_TIMEOUT", Netsocket::NS_ERR_READ_TIMEOUT],
                 outcome[:error]
    assert_operator outcome[:waited], :>=, 0.18
    assert_operator outcome[:waited], :<, 2 * SCALE
    assert outcome[:still_blocking]
    assert_equal 10, ticks # the other fiber ran while recv waited
  end

  def test_peer_that_vanishes_fails_the_reader
    error = in_scheduler do
      server = Netsocket.make_server_tls_socket("127.0.0.1", 0, server_options)
      res = {} # filled in by the fibers, which run after this block
      Fiber.schedule do
        conn = server.accept
        begin
          conn.recv(10)
          res[:second] = conn.recv(10)
        rescue Netsocket::SocketClosedError => e
          res[:error] = e
        end
        conn.close
        server.close
      end
      Fiber.schedule do
        tcp = TCPSocket.new("127.0.0.1", server.info[1])
        ctx = OpenSSL::SSL::SSLContext.new
        ctx.verify_mode = OpenSSL::SSL::VERIFY_NONE
        tls = OpenSSL::SSL::SSLSocket.new(tcp, ctx)
        tls.connect
        tls.write("hello")
        tcp.close # no close_notify
      end
      res
    end
    refute error.key?(:second)
    error = error[:error]
    assert_kind_of Netsocket::SocketClosedError, error
    assert_equal "TLS recv from 127.0.0.1:PORT: the peer closed the connection without close_notify (what was " \
                 "received may be truncated; the option ignore-unexpected-eof? accepts this as the end of the stream)",
                 error.message.sub(/:\d+:/, ":PORT:")
  end

  def test_client_open_yields_while_connecting_and_handshaking
    finish = nil
    seen = in_scheduler do
      out, finish = open_while_another_fiber_ticks(->(&b) { Fiber.schedule(&b) })
      out
    end
    assert_open_yielded(seen)
  ensure
    finish&.call
  end

  def test_an_open_stopped_by_fiber_raise_closes_its_half_open_socket
    outcome = stopped_open do |opener|
      in_scheduler do
        res = {}
        fiber = Fiber.schedule { opener.call(res) }
        Fiber.schedule { sleep 0.3; fiber.raise(StoppedOpen, "stopped") } # rubocop:disable Style/Semicolon
        res
      end
    end
    assert_equal [nil, "stopped", 0], outcome.values_at(:opened, :error, :leaked_fds)
    assert_operator outcome[:waited], :>=, 0.28
    assert_operator outcome[:waited], :<, 2 * SCALE
  end

  def test_non_blocking_sockets_keep_their_convention_under_a_scheduler
    outcome = in_scheduler do
      server = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(**BLOCKING))
      c = Netsocket.make_client_socket("127.0.0.1", server.info[1], Netsocket.socket_options(non_blocking: true))
      conn = server.accept
      r = begin
        c.recv(1)
      rescue Netsocket::WouldBlockError
        :would_block
      end
      [c, conn, server].each(&:close)
      r.nil? ? :would_block : r
    end
    assert_equal :would_block, outcome
  end
end

class AsyncSchedulerTest < Minitest::Test
  include FiberTestHelpers

  def setup
    require "async"
  rescue LoadError
    skip "ruby-async is not installed"
  end

  def test_thousand_concurrent_tls_connections_on_async
    with_file_limit(4500) do
      results = bounded(120) do
        Async do |task|
          server = Netsocket.make_server_tls_socket("127.0.0.1", 0, server_options)
          spawn = ->(&b) { task.async(&b) }
          r = echo_round(server, 1000, 16 * 1024, spawn)
          task.async { task.sleep(0.01) until r.all?; server.close }
          r
        end.wait
      end
      assert_equal Array.new(1000) { |i| 16 * 1024 + i }, results
    end
  end

  def test_client_open_yields_on_async
    finish = nil
    seen = bounded do
      Async do |task|
        out, finish = open_while_another_fiber_ticks(->(&b) { task.async(&b) })
        out
      end.wait
    end
    assert_open_yielded(seen)
  ensure
    finish&.call
  end

  def test_stopping_a_task_in_its_open_closes_the_half_open_socket
    outcome = stopped_open do |opener|
      bounded do
        Async do |task|
          res = {}
          opening = task.async { opener.call(res) }
          task.sleep 0.3
          opening.stop
          res
        end.wait
      end
    end
    assert_equal [nil, nil, 0], outcome.values_at(:opened, :error, :leaked_fds)
    assert_operator outcome[:waited], :>=, 0.28
    assert_operator outcome[:waited], :<, 2 * SCALE
  end

  def test_stopping_a_task_in_recv_leaves_the_socket_usable
    got = bounded do
      Async do |task|
        server = Netsocket.make_server_socket("127.0.0.1", 0, Netsocket.socket_options(**BLOCKING))
        c = Netsocket.make_client_socket("127.0.0.1", server.info[1], Netsocket.socket_options(**BLOCKING))
        conn = server.accept
        reader = task.async { c.recv(10) }
        task.sleep 0.05
        reader.stop # cancels the pending recv
        stopped = reader.status
        conn.send_all("after")
        res = [stopped, c.non_blocking?, c.recv(10)]
        [c, conn, server].each(&:close)
        res
      end.wait
    end
    assert_equal [:stopped, false, "after"], got
  end
end
