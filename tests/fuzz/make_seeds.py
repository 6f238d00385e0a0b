#!/usr/bin/python3
"""Regenerates the small seed corpora in tests/fuzz/corpus/ (committed; rerun
only to refresh them).  Uses the openssl command and Python's ssl module:
a ClientHello for the TLS server target, TLS 1.3 and 1.2 server flights for
the TLS client target, certificates and keys in PEM and DER, and op
sequences for the option, record and selector targets.

The seeds that reach application data are recorded by the targets
themselves in the fuzz tree (build-fuzz, see tests/run_all.sh phase 6):
  NS_FUZZ_RECORD=tests/fuzz/corpus/fuzz_tls_server/hello_tls13 build-fuzz/tests/fuzz/fuzz_tls_server
  NS_FUZZ_RECORD=tests/fuzz/corpus/fuzz_tls_client/hello_tls12 build-fuzz/tests/fuzz/fuzz_tls_client
and checked with NS_FUZZ_EXPECT_DATA=1 build-fuzz/tests/fuzz/<target> <seed>."""
import os, ssl, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus")

def put(target, name, data):
    with open(os.path.join(corpus, target, name), "wb") as f:
        f.write(data)

with tempfile.TemporaryDirectory() as tmp:
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-subj", "/CN=localhost", "-days", "1", "-addext",
                    "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "x509", "-in", crt, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    kder = subprocess.run(["openssl", "pkey", "-in", key, "-outform", "DER"],
                          check=True, capture_output=True).stdout
    put("fuzz_certs", "cert.pem", open(crt, "rb").read())
    put("fuzz_certs", "key.pem", open(key, "rb").read())
    put("fuzz_certs", "cert.der", der)
    put("fuzz_certs", "key.der", kder)
    put("fuzz_certs", "chain.pem", open(crt, "rb").read() * 2)

    def hello():
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
        c.set_alpn_protocols(["h2", "http/1.1"])
        i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = c.wrap_bio(i, o, server_hostname="localhost")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return o.read()

    ch = hello()
    put("fuzz_tls_server", "client_hello", ch)
    for name, version in (("server_flight_tls13", ssl.TLSVersion.TLSv1_3),
                          ("server_flight_tls12", ssl.TLSVersion.TLSv1_2)):
        s = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        s.load_cert_chain(crt, key)
        s.maximum_version = version
        i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = s.wrap_bio(i, o, server_side=True)
        i.write(hello())
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        put("fuzz_tls_client", name, o.read())
    # Options: a few op sequences (see fuzz_options.c for the encoding).
    pem = open(crt, "rb").read()
    k = open(key, "rb").read()
    put("fuzz_options", "key_then_cert",
        bytes([8 << 1]) + len(k).to_bytes(2, "big") + k +
        bytes([9 << 1]) + len(pem).to_bytes(2, "big") + pem + bytes([40 << 1 | 1, 1]))
    put("fuzz_options", "names",
        bytes([15 << 1, 0, 9]) + b"localhost" + bytes([16 << 1, 0, 2]) + b"h2" +
        bytes([14 << 1, 1, 20 << 1 | 1, 2, 17 << 1, 18 << 1]))
    put("fuzz_options", "scalars", bytes(range(0, 64)))
# Records and selector: a mode byte, then (op, argument) pairs; see
# fuzz_records.c and fuzz_selector.c for the encoding.
for target, name, ops in (
        ("fuzz_records", "two_whole_records", [0, 0, 9, 0, 19, 3, 0, 2, 99, 2, 99, 2, 99]),
        ("fuzz_records", "split_header", [0, 0, 49, 1, 2, 2, 63, 1, 3, 2, 63, 3, 0, 2, 9, 2, 63]),
        ("fuzz_records", "large_record", [0, 4, 255, 5, 127, 6, 255, 3, 0, 6, 255, 0, 5, 3, 0, 6, 255]),
        ("fuzz_records", "peek_waitall_blocking", [1, 0, 29, 2, 9, 3, 0, 0x0a, 9, 0x12, 29, 0x22, 3,
                                                   0, 99, 1, 40, 0x12, 99, 3, 0, 0x1a, 99, 2, 99]),
        ("fuzz_selector", "whole_then_half", [0, 0, 5, 3, 0, 0, 39, 1, 9, 2, 63, 2, 63, 3, 0, 2, 63, 2, 63]),
        ("fuzz_selector", "peek_then_read_one_shot", [1, 0, 19, 0, 19, 3, 0, 0x0a, 4, 2, 4, 2, 63, 2, 63,
                                                      2, 63]),
        ("fuzz_selector", "large_in_pieces", [0, 4, 255, 5, 31, 5, 31, 5, 31, 2, 255, 3, 0, 2, 255, 2, 255])):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    put(target, name, bytes(ops))
print("seeds written to", corpus)
