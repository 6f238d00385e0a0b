/* Small owned lists of strings (sni*, alpn*). */
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

int ns_strlist_add(ns_strlist *l, const char *s)
{
    char *copy = strdup(s);
    char **items = copy ? realloc(l->items, (l->count + 1) * sizeof *items) : NULL;
    if (items == NULL) {
        free(copy);
        return ns_fail(NS_ERR_NOMEM, ENOMEM, "out of memory adding \"%s\"", s);
    }
    items[l->count++] = copy;
    l->items = items;
    return NS_OK;
}

int ns_strlist_copy(ns_strlist *dst, const ns_strlist *src)
{
    ns_strlist tmp = {0};
    for (size_t i = 0; i < src->count; i++) {
        if (ns_strlist_add(&tmp, src->items[i]) != NS_OK) {
            ns_strlist_clear(&tmp);
            return NS_ERR_NOMEM;
        }
    }
    ns_strlist_clear(dst);
    *dst = tmp;
    return NS_OK;
}

void ns_strlist_clear(ns_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

const char *ns_strlist_at(const ns_strlist *l, size_t i)
{
    return i < l->count ? l->items[i] : NULL;
}
