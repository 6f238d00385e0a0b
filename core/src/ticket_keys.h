/* Server ticket keys: a ring per server configuration, rotated by the
 * clock the caller passes (ticket_keys.c). */
#ifndef NS_TICKET_KEYS_H
#define NS_TICKET_KEYS_H

#include <stdint.h>

#define NS_TICKET_KEY_ROTATION 3600 /* seconds a key seals new tickets */

typedef struct {
    uint8_t name[16], aes[32], hmac[32];
} ns_ticket_key;
typedef struct ns_ticket_keys ns_ticket_keys;

/* An empty ring whose keys open tickets for `lifetime` seconds after they
 * stop sealing new ones (the tickets' own lifetime); NULL without memory. */
ns_ticket_keys *ns_ticket_keys_new(int64_t lifetime);
void ns_ticket_keys_free(ns_ticket_keys *k);
/* At time `now` (seconds, any monotonic origin): with name NULL, the key
 * to seal a new ticket with (made, or rotated, as needed); else the key
 * named so.  Returns 1 for the sealing key, 2 for an older one still
 * opening tickets (the ticket should be renewed), 0 for none (an unknown
 * or retired name), -1 if a new key could not be made. */
int ns_ticket_keys_get(ns_ticket_keys *k, int64_t now, const uint8_t *name, ns_ticket_key *out);

#endif
