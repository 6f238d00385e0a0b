#!/bin/bash
# cipher_policy.sh ECHO_SERVER ECHO_CLIENT — the TLS 1.2 cipher policy
# (ECDHE key exchange with AEAD ciphers only, the server's order) seen by
# peers no one here wrote, with an RSA certificate (static RSA and 3DES
# need one):
#   - gnutls-cli and openssl s_client offering only weak suites are refused
#     by netsocket's server (examples/echo_server); the server's order wins;
#   - gnutls-serv and openssl s_server offering only weak suites are refused
#     by netsocket's client (examples/echo_client);
#   - sslscan (a TLS scanner from Debian) finds no weak suite or version.
# A missing program skips (exit 77), or fails with NS_INTEROP_REQUIRE_PEERS.
# Every wait is bounded; every process started is stopped.
set -u
server_bin=$1 client_bin=$2
failed=0
pids=()
work=$(mktemp -d /tmp/ns-cipher-policy-XXXXXX)
cleanup() {
    exec 4>&-
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

for prog in openssl gnutls-cli gnutls-serv sslscan timeout ss python3; do
    if ! command -v "$prog" >/dev/null; then
        echo "$prog is not installed"
        [ -n "${NS_INTEROP_REQUIRE_PEERS:-}" ] && exit 1
        exit 77
    fi
done

ok() { echo "ok   $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

# An RSA CA and server certificate for localhost / 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=cipher-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >rsa.ext
openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out rsa.pem -days 2 \
    -extfile rsa.ext 2>/dev/null || { echo "cannot make the certificates"; exit 1; }

# Waits (at most 5 s) until something listens on 127.0.0.1:$1 (without
# connecting: s_server -naccept 1 would take the probe for its client).
wait_listening() {
    for _ in $(seq 50); do
        ss -ltnH "sport = :$1" | grep -q . && return 0
        sleep 0.1
    done
    return 1
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

weak12="NONE:+VERS-TLS1.2:+COMP-NULL:+SIGN-ALL:+CURVE-ALL"
# gnutls priority strings of weak TLS 1.2 suites: 3DES (SWEET32) and static
# RSA, static RSA with AES-CBC and with AES-GCM (no forward secrecy),
# ECDHE with CBC and SHA-1.
gnutls_weak=("$weak12:+3DES-CBC:+RSA:+SHA1" "$weak12:+AES-128-CBC:+RSA:+SHA1"
             "$weak12:+AES-128-GCM:+RSA:+AEAD" "$weak12:+AES-128-CBC:+ECDHE-RSA:+SHA1"
             "$weak12:+AES-256-CBC:+ECDHE-RSA:+SHA1")
openssl_weak=("AES128-SHA" "AES256-GCM-SHA384" "ECDHE-RSA-AES128-SHA" "ECDHE-RSA-AES256-SHA384")

# ---- netsocket's server ----
"$server_bin" 0 rsa.pem rsa.key >server.out 2>server.err &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" server.out 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' server.out)
[ -n "$port" ] || { echo "echo_server did not start: $(cat server.err)"; exit 1; }

for prio in "${gnutls_weak[@]}"; do
    out=$(timeout 10 gnutls-cli --x509cafile ca.pem --port "$port" --priority "$prio" 127.0.0.1 \
          </dev/null 2>&1)
    if [ $? -ne 0 ] && grep -q -F "*** Received alert [40]: Handshake failed" <<<"$out"; then
        ok "server refuses gnutls-cli --priority $prio"
    else
        fail "server refuses gnutls-cli --priority $prio" "$(tail -n 3 <<<"$out")"
    fi
done
out=$(timeout 10 gnutls-cli --x509cafile ca.pem --port "$port" \
      --priority "$weak12:+AES-128-GCM:+ECDHE-RSA:+AEAD" 127.0.0.1 </dev/null 2>&1)
if grep -q -x -F -- "- Description: (TLS1.2-X.509)-(ECDHE-X25519)-(RSA-PSS-RSAE-SHA256)-(AES-128-GCM)" \
        <<<"$out"; then
    ok "server accepts gnutls-cli with ECDHE-RSA AES-128-GCM"
else
    fail "server accepts gnutls-cli with ECDHE-RSA AES-128-GCM" "$(tail -n 3 <<<"$out")"
fi
for cipher in "${openssl_weak[@]}"; do
    out=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -cipher "$cipher" \
          -CAfile ca.pem </dev/null 2>&1)
    if grep -q "Cipher is (NONE)" <<<"$out" && grep -q "alert handshake failure" <<<"$out"; then
        ok "server refuses openssl s_client -cipher $cipher"
    else
        fail "server refuses openssl s_client -cipher $cipher" "$(grep -m1 "Cipher is" <<<"$out")"
    fi
done
# The client prefers ChaCha20, then AES-256; the server's first choice wins.
out=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -CAfile ca.pem \
      -cipher "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256" \
      </dev/null 2>&1)
if grep -q "^New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256$" <<<"$out"; then
    ok "server prefers its own order (openssl s_client)"
else
    fail "server prefers its own order (openssl s_client)" "$(grep -m1 "Cipher is" <<<"$out")"
fi

# sslscan: every suite and version it finds accepted must be in the policy.
allowed="TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256|TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384|TLSv1.2 ECDHE-RSA-CHACHA20-POLY1305|TLSv1.3 TLS_AES_128_GCM_SHA256|TLSv1.3 TLS_AES_256_GCM_SHA384|TLSv1.3 TLS_CHACHA20_POLY1305_SHA256"
scan=$(timeout 120 sslscan --no-colour --no-heartbleed --no-renegotiation --no-compression \
       --no-fallback --no-check-certificate "127.0.0.1:$port" 2>&1)
accepted=$(awk '$1 == "Preferred" || $1 == "Accepted" { print $2 " " $5 }' <<<"$scan" | sort -u)
weak=$(grep -v -x -E "$allowed" <<<"$accepted")
if [ -z "$accepted" ]; then
    fail "sslscan finds no weak suite" "sslscan found no suite at all: $(tail -n 5 <<<"$scan")"
elif [ -n "$weak" ]; then
    fail "sslscan finds no weak suite" "accepted: $(tr '\n' ';' <<<"$weak")"
elif [ "$(wc -l <<<"$accepted")" -ne 6 ]; then
    fail "sslscan finds no weak suite" "expected the 6 suites, found: $(tr '\n' ';' <<<"$accepted")"
else
    ok "sslscan finds no weak suite or version ($(wc -l <<<"$accepted") suites, all in the policy)"
fi

# ---- netsocket's client ----
# Runs echo_client against a peer on $1; its output (stdout and stderr).
client() { timeout 20 "$client_bin" 127.0.0.1 "$1" ca.pem "hello" 2>&1; }
expect_refused() { # name port
    local out
    out=$(client "$2")
    local want="echo_client: connect: TLS handshake with 127.0.0.1:$2: the peer sent the alert handshake_failure (40) (NS_ERR_TLS)"
    if [ "$out" = "$want" ]; then ok "$1"; else fail "$1" "$out"; fi
}
for prio in "${gnutls_weak[@]}"; do
    p=$(free_port)
    gnutls-serv --x509certfile rsa.pem --x509keyfile rsa.key --priority "$prio" --port "$p" \
        --echo >/dev/null 2>&1 &
    pids+=($!)
    wait_listening "$p" || { fail "gnutls-serv --priority $prio" "did not start"; continue; }
    expect_refused "client refuses gnutls-serv --priority $prio" "$p"
    kill "${pids[-1]}" 2>/dev/null
done
for cipher in "${openssl_weak[@]}"; do
    p=$(free_port)
    # s_server ends at the end of its stdin: its stdin is a FIFO this
    # script holds open (fd 4) until the next s_server or its exit.
    rm -f stdin.fifo && mkfifo stdin.fifo
    openssl s_server -accept "127.0.0.1:$p" -tls1_2 -cipher "$cipher" -cert rsa.pem \
        -key rsa.key -naccept 1 <stdin.fifo >/dev/null 2>&1 &
    pids+=($!)
    exec 4>stdin.fifo
    wait_listening "$p" || { fail "openssl s_server -cipher $cipher" "did not start"; continue; }
    expect_refused "client refuses openssl s_server -cipher $cipher" "$p"
done
# The client's own first choice, against a server that follows the client.
p=$(free_port)
gnutls-serv --x509certfile rsa.pem --x509keyfile rsa.key --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" \
    --port "$p" --echo >/dev/null 2>&1 &
pids+=($!)
if wait_listening "$p"; then
    out=$(client "$p" | head -n 1)
    if [ "$out" = "connected: TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ALPN (none)" ]; then
        ok "client offers ECDHE-RSA AES-128-GCM first (gnutls-serv)"
    else
        fail "client offers ECDHE-RSA AES-128-GCM first (gnutls-serv)" "$out"
    fi
else
    fail "client against gnutls-serv NORMAL TLS 1.2" "gnutls-serv did not start"
fi

[ $failed -eq 0 ] && echo "cipher_policy: all passed" || echo "cipher_policy: FAILED"
exit $failed
