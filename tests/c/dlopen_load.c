/*
 * dlopen_load (ctest c.dlopen): loads libnetsocket.so.1 by SONAME alone (LD_LIBRARY_PATH is
 * set by ctest), as a language runtime does, and drives a TLS round trip
 * through dlsym-resolved functions only: a server thread accepts, the client
 * verifies the server against a test CA for "localhost", negotiates ALPN
 * and exchanges a message with an embedded NUL byte.
 *
 * usage: dlopen_load GEN_CERTS_SH   (certificates are made at test time)
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsocket.h"

#define LOAD(name) __typeof__(name) *p_##name = (__typeof__(name) *)load(#name)

static void *lib;
static int failures;

static void *load(const char *name)
{
    void *sym = dlsym(lib, name);
    if (sym == NULL) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        exit(1);
    }
    return sym;
}

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static char certdir[] = "/tmp/netsocket-dlopen-XXXXXX";

static char *cert_path(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", certdir, name);
    return p;
}

struct server {
    ns_socket *listener;
    char got[32];
    long got_len;
};

static void *serve(void *arg)
{
    LOAD(ns_socket_accept);
    LOAD(ns_socket_recv);
    LOAD(ns_socket_send_all);
    LOAD(ns_socket_free);
    struct server *srv = arg;
    ns_socket *conn = p_ns_socket_accept(srv->listener);
    if (conn == NULL)
        return NULL;
    srv->got_len = p_ns_socket_recv(conn, srv->got, sizeof srv->got, 0);
    if (srv->got_len > 0)
        p_ns_socket_send_all(conn, srv->got, (size_t)srv->got_len, 0);
    p_ns_socket_free(conn);
    return NULL;
}

int main(int argc, char **argv)
{
    char cmd[512], port[16];
    struct server srv = { 0 };
    pthread_t thread;

    if (argc != 2 || mkdtemp(certdir) == NULL) {
        fprintf(stderr, "usage: test_dlopen GEN_CERTS_SH\n");
        return 2;
    }
    snprintf(cmd, sizeof cmd, "sh '%s' '%s'", argv[1], certdir);
    if (system(cmd) != 0)
        return 2;

    lib = dlopen("libnetsocket.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    /* BoringSSL stays inside: no SSL_* symbol is visible through the handle. */
    CHECK(dlsym(lib, "SSL_CTX_new") == NULL);

    LOAD(ns_version);
    LOAD(ns_options_new);
    LOAD(ns_options_free);
    LOAD(ns_options_set_non_blocking);
    LOAD(ns_options_set_read_timeout);
    LOAD(ns_options_add_certificate_file);
    LOAD(ns_options_set_private_key_file);
    LOAD(ns_options_add_trusted_certificate_file);
    LOAD(ns_options_add_alpn);
    LOAD(ns_make_server_tls_socket);
    LOAD(ns_make_client_tls_socket);
    LOAD(ns_socket_local_port);
    LOAD(ns_socket_send_all);
    LOAD(ns_socket_recv);
    LOAD(ns_socket_selected_alpn);
    LOAD(ns_socket_tls_version);
    LOAD(ns_socket_free);
    LOAD(ns_last_error);

    CHECK(strcmp(p_ns_version(), NS_EXPECTED_VERSION) == 0); /* VERSION, via CMake */

    ns_options *so = p_ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK(p_ns_options_set_non_blocking(so, 0) == NS_OK);
    CHECK(p_ns_options_set_read_timeout(so, 5000000) == NS_OK);
    CHECK(p_ns_options_add_certificate_file(so, cert_path("server.pem")) == NS_OK);
    CHECK(p_ns_options_set_private_key_file(so, cert_path("server.key")) == NS_OK);
    CHECK(p_ns_options_add_alpn(so, "h2") == NS_OK);
    srv.listener = p_ns_make_server_tls_socket("127.0.0.1", "0", so);
    if (srv.listener == NULL) {
        fprintf(stderr, "server: %s\n", p_ns_last_error());
        return 1;
    }
    snprintf(port, sizeof port, "%d", p_ns_socket_local_port(srv.listener));
    pthread_create(&thread, NULL, serve, &srv);

    ns_options *co = p_ns_options_new(NS_TLS_SOCKET_OPTIONS);
    CHECK(p_ns_options_set_non_blocking(co, 0) == NS_OK);
    CHECK(p_ns_options_set_read_timeout(co, 5000000) == NS_OK);
    CHECK(p_ns_options_add_trusted_certificate_file(co, cert_path("ca.pem")) == NS_OK);
    CHECK(p_ns_options_add_alpn(co, "h2") == NS_OK);
    ns_socket *c = p_ns_make_client_tls_socket("localhost", port, co);
    if (c == NULL) {
        fprintf(stderr, "client: %s\n", p_ns_last_error());
        failures++;
    } else {
        char back[32] = { 0 };
        CHECK(p_ns_socket_selected_alpn(c) && strcmp(p_ns_socket_selected_alpn(c), "h2") == 0);
        CHECK(p_ns_socket_tls_version(c) != NULL);
        CHECK(p_ns_socket_send_all(c, "dl\0open", 7, 0) == 7);
        CHECK(p_ns_socket_recv(c, back, sizeof back, 0) == 7);
        CHECK(memcmp(back, "dl\0open", 7) == 0);
        p_ns_socket_free(c);
    }
    pthread_join(thread, NULL);
    CHECK(srv.got_len == 7);
    p_ns_socket_free(srv.listener);
    p_ns_options_free(so);
    p_ns_options_free(co);
    CHECK(dlclose(lib) == 0);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", certdir);
    if (system(cmd) != 0)
        failures++;
    printf("test_dlopen: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
