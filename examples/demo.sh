#!/bin/bash
# The demo: a real TLS exchange over loopback between examples/echo_server
# and examples/echo_client, with ALPN.  Certificates are made fresh with the
# openssl command-line tool (a CA and a server certificate for localhost).
#   bash examples/demo.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
work=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
server_pid=""

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=netsocket demo CA" -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
    -CAcreateserial -days 2 -extfile "$work/san.ext" -out "$work/server.crt" 2>/dev/null

ECHO_MAX_CLIENTS=1 "$build/examples/echo_server" 0 "$work/server.crt" "$work/server.key" \
    h2 http/1.1 > "$work/server.out" &
server_pid=$!
port=""
for _ in $(seq 1 50); do
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/server.out")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "demo: the server did not start"; exit 1; }

echo "server: $(head -n 1 "$work/server.out")"
"$build/examples/echo_client" localhost "$port" "$work/ca.crt" h2 "hello over TLS"
wait $server_pid
server_pid=""
sed -n '2,$s/^/server: /p' "$work/server.out"
echo "demo: OK"
