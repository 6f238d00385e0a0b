/* An exported function that mentions every public type of netsocket.h, so
 * that abidw records those no ns_* function reaches (enum ns_status) in the
 * types baseline, netsocket-types-M.0.abi.xml.  A new public type is added
 * here as a new parameter (see abi/README.md). */
#include "netsocket.h"

NS_API void netsocket_abi_public_types(enum ns_status status, ns_options_kind kind,
                                       ns_certificate_verifier verifier,
                                       ns_release_function release, ns_options *options,
                                       ns_socket *socket, ns_selector *selector);

void netsocket_abi_public_types(enum ns_status status, ns_options_kind kind,
                                ns_certificate_verifier verifier, ns_release_function release,
                                ns_options *options, ns_socket *socket, ns_selector *selector)
{
}
