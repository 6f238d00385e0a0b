/* A program outside the netsocket tree, built against an installed
 * netsocket (pkg-config, or find_package in CMake) and run: one plain TCP
 * round trip on the loopback.  It also checks that the library it runs
 * with has the version of the header it was compiled with. */
#include <stdio.h>
#include <string.h>

#include <netsocket.h>

static int fail(const char *what)
{
    fprintf(stderr, "consumer: %s: %s (%s)\n", what, ns_last_error(),
            ns_status_name(ns_last_status()));
    return 1;
}

int main(void)
{
    unsigned header_version =
        (NS_VERSION_MAJOR << 16) | (NS_VERSION_MINOR << 8) | NS_VERSION_PATCH;
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    ns_socket *server = NULL, *client = NULL, *peer = NULL;
    char port[16], buf[8] = {0};
    int rc = 1;

    if (ns_version_number() != header_version) {
        fprintf(stderr, "consumer: library %s, header %u.%u.%u\n", ns_version(),
                NS_VERSION_MAJOR, NS_VERSION_MINOR, NS_VERSION_PATCH);
        goto out;
    }
    if (!o || ns_options_set_non_blocking(o, 0) != NS_OK ||
        ns_options_set_read_timeout(o, 5000000) != NS_OK) {
        rc = fail("options");
        goto out;
    }
    if (!(server = ns_make_server_socket("127.0.0.1", "0", o))) {
        rc = fail("server");
        goto out;
    }
    snprintf(port, sizeof port, "%d", ns_socket_local_port(server));
    if (!(client = ns_make_client_socket("127.0.0.1", port, o))) {
        rc = fail("client");
        goto out;
    }
    if (!(peer = ns_socket_accept(server))) {
        rc = fail("accept");
        goto out;
    }
    if (ns_socket_send_all(client, "ping", 4, 0) != 4 || ns_socket_recv(peer, buf, 4, 0) != 4) {
        rc = fail("round trip");
        goto out;
    }
    if (strcmp(buf, "ping") != 0) {
        fprintf(stderr, "consumer: received '%s'\n", buf);
        goto out;
    }
    printf("consumer: netsocket %s, round trip on port %s ok\n", ns_version(), port);
    rc = 0;
out:
    ns_socket_free(peer);
    ns_socket_free(client);
    ns_socket_free(server);
    ns_options_free(o);
    return rc;
}
