#!/bin/sh
# gen-certs.sh DIR — test certificates for the binding tests, made with the
# openssl CLI at test time (no private key is ever committed):
#   ca.pem/ca.key           a CA
#   server.pem/server.key   "localhost" + IP 127.0.0.1 + ::1, signed by the CA
#   client.pem/client.key   a client certificate (CN=client), signed by the CA
#   other-ca.pem            an unrelated CA (for rejection tests)
#   alt.pem/alt.key         "alt.test" (and "public.test", an ECH public name), by the CA
#   server-enc.key          server.key encrypted (PKCS#8, AES-256, password "s3cret")
#   server.p12              server.key + server.pem + ca.pem (PKCS#12, password "s3cret")
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj /CN=netsocket-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
key other-ca.key
openssl req -x509 -new -key other-ca.key -out other-ca.pem -days 2 -subj /CN=netsocket-other-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() { # name cn ext
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
    -days 2 -extfile "$1.ext" 2>/dev/null
}
leaf server localhost "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth"
leaf client client "extendedKeyUsage=clientAuth"
leaf alt alt.test "subjectAltName=DNS:alt.test,DNS:public.test
extendedKeyUsage=serverAuth"
openssl pkcs8 -topk8 -in server.key -v2 aes-256-cbc -passout pass:s3cret -out server-enc.key
openssl pkcs12 -export -inkey server.key -in server.pem -certfile ca.pem -passout pass:s3cret \
  -out server.p12
rm -f ./*.csr ./*.ext ./*.srl
