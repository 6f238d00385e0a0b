/* Compiled as strict C99 and as C++11 (abi.header.c99, abi.header.cxx),
 * linked against libnetsocket and run: the header is valid in both
 * languages and its declarations have C linkage. */
#include <stdio.h>

#include "netsocket.h"

static int accept_all(void *userdata, int depth, int preverify_error,
                      const unsigned char *der, size_t der_len)
{
    (void)userdata, (void)depth, (void)preverify_error, (void)der, (void)der_len;
    return 1;
}

int main(void)
{
    ns_options *o = ns_options_new(NS_TLS_SOCKET_OPTIONS);
    ns_certificate_verifier verifier = accept_all;
    int ok = o != NULL && ns_options_set_certificate_verifier(o, verifier, NULL) == NS_OK &&
             ns_options_get_certificate_verifier(o, NULL) == verifier &&
             ns_socket_close(NULL) == NS_ERR_INVALID && ns_last_status() == NS_ERR_INVALID;
    ns_options_free(o);
    printf("netsocket %s: %s\n", ns_version(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
