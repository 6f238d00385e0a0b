# smoke.rb CERTDIR — the cross-built Ruby binding, run under qemu-aarch64:
# requires, prints its version and the machine, and does one TLS round trip
# over 127.0.0.1 between a netsocket server (a thread) and client.
require "netsocket"
require "rbconfig"

dir = ARGV.fetch(0)
read = ->(name) { File.binread(File.join(dir, name)) }
srv = Netsocket.make_server_tls_socket("127.0.0.1", "0", Netsocket.server_tls_socket_options(
  certificates: [read.("server.pem")], private_key: read.("server.key"),
  non_blocking: false, read_timeout: 20_000_000))
server = Thread.new do
  conn = srv.accept
  got = conn.recv(100)
  conn.send_all(got.upcase)
  conn.close
  got
end
c = Netsocket.make_client_tls_socket("localhost", srv.info[1], Netsocket.tls_socket_options(
  trusted_certificates: [read.("ca.pem")], non_blocking: false, read_timeout: 20_000_000))
c.send_all("ping\0aarch64")
back = c.recv(100)
raise "server thread did not finish" unless server.join(60)
raise "server got #{server.value.inspect}" unless server.value == "ping\0aarch64".b
raise "client got #{back.inspect}" unless back == "PING\0AARCH64".b
tls = c.tls_version
c.close
srv.close
machine = RbConfig::CONFIG["host_cpu"]
puts "ruby: netsocket #{Netsocket.version} on #{machine}, #{tls} round trip ok"
