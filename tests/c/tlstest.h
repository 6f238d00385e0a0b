/* Shared by the TLS test programs: certificates made once per program
 * (tls_setup), options for each side and a server thread (serve). */
#ifndef NS_TLSTEST_H
#define NS_TLSTEST_H

#include "certgen.h"
#include "testlib.h"

/* A CA, leaves signed by it (server for localhost and 127.0.0.1, client,
 * expired), a self-signed leaf and another CA; made by tls_setup. */
extern test_cert *ca, *server_cert, *client_cert, *expired_cert, *self_signed, *other_ca;
void tls_setup(void);
/* Adds c's certificate and key to o / trusts c in o (abort on failure). */
void add_identity(ns_options *o, const test_cert *c);
void trust(ns_options *o, const test_cert *c);
/* Blocking server TLS options with identity `c`; read timeout 5 s. */
ns_options *server_options(const test_cert *c);
/* Blocking client TLS options trusting `anchor` (NULL: the system store). */
ns_options *client_options(const test_cert *anchor);

/* A server thread: accepts n clients in turn, records each outcome, and
 * runs `behave` on each accepted connection. */
typedef struct {
    ns_socket *server;
    int n;
    void (*behave)(ns_socket *conn);
    int status[4];
    char message[4][512];
    char sni[64], alpn[32];
    unsigned char peer[4096];
    size_t peer_len;
} server_job;
void *serve(void *arg);
/* Sends a line and checks it comes back. */
int round_trip(ns_socket *c);

#endif
