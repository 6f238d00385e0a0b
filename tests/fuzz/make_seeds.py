#!/usr/bin/python3
"""Regenerates the small seed corpora in tests/fuzz/corpus/ (committed; rerun
only to refresh them).  Uses the openssl command and Python's ssl module:
a ClientHello for the TLS server target, TLS 1.3 and 1.2 server flights for
the TLS client target, and certificates and keys in PEM and DER."""
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
print("seeds written to", corpus)
