/* Shared by the TLS test programs (test_tls.c, test_tls_rejections.c):
 * certificates made once, options for each side, a server thread. */
#include "tlstest.h"

test_cert *ca, *server_cert, *client_cert, *expired_cert, *self_signed, *other_ca;

void tls_setup(void)
{
    if (ca)
        return;
    ca = certgen_ca("netsocket test CA");
    server_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    client_cert = certgen_leaf(ca, "client", "DNS:client.test", -1, 365);
    expired_cert = certgen_leaf(ca, "localhost", "DNS:localhost,IP:127.0.0.1", -30, -1);
    self_signed = certgen_leaf(NULL, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 365);
    other_ca = certgen_ca("another CA");
}

void add_identity(ns_options *o, const test_cert *c)
{
    const char *crt = certgen_cert_pem(c), *key = certgen_key_pem(c);
    if (ns_options_add_certificate(o, crt, strlen(crt)) != NS_OK ||
        ns_options_set_private_key(o, key, strlen(key)) != NS_OK)
        abort();
}

void trust(ns_options *o, const test_cert *c)
{
    const char *crt = certgen_cert_pem(c);
    if (ns_options_add_trusted_certificate(o, crt, strlen(crt)) != NS_OK)
        abort();
}

/* Blocking server TLS options with identity `c`; read timeout 5 s. */
ns_options *server_options(const test_cert *c)
{
    ns_options *o = blocking_options(NS_SERVER_TLS_SOCKET_OPTIONS, 5000000);
    add_identity(o, c);
    return o;
}

/* Blocking client TLS options trusting `anchor` (NULL: the system store). */
ns_options *client_options(const test_cert *anchor)
{
    ns_options *o = blocking_options(NS_TLS_SOCKET_OPTIONS, 5000000);
    if (anchor)
        trust(o, anchor);
    return o;
}



void *serve(void *arg)
{
    server_job *job = arg;
    for (int i = 0; i < job->n; i++) {
        ns_socket *conn = ns_socket_accept(job->server);
        job->status[i] = conn ? NS_OK : ns_last_status();
        snprintf(job->message[i], sizeof job->message[i], "%s", conn ? "" : ns_last_error());
        if (!conn)
            continue;
        const char *sni = ns_socket_server_name(conn), *alpn = ns_socket_selected_alpn(conn);
        snprintf(job->sni, sizeof job->sni, "%s", sni ? sni : "");
        snprintf(job->alpn, sizeof job->alpn, "%s", alpn ? alpn : "");
        size_t len = 0;
        const unsigned char *der = ns_socket_peer_certificate(conn, &len);
        job->peer_len = der && len <= sizeof job->peer ? len : 0;
        if (job->peer_len)
            memcpy(job->peer, der, len);
        if (job->behave)
            job->behave(conn);
        ns_socket_free(conn);
    }
    return NULL;
}

/* Sends a line and checks it comes back. */
int round_trip(ns_socket *c)
{
    char buf[32] = {0};
    return ns_socket_send_all(c, "ping\n", 5, 0) == 5 &&
           ns_socket_recv(c, buf, sizeof buf, 0) == 5 && memcmp(buf, "ping\n", 5) == 0;
}
