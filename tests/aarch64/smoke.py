"""smoke.py CERTDIR — the cross-built Python binding, run under qemu-aarch64:
imports, prints its version and the machine, and does one TLS round trip
over 127.0.0.1 between a netsocket server (a thread) and client."""
import pathlib
import platform
import sys
import threading

import netsocket

d = pathlib.Path(sys.argv[1])
srv = netsocket.make_server_tls_socket("127.0.0.1", "0", netsocket.server_tls_socket_options(
    certificates=[(d / "server.pem").read_bytes()], private_key=(d / "server.key").read_bytes(),
    non_blocking=False, read_timeout=20_000_000))
seen = {}


def serve():
    conn = srv.accept()
    seen["got"] = conn.recv(100)
    conn.send_all(seen["got"].upper())
    conn.close()


t = threading.Thread(target=serve, daemon=True)
t.start()
c = netsocket.make_client_tls_socket("localhost", srv.info()[1], netsocket.tls_socket_options(
    trusted_certificates=[(d / "ca.pem").read_bytes()], non_blocking=False, read_timeout=20_000_000))
c.send_all(b"ping\0aarch64")
back = c.recv(100)
t.join(60)
assert not t.is_alive(), "server thread did not finish"
assert seen["got"] == b"ping\0aarch64", seen
assert back == b"PING\0AARCH64", back
tls = c.tls_version()
c.close()
srv.close()
print(f"python: netsocket {netsocket.version()} ({netsocket.__version__}) on {platform.machine()}, "
      f"{tls} round trip ok")
