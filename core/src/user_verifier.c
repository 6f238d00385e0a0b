/* The user's certificate verifier (ns_options_set_certificate_verifier),
 * held by reference count: options, their copies, the TLS configurations
 * built from them and every socket share one holder, and the user's
 * release runs once the last of them lets go.  verify.c calls it. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

ns_verifier *ns_verifier_new(ns_certificate_verifier fn, void *userdata,
                             ns_release_function release)
{
    ns_verifier *v = malloc(sizeof *v);
    if (v == NULL) {
        if (release)
            release(userdata);
        ns_fail(NS_ERR_NOMEM, ENOMEM, "certificate-verifier: out of memory");
        return NULL;
    }
    ns_ref_init(&v->refs, 1);
    v->fn = fn;
    v->userdata = userdata;
    v->release = release;
    return v;
}

ns_verifier *ns_verifier_ref(ns_verifier *v)
{
    if (v)
        ns_ref_get(&v->refs);
    return v;
}

void ns_verifier_unref(ns_verifier *v)
{
    if (v == NULL || !ns_ref_put(&v->refs))
        return;
    if (v->release)
        v->release(v->userdata);
    free(v);
}
