/* What the files of the options object share (options.c, options_fields.c,
 * options_credentials.c): which kinds have a field, and the guard and lock
 * every setter takes. */
#ifndef NS_OPTIONS_FIELD_H
#define NS_OPTIONS_FIELD_H

#include "internal.h"

/* Which kinds have a field: bit (1 << kind). */
#define KINDS_SERVER (1u << NS_SERVER_TLS_SOCKET_OPTIONS)
#define KINDS_CLIENT (1u << NS_TLS_SOCKET_OPTIONS)
#define KINDS_TLS (KINDS_CLIENT | KINDS_SERVER)
#define KINDS_ALL ((1u << NS_SOCKET_OPTIONS) | KINDS_TLS)

/* 1 if o's kind has the field of `kinds`. */
int ns_options_has_field(const ns_options *o, unsigned kinds);
/* The guard of every setter: a handle, and a kind that has the field. */
int ns_options_settable(const ns_options *o, unsigned kinds, const char *field);
/* The object's lock (see options.c: who holds it and when). */
void ns_options_lock(const ns_options *o);
void ns_options_unlock(const ns_options *o);
/* A setter's guard that also takes the lock (held only if NS_OK). */
int ns_options_begin(ns_options *o, unsigned kinds, const char *field);
/* A setter's end: a successful change of what TLS compiles (tls) drops the
 * compiled configuration; the lock is released. */
int ns_options_end(ns_options *o, int rc, int tls);

#endif
