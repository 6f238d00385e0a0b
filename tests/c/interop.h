/* Shared by the interoperability tests (test_interop_client.c,
 * test_interop_server.c): the certificates both ends use, written once per
 * run into a temporary directory for the peer programs; netsocket's ends
 * (a client of a peer server, a server for peer clients) and the data they
 * exchange; and how each peer program is started (interop_peer.h). */
#ifndef NS_INTEROP_H
#define NS_INTEROP_H

#include <sys/types.h>

#include "certgen.h"
#include "interop_peer.h"
#include "testlib.h"

#define TIMEOUT_US 5000000 /* read timeout and bound of every wait */

/* A CA, leaves it signed (localhost and 127.0.0.1; alt.test; a client),
 * also written as <dir>/{ca,server,alt,client}.{crt,key}. */
extern struct interop_certs {
    test_cert *ca, *server, *alt, *client;
} cert;
/* "<dir>/<name>.<ext>" in one of a few rotating buffers, so several fit in
 * one argv. */
const char *path(const char *name, const char *ext);

extern const char *const alpn_h2_http11[], *const alpn_http11[], *const alpn_h2[];

/* A port nothing listens on right now (bound by netsocket, then freed). */
const char *free_port(void);
/* A blocking TLS client of 127.0.0.1:port trusting our CA, with sni (NULL:
 * none), ALPN names from a NULL-terminated list, and our client certificate
 * if with_cert.  The peer may still be starting: "connection refused" is
 * retried for up to 3 s; any other failure is returned at once. */
ns_socket *connect_peer(const char *port, const char *sni, const char *const *alpn, int with_cert);
/* The status of connect_peer: NS_OK (and the connection closed) or why it failed. */
int connect_status(const char *port, const char *sni, const char *const *alpn, int with_cert);
/* A blocking TLS server on 127.0.0.1 with our server identity, ALPN names
 * from a NULL-terminated list, if require_cert mTLS against our CA, and the
 * counting verifier with v (NULL: none). */
ns_socket *tls_server_verified(const char *const *alpn, int require_cert, verdict *v);
/* tls_server_verified without a verifier. */
ns_socket *tls_server(const char *const *alpn, int require_cert);
/* Accepts one connection from a peer started just before (p NULL: none),
 * waiting at most TIMEOUT_US for it to arrive; the handshake is bounded by
 * the server's read timeout. */
ns_socket *accept_peer(ns_socket *server, const peer *p);
/* Data both ways with a peer that prints what it receives and sends its stdin. */
int exchange_via_stdio(ns_socket *s, peer *p);
/* Data both ways, then after each of the peer's KeyUpdate commands ("k";
 * "K" asks us to update our keys too), which it acknowledges with `ack`. */
int exchange_around_key_updates(ns_socket *s, peer *p, const char *ack);
/* Data both ways, then the peer's renegotiation command, which it
 * acknowledges with `ack`: what our next recv returns (1 if a step before
 * it failed). */
ssize_t recv_after_renegotiation_request(ns_socket *s, peer *p, const char *command,
                                         const char *ack);
/* exchange_via_stdio, then s freed whatever happened: 1 if the exchange
 * went well. */
int exchange_then_free(ns_socket *s, peer *p);
/* Data both ways with an echo server. */
int exchange_via_echo(ns_socket *s);
/* Data both ways with a client peer, then its orderly goodbye and exit:
 * 1 if all went well.  Frees conn. */
int serve_client_to_the_end(ns_socket *conn, peer *p);
/* The certificate the peer presented is c. */
int peer_certificate_is(ns_socket *s, const test_cert *c);
/* s_server on a free port of 127.0.0.1 (stored in *port) with our server
 * identity; extra arguments follow. */
peer *start_s_server(const char *const *extra, const char **port);
/* start_s_server, then connect_peer(*port, sni, alpn, with_cert) to it:
 * NULL if either failed (*p is NULL if s_server did not start). */
ns_socket *connect_s_server(const char *const *extra, const char **port, peer **p,
                            const char *sni, const char *const *alpn, int with_cert);
/* gnutls-serv --echo on a free port (stored in *port; it listens on every
 * address, having no option to choose) with identity ("server" or "alt");
 * extra arguments follow. */
peer *start_gnutls_serv(const char *identity, const char *const *extra, const char **port);
/* s_client to the server, verifying it against our CA and the name
 * localhost; extra arguments follow. */
peer *start_s_client(ns_socket *server, const char *const *extra);
/* A netsocket server (see tls_server) that accepts one s_client started
 * with extra arguments, then closes; *p is the client (NULL if none started). */
ns_socket *accept_s_client(const char *const *alpn, int require_cert, const char *const *extra,
                           peer **p);
/* Serves one s_client started with extra arguments to the end: 1 if all
 * went well and it printed `outcome` (e.g. "Reused, TLSv1.3"). */
int serve_s_client_expecting(ns_socket *server, const char *const *extra, const char *outcome);

/* The main of an interop test program: the certificates, the tests, then
 * their removal. */
int interop_main(const ns_test *tests, size_t n, int argc, char **argv);
#define INTEROP_TEST_MAIN(list)                                                            \
    int main(int argc, char **argv)                                                        \
    {                                                                                      \
        return interop_main(list, sizeof list / sizeof list[0], argc, argv);               \
    }

#endif
