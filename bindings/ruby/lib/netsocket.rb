# frozen_string_literal: true

# netsocket for Ruby: the SWIG module (netsocket/netsocket.so) plus the Ruby
# idioms — keyword builders, `?` predicates and block forms that close.
require "netsocket/netsocket"

module Netsocket
  # The option fields, from the one table in option_fields.i:
  # field => [field, method, kinds, kinds described, type described, list?].
  OPTION_FIELDS = option_fields.to_h { |row| [row[0].to_sym, row.freeze] }.freeze

  # Options of +kind+ from keyword fields: each field's method (from the
  # table) is called with the value, or once per item of a list field; a
  # block is the verifier.
  def self.build_options(builder, kind, fields, verifier)
    from = fields.delete(:from)
    options = from ? Options.new(kind, from) : Options.new(kind)
    fields[:certificate_verifier] = verifier if verifier
    fields.each do |name, value|
      row = OPTION_FIELDS[name]
      raise ArgumentError, "#{builder}: no option field #{name} (the fields: #{OPTION_FIELDS.keys.join(", ")})" unless row

      field, method, _, _, type_text, list = row
      raise TypeError, "#{builder}: #{field} takes #{type_text}, not #{value.class}" if list != value.is_a?(Array)

      (list ? value : [value]).each do |item|
        options.public_send(method, item)
      rescue TypeError
        raise TypeError, "#{builder}: #{field} takes #{type_text}, not #{item.class}"
      end
    end
    options
  end

  def self.socket_options(**fields, &verifier)
    build_options(:socket_options, NS_SOCKET_OPTIONS, fields, verifier)
  end

  def self.tls_socket_options(**fields, &verifier)
    build_options(:tls_socket_options, NS_TLS_SOCKET_OPTIONS, fields, verifier)
  end

  def self.server_tls_socket_options(**fields, &verifier)
    build_options(:server_tls_socket_options, NS_SERVER_TLS_SOCKET_OPTIONS, fields, verifier)
  end

  class << self
    alias socket_options? is_socket_options
    alias tls_socket_options? is_tls_socket_options
    alias server_tls_socket_options? is_server_tls_socket_options
  end

  # With a block, the socket is yielded and closed afterwards; the block's
  # value is returned.
  module BlockForm
    def self.wrap(mod, names)
      mod.prepend(Module.new do
        names.each do |name|
          define_method(name) do |*args, &blk|
            BlockForm.yield_and_close(super(*args), blk)
          end
        end
      end)
    end

    # sock, or with a block: the block's value, sock closed afterwards.
    def self.yield_and_close(sock, blk)
      return sock unless blk

      begin
        blk.call(sock)
      ensure
        sock.close
      end
    end
  end
  BlockForm.wrap(singleton_class, %i[make_client_socket make_client_tls_socket make_server_socket
                                     make_server_tls_socket socket_options_to_client_socket])

  class Options
    alias socket? is_socket
    alias tls? is_tls
    alias server_tls? is_server_tls
  end

  class Socket
    alias closed? is_closed
    alias tls? is_tls
    alias non_blocking? is_non_blocking
    alias session_reused? session_reused
    alias to_i fileno

    def inspect
      "#<Netsocket::Socket #{describe}>"
    end

    # An IO on the socket's descriptor (never closing it), so IO.select and
    # IO#wait_readable take sockets.  A TLS socket may hold decrypted bytes
    # already read from the descriptor: check #pending before waiting.
    def to_io
      raise IOError, "closed netsocket" if closed?

      @io = nil if @io && @io.fileno != fileno
      @io ||= IO.for_fd(fileno, autoclose: false)
    end
  end

  class Options
    def inspect
      "#<Netsocket::Options #{describe}>"
    end
  end

  class SelectorCore
    def inspect
      "#<#{self.class.name} #{describe}>"
    end
  end
  BlockForm.wrap(Socket, %i[accept])

  # With `exception: false`, a call that would block returns
  # :wait_readable / :wait_writable instead of raising WaitReadableError /
  # WaitWritableError (as IO#read_nonblock and friends do).
  module NonBlockingForms
    %i[recv send accept handshake].each do |name|
      define_method(name) do |*args, exception: true, &blk|
        super(*args, &blk)
      rescue WaitReadableError
        raise if exception

        :wait_readable
      rescue WaitWritableError
        raise if exception

        :wait_writable
      end
    end
  end
  Socket.prepend(NonBlockingForms)

  # #add watches a socket once (readable or timed out); #watch until it is
  # removed or closed, for reading and/or writing (NS_WANT_READ |
  # NS_WANT_WRITE).  #wait returns [socket, data, timed_out, ready] events
  # (and yields each to a block).  The C selector owns each socket's
  # [socket, data], so a wait costs O(ready), whatever the number watched.
  class Selector < SelectorCore
    def add(sock, timeout = -1, data = nil)
      super_watch(sock, NS_WANT_READ, timeout, [sock, data, true])
    end

    def watch(sock, interest = NS_WANT_READ, timeout = -1, data = nil)
      super_watch(sock, interest, timeout, [sock, data, false])
    end

    def remove(sock)
      unwatch(sock)
      self
    end

    def wait(timeout = -1)
      once = []
      events = Array.new(poll(timeout)) do |i|
        sock, data, one_shot = event_value(i)
        once << sock if one_shot
        [sock, data, event_timed_out(i), event_ready(i)]
      end
      once.each { |sock| unwatch(sock) } # after reading the events: their values stay valid until then
      events.each { |event| yield(*event) } if block_given?
      events
    end

    alias size count

    private

    def super_watch(sock, interest, timeout, value)
      SelectorCore.instance_method(:watch).bind_call(self, sock, interest, timeout, value)
      self
    end
  end
end

# Keyword forms of every method, from the one table (netsocket/api.rb,
# generated with its documentation from the header): each parameter may be
# given by name, e.g. sock.recv(size: 10) or
# Netsocket.make_client_socket(node: "example.com", service: 443, options: o).
# Prepended last, so the other forms (blocks, exception: false) see
# positional arguments.
module Netsocket
  module KeywordForms
    PASSED_ON = %i[exception].freeze # NonBlockingForms' keyword

    def self.install
      API.group_by { |name, _| name[/\A[^#.]+/] }.each do |owner, rows|
        target = owner == "Netsocket" ? Netsocket.singleton_class : Object.const_get(owner)
        table = rows.to_h { |name, params| [name[/[#.](\w+)\z/, 1].to_sym, [name, params]] }
        target.prepend(Module.new do
          table.each do |method, (name, params)|
            next unless target.method_defined?(method) || target.private_method_defined?(method)

            define_method(method) do |*args, **kw, &blk|
              super(*KeywordForms.positional(name, params, args, kw), **kw, &blk)
            end
          end
        end)
      end
    end

    # args followed by the parameters given as keywords (removed from kw),
    # the optional ones skipped before them at their defaults.  An
    # ArgumentError names the method and a missing or unknown keyword.
    def self.positional(name, params, args, kw)
      return args if kw.empty?

      named = params.drop(args.length)
      last = named.rindex { |param, _| kw.key?(param) }
      filled = named.first(last ? last + 1 : 0).map do |param, default|
        next kw.delete(param) if kw.key?(param)
        raise ArgumentError, "#{name}: missing keyword: #{param}" if default == :required

        default
      end
      unknown = kw.keys - PASSED_ON
      raise ArgumentError, "#{name}: unknown keyword: #{unknown.join(", ")}" unless unknown.empty?

      args + filled
    end
  end
end

require "netsocket/fiber_scheduler"
require "netsocket/api"
Netsocket::KeywordForms.install # outermost: after every other form
