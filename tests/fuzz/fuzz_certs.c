/* Fuzz target: the PEM/DER certificate and private key loaders (memory and
 * file forms), and a key against a certificate it may or may not match. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netsocket.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (path[0] == '\0')
        snprintf(path, sizeof path, "/tmp/ns-fuzz-certs-%d", (int)getpid());
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    if (o == NULL)
        return 0;
    ns_options_add_certificate(o, data, size);
    ns_options_set_private_key(o, data, size);
    ns_options_add_trusted_certificate(o, data, size);
    size_t der_len = 0;
    for (size_t i = 0; i < ns_options_certificate_count(o); i++)
        if (ns_options_get_certificate(o, i, &der_len) == NULL || der_len == 0)
            __builtin_trap();
    /* The first half as a key, the whole as certificates, via files. */
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, size / 2, f);
        fclose(f);
        ns_options_set_private_key_file(o, path);
        ns_options_add_certificate_file(o, path);
        unlink(path);
    }
    /* A failure never echoes more than a short excerpt of the input. */
    if (ns_last_status() != NS_OK && strlen(ns_last_error()) >= 1023)
        __builtin_trap();
    ns_options_free(o);
    return 0;
}
