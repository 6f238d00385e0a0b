# frozen_string_literal: true

module Netsocket
  # Under a Fiber scheduler (Fiber.set_scheduler: Async, or any scheduler
  # with io_wait), the calls of a blocking socket yield to the scheduler
  # instead of blocking the thread: the call runs non-blocking and, when it
  # must wait, the scheduler's io_wait watches the fd in the direction the
  # socket asks for (a TLS read may need to write) until the socket's read
  # timeout.  Sockets the program made non-blocking keep their
  # would-block convention; without a scheduler nothing changes.
  module FiberScheduling
    # Runs the block (a socket call) under +scheduler+: non-blocking, with
    # io_wait between attempts, in the direction the would-block error
    # names; +what+ names the call in a timeout error.
    def self.drive(sock, scheduler, what, timeout_us)
      deadline = timeout_us.negative? ? nil : now + timeout_us / 1e6
      sock.set_non_blocking(true)
      begin
        loop do
          return yield
        rescue WaitReadableError
          wait(sock, scheduler, IO::READABLE, deadline, what, timeout_us)
        rescue WaitWritableError
          wait(sock, scheduler, IO::WRITABLE, deadline, what, timeout_us)
        end
      ensure
        sock.set_non_blocking(false) unless sock.closed?
      end
    end

    def self.wait(sock, scheduler, events, deadline, what, timeout_us)
      left = deadline && deadline - now
      raise timeout_error(what, timeout_us) if left && left <= 0

      ready = scheduler.io_wait(sock.to_io, events, left)
      raise timeout_error(what, timeout_us) if !ready && deadline && deadline <= now
    end

    def self.timeout_error(what, timeout_us)
      e = SocketReadTimeoutError.new("#{what} timed out after #{timeout_us} us")
      e.instance_variable_set(:@status, "NS_ERR_READ_TIMEOUT")
      e.instance_variable_set(:@code, NS_ERR_READ_TIMEOUT)
      e
    end

    def self.now = Process.clock_gettime(Process::CLOCK_MONOTONIC)

    # The scheduler of the current fiber when +sock+ would block the thread.
    def self.scheduler_for(sock)
      scheduler = Fiber.current_scheduler
      scheduler if scheduler && !sock.non_blocking?
    end

    # Prepended to Socket: each blocking call goes through drive under a
    # scheduler, and is the plain call otherwise.
    module SocketMethods
      # Keyword forms (exception: false) keep their meaning: no scheduling.
      def recv(*args, **kw)
        scheduler = FiberScheduling.scheduler_for(self)
        return super unless scheduler && kw.empty?

        FiberScheduling.drive(self, scheduler, "recv", read_timeout) { super(*args) }
      end

      def send(*args, **kw)
        scheduler = FiberScheduling.scheduler_for(self)
        return super unless scheduler && kw.empty?

        FiberScheduling.drive(self, scheduler, "send", -1) { super(*args) }
      end

      # send_all waits for room inside C: under a scheduler it is a loop of sends.
      def send_all(data, flags = 0)
        return super unless FiberScheduling.scheduler_for(self)

        data = data.b
        sent = 0
        sent += send(data.byteslice(sent, data.bytesize - sent), flags) while sent < data.bytesize
        sent
      end

      def handshake(**kw)
        scheduler = FiberScheduling.scheduler_for(self)
        return super unless scheduler && kw.empty?

        FiberScheduling.drive(self, scheduler, "TLS handshake", read_timeout) { super() }
      end

      def accept(**kw, &blk)
        scheduler = FiberScheduling.scheduler_for(self)
        return super unless scheduler && kw.empty?

        conn = FiberScheduling.drive(self, scheduler, "accept", read_timeout) { __accept_now }
        begin
          conn.set_non_blocking(false) # it inherited the mode drive gave the server
          conn.handshake if conn.tls? # the handshake, too, yields
        rescue StandardError
          conn.close
          raise
        end
        BlockForm.yield_and_close(conn, blk)
      end
    end

    # The client constructors: under a scheduler the whole open yields.
    # It runs as connect_start / connect_continue: name resolution (on the
    # library's thread), the connection attempts (Happy Eyeballs) and the
    # TLS handshake, with io_wait between steps on the descriptor and in
    # the direction each step names, until its deadline (the options'
    # connection timeout bounds the whole open, as without a scheduler).
    module OpenMethods
      def make_client_socket(node, service, options = nil, &blk)
        return super unless Fiber.current_scheduler

        BlockForm.yield_and_close(FiberScheduling.open(NS_SOCKET_OPTIONS, options, node, service), blk)
      end

      def make_client_tls_socket(node, service, options = nil, &blk)
        return super unless Fiber.current_scheduler

        BlockForm.yield_and_close(FiberScheduling.open(NS_TLS_SOCKET_OPTIONS, options, node, service), blk)
      end

      def socket_options_to_client_socket(options, node, service, &blk)
        return super unless Fiber.current_scheduler && options.is_a?(Options)

        BlockForm.yield_and_close(FiberScheduling.open(options.kind, options, node, service), blk)
      end
    end

    # Opens a client of +kind+ with +options+ (nil: the defaults) without
    # blocking the thread; the socket keeps the options' mode.  A failed or
    # stopped open (an exception in io_wait) closes the half-open socket.
    def self.open(kind, options, node, service)
      opts = options ? Options.new(kind, options) : Options.new(kind)
      blocking = !opts.non_blocking
      opts.set_non_blocking(true)
      sock = Netsocket.connect_start(opts, node, service)
      wait_until_open(sock, Fiber.current_scheduler)
      sock.set_non_blocking(false) if blocking
      opened = sock
    ensure
      sock.close if sock && !opened
    end

    def self.wait_until_open(sock, scheduler)
      loop do
        return if sock.connect_continue
      rescue WaitReadableError, WaitWritableError
        events = sock.wants == NS_WANT_WRITE ? IO::WRITABLE : IO::READABLE
        us = sock.wants_timeout
        # The descriptor changes from step to step (the resolver's, the
        # attempts', the socket's) and stays the library's: never closed here.
        scheduler.io_wait(IO.for_fd(sock.wants_fd, autoclose: false), events, us.negative? ? nil : us / 1e6)
      end
    end
  end

  class Socket
    alias __accept_now accept
    prepend FiberScheduling::SocketMethods
  end

  singleton_class.prepend(FiberScheduling::OpenMethods)
end
