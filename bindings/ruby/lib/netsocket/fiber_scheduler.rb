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
    READ = 1
    WRITE = 2

    # Runs the block (a socket call) under +scheduler+: non-blocking, with
    # io_wait between attempts; +what+ names the call in a timeout error.
    def self.drive(sock, scheduler, what, timeout_us, default = READ)
      deadline = timeout_us.negative? ? nil : now + timeout_us / 1e6
      sock.set_non_blocking(true)
      begin
        loop do
          result = attempt { yield }
          return result unless result.equal?(WOULD_BLOCK)

          wait(sock, scheduler, direction(sock, default), deadline, what, timeout_us)
        end
      ensure
        sock.set_non_blocking(false) unless sock.closed?
      end
    end

    WOULD_BLOCK = Object.new.freeze

    # The call's result, or WOULD_BLOCK (raised, or recv's nil).
    def self.attempt
      result = yield
      result.nil? ? WOULD_BLOCK : result
    rescue WouldBlockError
      WOULD_BLOCK
    end

    def self.direction(sock, default)
      wanted = sock.respond_to?(:wants) ? sock.wants : 0
      return WRITE if wanted & WRITE != 0
      return READ if wanted & READ != 0

      default
    end

    def self.wait(sock, scheduler, dir, deadline, what, timeout_us)
      left = deadline && deadline - now
      raise timeout_error(what, timeout_us) if left && left <= 0

      events = dir == WRITE ? IO::WRITABLE : IO::READABLE
      ready = scheduler.io_wait(sock.__fiber_io, events, left)
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
      def recv(size, flags = 0)
        scheduler = FiberScheduling.scheduler_for(self)
        return super unless scheduler

        FiberScheduling.drive(self, scheduler, "recv", read_timeout) { super(size, flags) }
      end

      def send(data, flags = 0)
        scheduler = FiberScheduling.scheduler_for(self)
        return super unless scheduler

        FiberScheduling.drive(self, scheduler, "send", -1, WRITE) { super(data, flags) }
      end

      # send_all waits for room inside C: under a scheduler it is a loop of sends.
      def send_all(data, flags = 0)
        return super unless FiberScheduling.scheduler_for(self)

        data = data.b
        sent = 0
        sent += send(data.byteslice(sent, data.bytesize - sent), flags) while sent < data.bytesize
        sent
      end

      def handshake
        scheduler = FiberScheduling.scheduler_for(self)
        return super unless scheduler

        FiberScheduling.drive(self, scheduler, "TLS handshake", read_timeout) { super() || true }
        nil
      end

      def accept(&blk)
        scheduler = FiberScheduling.scheduler_for(self)
        return super unless scheduler

        conn = FiberScheduling.drive(self, scheduler, "accept", read_timeout) { __accept_now }
        begin
          conn.set_non_blocking(false) # it inherited the mode drive gave the server
          conn.handshake if conn.tls? # the handshake, too, yields
        rescue StandardError
          conn.close
          raise
        end
        return conn unless blk

        begin
          blk.call(conn)
        ensure
          conn.close
        end
      end

      # One IO for the scheduler to watch the fd with (never closes it).
      def __fiber_io
        fd = fileno
        @__fiber_io = nil unless @__fiber_io && @__fiber_io_fd == fd
        @__fiber_io_fd = fd
        @__fiber_io ||= IO.for_fd(fd, autoclose: false)
      end
    end

    # The opening calls: under a scheduler a TLS client's handshake yields
    # (it runs after the connect with the options' handshake left to it).
    module OpenMethods
      def make_client_tls_socket(node, service, options = nil, &blk)
        return super unless Fiber.current_scheduler

        deferred = options ? Options.new(NS_TLS_SOCKET_OPTIONS, options) : Options.new(NS_TLS_SOCKET_OPTIONS)
        return super unless deferred.handshake

        deferred.set_handshake(false)
        Netsocket.__finish_open(super(node, service, deferred, &nil), deferred, &blk)
      end

      def socket_options_to_client_socket(options, node, service, &blk)
        return super unless Fiber.current_scheduler && options.is_a?(Options) && options.tls? && options.handshake

        deferred = Options.new(options.kind, options)
        deferred.set_handshake(false)
        Netsocket.__finish_open(super(deferred, node, service, &nil), deferred, &blk)
      end
    end

    # Runs the deferred handshake of a client opened under a scheduler,
    # bounded by the options' connection timeout.
    def self.finish_open(sock, options)
      scheduler = Fiber.current_scheduler
      was_non_blocking = sock.non_blocking?
      sock.set_non_blocking(false)
      drive(sock, scheduler, "TLS handshake", options.connection_timeout) { sock.__handshake_now || true }
      sock.set_non_blocking(was_non_blocking)
      sock
    rescue StandardError
      sock.close
      raise
    end
  end

  class Socket
    alias __accept_now accept
    alias __handshake_now handshake
    prepend FiberScheduling::SocketMethods
  end

  def self.__finish_open(sock, options, &blk)
    FiberScheduling.finish_open(sock, options)
    return sock unless blk

    begin
      blk.call(sock)
    ensure
      sock.close
    end
  end

  singleton_class.prepend(FiberScheduling::OpenMethods)
end
