/* Server ticket keys, managed here rather than by BoringSSL (whose keys
 * seal for 2 days and open for 2 more): a key seals new tickets for one
 * hour, then only opens tickets for as long as they live (2 hours), so
 * no key outlives 3 hours.  See SECURITY.md ("Ticket keys"). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/mem.h>
#include <openssl/rand.h>

#include "ticket_keys.h"

#define NS_TICKET_KEYS_MAX 4 /* 1 sealing + what a lifetime of 2-3 rotations keeps */

typedef struct {
    ns_ticket_key key;
    int64_t made;
} entry;

struct ns_ticket_keys {
    pthread_mutex_t lock;
    int64_t lifetime;
    entry e[NS_TICKET_KEYS_MAX]; /* newest first; e[0] seals while younger than the rotation */
    int count;
};

ns_ticket_keys *ns_ticket_keys_new(int64_t lifetime)
{
    ns_ticket_keys *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    pthread_mutex_init(&k->lock, NULL);
    k->lifetime = lifetime;
    return k;
}

void ns_ticket_keys_free(ns_ticket_keys *k)
{
    if (k == NULL)
        return;
    pthread_mutex_destroy(&k->lock);
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

/* Drops the keys that stopped sealing more than a lifetime ago: key i
 * stopped when key i-1 was made. */
static void retire(ns_ticket_keys *k, int64_t now)
{
    /* The sealing key, unused since it should have rotated: the last
     * ticket it sealed has expired too. */
    if (k->count > 0 && now - k->e[0].made >= NS_TICKET_KEY_ROTATION + k->lifetime) {
        OPENSSL_cleanse(k->e, sizeof k->e);
        k->count = 0;
        return;
    }
    for (int i = 1; i < k->count; i++) {
        if (now - k->e[i - 1].made >= k->lifetime) {
            OPENSSL_cleanse(&k->e[i], sizeof k->e[i] * (size_t)(k->count - i));
            k->count = i;
            return;
        }
    }
}

static int rotate(ns_ticket_keys *k, int64_t now)
{
    entry fresh = {.made = now};
    if (!RAND_bytes((uint8_t *)&fresh.key, sizeof fresh.key))
        return -1;
    if (k->count == NS_TICKET_KEYS_MAX)
        k->count--;
    memmove(&k->e[1], &k->e[0], sizeof k->e[0] * (size_t)k->count);
    k->e[0] = fresh;
    k->count++;
    OPENSSL_cleanse(&fresh, sizeof fresh);
    return 1;
}

int ns_ticket_keys_get(ns_ticket_keys *k, int64_t now, const uint8_t *name, ns_ticket_key *out)
{
    int rc = 0;
    pthread_mutex_lock(&k->lock);
    retire(k, now);
    if (name == NULL) {
        if (k->count == 0 || now - k->e[0].made >= NS_TICKET_KEY_ROTATION)
            rc = rotate(k, now);
        else
            rc = 1;
        if (rc == 1)
            *out = k->e[0].key;
    } else {
        for (int i = 0; i < k->count && rc == 0; i++) {
            if (CRYPTO_memcmp(k->e[i].key.name, name, sizeof k->e[i].key.name) == 0) {
                *out = k->e[i].key;
                rc = i == 0 && now - k->e[0].made < NS_TICKET_KEY_ROTATION ? 1 : 2;
            }
        }
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}
