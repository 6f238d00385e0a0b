"""hold_peers.py PORT N: opens N TCP connections to 127.0.0.1:PORT, prints
"ready", and holds them until stdin closes.  The idle peers of the binding
selector benchmarks live here, so the benchmark process stays within its
RLIMIT_NOFILE (as bench_selector.c's child process)."""
import resource
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 64)), hard))
peers = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("ready", flush=True)
sys.stdin.read()
