# frozen_string_literal: true

# Item 4 (Ruby): the Ruby binding against Ruby's own OpenSSL::SSL over
# TCPSocket/TCPServer (the system OpenSSL 3).
#
# TLS 1.3 over loopback: bulk throughput (64 KiB writes), 64-byte round trips,
# full handshakes per second (ECDSA P-256 certificate verified against a CA
# with a host-name check, SNI "localhost"), and reconnects (connect, one
# 64-byte round trip, close) resumed: netsocket's options object resumes by
# itself, OpenSSL::SSL offers the previous connection's session (one
# SSLContext, `session=`).  For each figure both variants
# run alternately; the server of each run is a Ruby Thread of this process
# running the same variant (both libraries release the GVL while they wait),
# the client is the main thread.  Prints rows of run.sh's table: medians, and
# the median of the per-pair ratios.
#
# Usage (run.sh passes -I with the built extension's directory):
#     ruby -I build/bindings/ruby bench_ruby.rb [--quick] [--runs N] [--rows-only]
#
# Written against the Bindings section of docs/reference.md and bench_python.py.
require "netsocket"
require "openssl"
require "socket"
require "tmpdir"
require "open3"

QUICK = ARGV.include?("--quick")
ROWS_ONLY = ARGV.include?("--rows-only")
RUNS = if (i = ARGV.index("--runs")) then [1, Integer(ARGV[i + 1])].max
       elsif QUICK then 1
       else 7
       end

CHUNK = 64 * 1024
BULK_BYTES = QUICK ? (4 << 20) : (128 << 20)
TRIPS = QUICK ? 200 : 5000
HANDSHAKES = QUICK ? 10 : 200
READ_TIMEOUT = 10 # seconds: no single wait in a run may take longer
# Whole-script bound: every loop is bounded in count; this bounds them in time.
WATCHDOG = Thread.new do
  sleep(QUICK ? 30 : 60 + 20 * RUNS)
  warn "bench_ruby: gave up (time limit)"
  exit!(1)
end

# A CA and a leaf for localhost / 127.0.0.1, ECDSA P-256, with openssl(1).
def make_certs(dir)
  run = lambda do |*args|
    out, status = Open3.capture2e("openssl", *args, chdir: dir)
    raise "openssl #{args.first}: #{out}" unless status.success?
  end
  run.call("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=bench CA")
  run.call("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
  File.write(File.join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
  run.call("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
           "-CAcreateserial", "-out", "leaf.pem", "-days", "30", "-extfile", "ext.cnf")
  %w[ca.pem leaf.pem leaf.key].to_h { |name| [name, File.join(dir, name)] }
end

class NetsocketVariant
  def name = "netsocket"

  def initialize(certs)
    so = Netsocket.server_tls_socket_options(
      certificates: [File.binread(certs["leaf.pem"])], private_key: File.binread(certs["leaf.key"]),
      non_blocking: false, read_timeout: READ_TIMEOUT * 1_000_000
    )
    @server = Netsocket.make_server_tls_socket("127.0.0.1", "0", so)
    @port = @server.info[1].to_s
    @client_opts = Netsocket.tls_socket_options(
      trusted_certificates: [File.binread(certs["ca.pem"])], sni: ["localhost"],
      non_blocking: false, read_timeout: READ_TIMEOUT * 1_000_000
    )
  end

  def accept
    c = @server.accept
    c.setsockopt(Netsocket::IPPROTO_TCP, Netsocket::TCP_NODELAY, 1)
    c
  end

  def connect
    c = Netsocket.make_client_tls_socket("127.0.0.1", @port, @client_opts)
    c.setsockopt(Netsocket::IPPROTO_TCP, Netsocket::TCP_NODELAY, 1)
    c
  end

  def reconnect = connect # the options object resumes by itself
  def remember(_c) = nil
  def reused?(c) = c.session_reused?
  def version(c) = c.tls_version
  def send_all(c, data) = c.send_all(data)
  def recv(c, n) = c.recv(n) # "" at end of stream
end

class OpenSSLVariant
  def name = "Ruby OpenSSL"

  def initialize(certs)
    @server_ctx = OpenSSL::SSL::SSLContext.new
    @server_ctx.cert = OpenSSL::X509::Certificate.new(File.binread(certs["leaf.pem"]))
    @server_ctx.key = OpenSSL::PKey.read(File.binread(certs["leaf.key"]))
    @server_ctx.min_version = OpenSSL::SSL::TLS1_3_VERSION
    store = OpenSSL::X509::Store.new
    store.add_file(certs["ca.pem"])
    @client_ctx = OpenSSL::SSL::SSLContext.new
    @client_ctx.cert_store = store
    @client_ctx.verify_mode = OpenSSL::SSL::VERIFY_PEER # checks the chain ...
    @client_ctx.verify_hostname = true                   # ... and the host name
    @client_ctx.min_version = OpenSSL::SSL::TLS1_3_VERSION
    @listener = TCPServer.new("127.0.0.1", 0)
    @listener.listen(1024)
    @port = @listener.addr[1]
  end

  def wrap(ssl)
    ssl.sync_close = true # close also closes the TCP socket
    ssl.sync = true       # write goes straight to SSL_write
    ssl
  end

  def accept
    tcp = @listener.accept
    tcp.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    ssl = wrap(OpenSSL::SSL::SSLSocket.new(tcp, @server_ctx))
    ssl.accept
  end

  def connect
    tcp = TCPSocket.new("127.0.0.1", @port)
    tcp.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    ssl = wrap(OpenSSL::SSL::SSLSocket.new(tcp, @client_ctx))
    ssl.hostname = "localhost" # SNI and the name verify_hostname checks
    ssl.connect
  end

  # As connect, offering the last connection's session (SSLContext + session=).
  def reconnect
    tcp = TCPSocket.new("127.0.0.1", @port)
    tcp.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    ssl = wrap(OpenSSL::SSL::SSLSocket.new(tcp, @client_ctx))
    ssl.hostname = "localhost"
    ssl.session = @session if @session
    ssl.connect
  end

  def remember(c) = (@session = c.session) # after a read: holds the TLS 1.3 ticket
  def reused?(c) = c.session_reused?
  def version(c) = c.ssl_version
  def send_all(c, data) = c.write(data)

  def recv(c, n)
    c.sysread(n) # waits with the GVL released; the watchdog bounds the wait
  rescue EOFError
    ""
  end
end

def recv_exact(v, c, n)
  got = 0
  while got < n
    data = v.recv(c, n - got)
    raise EOFError, "connection closed early" if data.empty?

    got += data.bytesize
  end
end

# The server side of one run, in a thread.
def serve(v, mode)
  if mode == :handshakes
    HANDSHAKES.times { v.accept.close }
    return
  end
  if mode == :reconnects
    HANDSHAKES.times do
      c = v.accept
      recv_exact(v, c, 64)
      v.send_all(c, ("\0" * 64).b)
      c.close
    end
    return
  end
  c = v.accept
  if mode == :bulk
    got = 0
    while got < BULK_BYTES
      data = v.recv(c, CHUNK)
      raise EOFError, "connection closed early" if data.empty?

      got += data.bytesize
    end
    v.send_all(c, "k")
  else
    TRIPS.times do
      msg = +""
      while msg.bytesize < 64
        data = v.recv(c, 64 - msg.bytesize)
        raise EOFError, "connection closed early" if data.empty?

        msg << data
      end
      v.send_all(c, msg)
    end
  end
  c.close
end

def now = Process.clock_gettime(Process::CLOCK_MONOTONIC)

# The server of a run: a thread of this process (the figures asked for), or
# with +forked+ a forked child, which has only that one Ruby thread.  Returns
# a thread whose value is nil or the server's failure, and the child's pid.
def start_server(v, mode, forked)
  unless forked
    thread = Thread.new do
      serve(v, mode)
      nil
    rescue Exception => e # the main thread reports it
      e
    end
    return [thread, nil]
  end
  pid = fork do
    serve(v, mode)
    exit!(0)
  rescue Exception => e
    warn "bench_ruby: #{v.name} server: #{e.class}: #{e.message}"
    exit!(1)
  end
  [Thread.new { Process.wait2(pid)[1].success? ? nil : RuntimeError.new("it failed") }, pid]
end

def one_run(v, mode, forked = false)
  server, pid = start_server(v, mode, forked)
  figure = nil
  begin
    case mode
    when :handshakes
      t0 = now
      HANDSHAKES.times { v.connect.close }
      figure = HANDSHAKES / (now - t0)
    when :reconnects
      msg = ("\0" * 64).b.freeze
      reused = 0
      t0 = now
      HANDSHAKES.times do
        c = v.reconnect
        v.send_all(c, msg)
        recv_exact(v, c, 64) # brings the TLS 1.3 tickets
        v.remember(c)
        reused += 1 if v.reused?(c)
        c.close
      end
      figure = HANDSHAKES / (now - t0)
      # All but a run's first connection must resume, or the row lies.
      abort "bench_ruby: #{v.name} resumed #{reused} of #{HANDSHAKES}" if reused < HANDSHAKES - 1
    when :bulk
      c = v.connect
      data = ("\0" * CHUNK).b.freeze
      t0 = now
      (BULK_BYTES / CHUNK).times { v.send_all(c, data) }
      recv_exact(v, c, 1)
      figure = BULK_BYTES / (now - t0) / 1e6
      c.close
    else
      c = v.connect
      msg = ("\0" * 64).b.freeze
      t0 = now
      TRIPS.times do
        v.send_all(c, msg)
        recv_exact(v, c, 64)
      end
      figure = TRIPS / (now - t0)
      c.close
    end
  ensure
    unless server.join(READ_TIMEOUT * 2)
      Process.kill(:KILL, pid) if pid
      abort "bench_ruby: the #{v.name} server did not finish"
    end
  end
  err = server.value
  abort "bench_ruby: the #{v.name} server failed: #{err.class}: #{err.message}" if err
  figure
end

def median(xs)
  xs = xs.sort
  n = xs.size
  n.odd? ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2.0
end

def alternate(a, b, mode, forked)
  va = []
  vb = []
  RUNS.times do |i|
    if i.even?
      va << one_run(a, mode, forked)
      vb << one_run(b, mode, forked)
    else
      vb << one_run(b, mode, forked)
      va << one_run(a, mode, forked)
    end
  end
  [median(va), median(vb), median(va.zip(vb).map { |x, y| x / y })]
end

def fmt(v, unit) = v >= 100 ? format("%.0f %s", v, unit) : format("%.2f %s", v, unit)

# Both variants must actually speak TLS 1.3 with a verified peer.
def check_tls13(v)
  c = nil
  server = Thread.new { s = v.accept; [v.version(s), s.close] }
  c = v.connect
  got = v.version(c)
  c.close
  server_got = server.value.first
  return if got == "TLSv1.3" && server_got == "TLSv1.3"

  abort "bench_ruby: #{v.name} negotiated #{got.inspect} / #{server_got.inspect}, not TLSv1.3"
end

def main
  Thread.report_on_exception = false
  Dir.mktmpdir("bench_ruby") do |dir|
    certs = make_certs(dir)
    ns = NetsocketVariant.new(certs)
    rb = OpenSSLVariant.new(certs)
    [ns, rb].each { |v| check_tls13(v) }
    unless ROWS_ONLY
      puts "| item | figure | netsocket | baseline | ratio | target |"
      puts "|---|---|---:|---:|---:|---|"
    end
    # The last row runs the server in a forked child with one Ruby thread,
    # the usual shape of a Ruby server process.
    rows = [[:bulk, false, "TLS bulk, 64 KiB writes (vs Ruby OpenSSL)", "MB/s", 1.0],
            [:rtt, false, "TLS 64 B round trips (vs Ruby OpenSSL)", "/s", 1.0],
            [:handshakes, false, "TLS full handshakes (vs Ruby OpenSSL)", "/s", 1.0],
            [:reconnects, false,
             "TLS reconnects + 64 B round trip, resumed (vs Ruby OpenSSL, one SSLContext + session=)",
             "/s", 1.0],
            [:bulk, true, "TLS bulk, 64 KiB writes, single-threaded server process (vs Ruby OpenSSL)",
             "MB/s", 1.0]]
    rows.each do |mode, forked, figure, unit, target|
      a, b, r = alternate(ns, rb, mode, forked)
      puts format("| 4 Ruby | %s | %s | %s | %.3f | >= %.2f %s |", figure, fmt(a, unit), fmt(b, unit),
                  r, target, r >= target ? "met" : "**missed**")
      $stdout.flush
    end
  end
end

main
