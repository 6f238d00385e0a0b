/* Private declarations shared by netsocket's source files. */
#ifndef NS_INTERNAL_H
#define NS_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "netsocket.h"
#include "refcount.h"

#define NS_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ---- error.c: the one error path ---- */
/* Records status, message and os_error for this thread and returns status. */
int ns_fail(int status, int os_error, const char *fmt, ...) NS_PRINTF(3, 4);
/* ns_fail with the message of a BoringSSL error appended ("...: reason"). */
int ns_fail_ssl(int status, const char *fmt, ...) NS_PRINTF(2, 3);
/* Empties BoringSSL's error queue; returns its oldest entry (0 if none) and
 * sets *out_of_memory if any entry is a failed allocation. */
uint32_t ns_ssl_take_errors(int *out_of_memory);
/* Sets this thread's TLS failure details (ns_last_verify_code, ...); call
 * after ns_fail*, which resets them. */
void ns_set_tls_details(int verify_code, int alert, int alert_sent);
/* The errno -> status mapping for socket I/O errors. */
int ns_status_from_errno(int err);
#define NS_CHECK_HANDLE(h, what)                                                \
    do {                                                                        \
        if ((h) == NULL)                                                        \
            return ns_fail(NS_ERR_INVALID, 0, "%s: NULL handle", (what));       \
    } while (0)

/* ---- clock.c: deadlines ---- */
int64_t ns_now_us(void);
/* A deadline `us` from now, or -1 (none) for a negative duration. */
int64_t ns_deadline_after(int64_t us);
/* Milliseconds left for poll() (-1 = none, 0 = expired), rounded up. */
int ns_poll_ms_left(int64_t deadline);
/* Polls fd for `events` until the deadline.  Returns 1 ready, 0 expired,
 * or -errno.  EINTR is retried with the remaining time, unless the calling
 * thread's interrupt ends the wait: -EINTR (see ns_set_thread_interrupt). */
int ns_poll_fd(int fd, short events, int64_t deadline);
/* The calling thread's interrupt fd (-1 if none): a wait must not block
 * where poll cannot also watch it (use MSG_DONTWAIT, then ns_poll_fd). */
int ns_interrupt_fd(void);
/* After EINTR: 1 if the calling thread's interrupt check ends the call. */
int ns_interrupted(void);
/* 1 if the calling thread set an interrupt (fd or check) that can end its waits. */
int ns_interruptible(void);

/* ---- strlist.c: small owned string lists (sni*, alpn*) ---- */
typedef struct {
    char **items;
    size_t count;
} ns_strlist;
int ns_strlist_add(ns_strlist *l, const char *s);
int ns_strlist_copy(ns_strlist *dst, const ns_strlist *src);
void ns_strlist_clear(ns_strlist *l);
/* The i-th string, or NULL past the end. */
const char *ns_strlist_at(const ns_strlist *l, size_t i);

/* ---- certs.c: certificates from PEM/DER ---- */
/* The largest certificate, key or bundle accepted, in memory or in a file. */
#define NS_FILE_MAX (16 * 1024 * 1024)
typedef struct {
    X509 *x509;
    uint8_t *der; /* its encoding, for the DER getters */
    size_t der_len;
} ns_cert;
typedef struct {
    ns_cert *items;
    size_t count;
} ns_certlist;
/* 1 if data holds a PEM header. */
int ns_looks_like_pem(const void *data, size_t len);
/* Parses data (PEM with one or more certificates, or one DER certificate)
 * into *out (empty on entry); `what` names the field in messages. */
int ns_certs_parse(const void *data, size_t len, const char *what, ns_certlist *out);
/* Appends x (reference taken over, freed on failure) to l. */
int ns_certlist_push(ns_certlist *l, X509 *x);
/* Reads a whole file for the *_file setters; free *out with free(). */
int ns_read_file(const char *path, const char *what, uint8_t **out, size_t *out_len);
/* Moves every item of *more to the end of *l (more is left empty). */
int ns_certlist_append(ns_certlist *l, ns_certlist *more);
int ns_certlist_copy(ns_certlist *dst, const ns_certlist *src);
void ns_certlist_clear(ns_certlist *l);

/* ---- keys.c: private keys, plain or protected (encrypted PEM/PKCS#8, PKCS#12) ---- */
/* Where a key's password comes from: bytes (data may be NULL with len 0 =
 * none given), else the callback, else nowhere. */
typedef struct {
    const void *data;
    size_t len;
    ns_password_callback fn;
    void *userdata;
} ns_password;
/* Parses a private key (PEM or DER: PKCS#8, RSA, EC; encrypted PEM, legacy
 * or PKCS#8, and encrypted DER PKCS#8 with pw's password).  `what` names
 * the field in messages. */
int ns_key_parse(const void *data, size_t len, const ns_password *pw, const char *what,
                 EVP_PKEY **out);
/* Parses a PKCS#12 bundle: its key, and its certificates with the key's
 * certificate first (into *chain, empty on entry). */
int ns_pkcs12_parse(const void *data, size_t len, const ns_password *pw, EVP_PKEY **key,
                    ns_certlist *chain);
/* 1 if key is the private half of cert's public key, 0 if not, or a
 * negative status (recorded) if the certificate's key cannot be read. */
int ns_key_matches(EVP_PKEY *key, X509 *cert);

/* ---- user_verifier.c: the user's certificate verifier, shared by reference count ---- */
typedef struct ns_verifier {
    ns_ref refs;
    ns_certificate_verifier fn;
    void *userdata;
    ns_release_function release;
} ns_verifier;
/* A holder for fn; NULL with the failure recorded, userdata then released. */
ns_verifier *ns_verifier_new(ns_certificate_verifier fn, void *userdata,
                             ns_release_function release);
ns_verifier *ns_verifier_ref(ns_verifier *v);
void ns_verifier_unref(ns_verifier *v);

/* ---- tls_config.c: what an options object compiles to for one side ----
 * Immutable once built and shared by reference count: by the options (and
 * their unchanged copies) that cache it, and by every socket made from it,
 * which may outlive the options. */
#define NS_SESSIONS_MAX 32          /* client sessions cached per configuration */
#define NS_SESSION_LIFETIME 7200    /* seconds; see SECURITY.md */
#define NS_VERDICTS_MAX 8           /* peer chains remembered as verified (verdicts.c) */
typedef struct ns_verdict ns_verdict;
typedef struct {
    char *key; /* "name\nservice" */
    SSL_SESSION *session;
    uint8_t digest[32]; /* loaded sessions: the configuration it was saved from */
} ns_session_entry;
typedef struct ns_tls_config {
    ns_ref refs;
    int server_side;
    int resumption;
    uint8_t digest[32]; /* clients: SHA-256 of ALPN list and identity, for saved sessions */
    pthread_mutex_t session_lock; /* the sessions and the verdicts */
    ns_session_entry sessions[NS_SESSIONS_MAX]; /* clients: oldest first */
    size_t session_count;
    ns_verdict *verdicts[NS_VERDICTS_MAX]; /* oldest first */
    size_t verdict_count;
    SSL_CTX *ctx;
    ns_verifier *verifier;
    struct ns_key_log *key_log;
    char *sni;          /* clients: the first sni*, or NULL (the node is the name) */
    uint8_t *ech_config_list; /* clients: offer ECH with it (NULL: not) */
    size_t ech_config_list_len;
    int ech_grease;
    ns_strlist alpn;    /* servers: our names, in preference order */
    struct ns_identity_set *identities; /* servers: what the context was built with */
    struct ns_ticket_keys *ticket_keys; /* servers resuming: the keys sealing tickets */
} ns_tls_config;
/* Builds the configuration of o (locked by the caller) for one side; NULL
 * with the failure recorded. */
ns_tls_config *ns_tls_config_build(const ns_options *o, int server_side);
/* SHA-256 of what a saved session must match: o's ALPN list and identity. */
void ns_tls_config_digest(const ns_options *o, uint8_t out[32]);
ns_tls_config *ns_tls_config_ref(ns_tls_config *c);
void ns_tls_config_unref(ns_tls_config *c);

/* ---- keylog.c: the opt-in key log, shared by reference count ---- */
typedef struct ns_key_log {
    ns_ref refs;
    int fd;   /* the file (-1 for a callback) */
    char *path;
    ns_key_log_callback fn;
    void *userdata;
    ns_release_function release;
} ns_key_log;
ns_key_log *ns_key_log_open(const char *path);
ns_key_log *ns_key_log_with(ns_key_log_callback fn, void *userdata, ns_release_function release);
ns_key_log *ns_key_log_ref(ns_key_log *k);
void ns_key_log_unref(ns_key_log *k);
/* Makes ctx's handshakes log to their socket's key log (if k is set). */
void ns_key_log_install(SSL_CTX *ctx, const ns_key_log *k);

/* ---- identities.c: a server's certificates per name, and rotation ---- */
typedef struct {
    ns_certlist chain;  /* leaf first */
    EVP_PKEY *key;
    ns_strlist names;   /* served for these SNI names ("*.x" = one label) */
    int explicit_names; /* names were given, replacing the certificate's */
} ns_identity;
/* Parses chain + key (the key with pw's password); names from the leaf. */
int ns_identity_parse(ns_identity *id, const void *chain, size_t chain_len, const void *key,
                      size_t key_len, const ns_password *pw);
int ns_identity_copy(ns_identity *dst, const ns_identity *src);
void ns_identity_clear(ns_identity *id);
typedef struct ns_identity_set ns_identity_set;
/* The set of o (locked by the caller): its certificates and key as the
 * default, and its identities.  NULL with the failure recorded. */
ns_identity_set *ns_identity_set_build(const ns_options *o);
ns_identity_set *ns_identity_set_ref(ns_identity_set *s);
void ns_identity_set_unref(ns_identity_set *s);
/* Makes a server context serve each connection from its socket's set. */
void ns_identities_install(SSL_CTX *ctx);
/* A reference to server's current set (rotation may replace it). */
ns_identity_set *ns_identities_current(ns_socket *server);

/* ---- ech.c: Encrypted Client Hello ---- */
/* A server's ECH keys: immutable once made, shared by reference count. */
typedef struct ns_ech_keys ns_ech_keys;
ns_ech_keys *ns_ech_keys_ref(ns_ech_keys *k);
void ns_ech_keys_unref(ns_ech_keys *k);
/* Replaces *keys by a new holder with one more key (nothing changed on error). */
int ns_ech_keys_add(ns_ech_keys **keys, const void *key, size_t key_len, const void *config,
                    size_t config_len, int retry);
int ns_ech_keys_generate(ns_ech_keys **keys, const char *public_name, int config_id);
size_t ns_ech_keys_count(const ns_ech_keys *k);
const uint8_t *ns_ech_keys_published(const ns_ech_keys *k, size_t *len);
int ns_ech_server_install(SSL_CTX *ctx, const ns_ech_keys *k);
int ns_ech_check_config_list(const void *data, size_t len);
/* Client: offers ECH (or GREASE) on ssl as c says; peer names it in messages. */
int ns_ech_client_start(SSL *ssl, const ns_tls_config *c, const char *peer);
/* After SSL_R_ECH_REJECTED: keeps the retry configs and describes it in msg. */
int ns_ech_rejected(ns_socket *s, char *msg, size_t len);

/* ---- options.c: the options object (its fields: options_fields.c, options_credentials.c) ---- */
struct ns_options {
    ns_options_kind kind;
    int ai_family, ai_socktype, ai_flags, ai_protocol;
    int non_blocking;
    int64_t connection_timeout, read_timeout, write_timeout;
    /* TLS */
    int handshake;
    int client_certificate_required;
    int ignore_unexpected_eof;
    EVP_PKEY *private_key;
    ns_certlist certificates;
    ns_certlist trusted;
    ns_verifier *verifier;
    ns_strlist sni, alpn;
    ns_password_callback password_fn; /* not owned: see the header */
    void *password_userdata;
    ns_key_log *key_log;
    ns_identity *identities;  /* server: per name, besides the default */
    size_t identity_count;
    ns_ech_keys *ech_keys;    /* server */
    uint8_t *ech_config_list; /* client */
    size_t ech_config_list_len;
    int ech_grease;
    /* Threads: the setters and ns_options_snapshot hold `lock`. */
    pthread_mutex_t lock;
    ns_tls_config *compiled[2]; /* client, server side: built on first use */
    int session_resumption;
    /* Sessions loaded before the client configuration was built: moved
     * into its cache when it is (so the order of setters does not matter). */
    ns_session_entry *loaded;
    size_t loaded_count;
};
/* The options to use for a constructor: o itself when it has `kind`'s fields
 * or NULL-with-defaults; *owned is set when the caller must free the result. */
const ns_options *ns_options_for(const ns_options *o, ns_options_kind kind, ns_options **owned);
/* A new identity set from o (taking its lock): see ns_identity_set_build
 * (options_credentials.c). */
ns_identity_set *ns_options_identity_set(const ns_options *o);
/* What a constructor opens one socket from, taken atomically: o's scalar
 * fields copied into *values (its lists left empty: never free it), and for
 * tls the compiled configuration of that side (a new reference in
 * *compiled, built and cached on first use). */
int ns_options_snapshot(const ns_options *o, int tls, int server_side, ns_options *values,
                        ns_tls_config **compiled);

/* ---- socket.c: the socket handle, its mode and its plain I/O ---- */
enum ns_role { NS_ROLE_CLIENT, NS_ROLE_SERVER, NS_ROLE_ACCEPTED };

struct ns_socket {
    int fd;              /* -1 once closed; O_NONBLOCK unless fd_blocking */
    enum ns_role role;
    int non_blocking;    /* the mode the user sees */
    int fd_blocking;     /* the kernel blocks on fd (see ns_socket_sync_fd) */
    int64_t read_timeout, write_timeout;
    /* TLS: sent since the last recv, so a blocking recv polls before
     * reading, as the answer to what was just sent is rarely there yet. */
    int sent_since_recv;
    char *node, *service;
    char peer_label[80]; /* "node:service" or "ip:port", for messages */
    /* TLS (ssl NULL on plain sockets) */
    ns_tls_config *tls_config; /* own reference: what the socket was made with */
    char *session_key;         /* clients resuming: "name\nservice" */
    SSL_SESSION *last_session; /* clients: the newest ticket received (own reference) */
    SSL_CTX *ctx;        /* own reference */
    SSL *ssl;
    int handshake_done;
    int handshake_on_accept; /* servers: accept() handshakes */
    int ignore_unexpected_eof; /* recv: a close without close_notify ends the stream */
    int sent_close_notify;
    ns_verifier *verifier;   /* own reference; for the verify callback */
    ns_key_log *key_log;     /* own reference, or NULL */
    /* Servers: the current identities (replaced by rotation, under the
     * spin lock); accepted sockets: the set their handshake uses. */
    struct ns_identity_set *identities;
    int identities_lock;
    int identity_index;      /* accepted: the identity chosen, -1 = default */
    uint8_t *ech_retry;      /* client: retry configs of a rejected ECH */
    size_t ech_retry_len;
    int verifier_rejected;   /* the verifier said no during this handshake */
    int verify_library_error; /* the library's checks failed a certificate (the
                               * verifier may have accepted it) */
    int bad_server_name;     /* server: the client's SNI was refused */
    int verify_depth_failed, verify_error_failed;
    char verify_names[256];  /* host name mismatch: the names the certificate holds */
    int alert_seen, alert, alert_sent; /* the last TLS alert (tls_failure.c) */
    uint8_t *peer_der;       /* peer certificate, encoded on first request */
    size_t peer_der_len;
    char alpn[256];          /* negotiated ALPN, "" if none */
    /* The wait a call that returned NS_ERR_WOULD_BLOCK asks for
     * (ns_socket_wants): NS_WANT_* or 0, and its deadline (-1 none). */
    int want, want_fd;
    int64_t want_deadline;
    /* An open started by ns_socket_connect_start, until it is done (fd is
     * -1 meanwhile). */
    struct ns_connecting *connecting;
    /* A handshake in progress: its deadline (-1 none), fixed when it
     * starts so that calls resuming it cannot extend it. */
    int handshake_started;
    int64_t handshake_deadline, handshake_budget;
    /* TLS: the bytes a send that must be retried already encrypted. */
    uint8_t *unsent;
    size_t unsent_len;
    /* selector membership (selector.c) */
    struct ns_selector *selector;
    size_t selector_slot;
};
ns_socket *ns_socket_alloc(int fd, enum ns_role role, const char *node, const char *service);
/* Applies non-blocking?, read-timeout and write-timeout after the open,
 * and puts the descriptor in the mode they call for. */
int ns_socket_apply_options(ns_socket *s, const ns_options *o);
/* Puts the descriptor in the mode s's settings call for (see socket.c). */
int ns_socket_sync_fd(ns_socket *s);
/* NS_OK if s is open (not NULL, not closed, not still opening). */
int ns_check_open(const ns_socket *s, const char *what);
/* Fails with `status` naming s's peer: "<what> <peer>: <cause>". */
int ns_fail_io(const ns_socket *s, int status, int os_error, const char *what, const char *cause);
/* Fails with NS_ERR_WOULD_BLOCK ("<what> <peer>: <cause>") and records that
 * the caller should wait for `want` (NS_WANT_*) until `deadline`. */
int ns_would_block(ns_socket *s, int want, int64_t deadline, const char *what, const char *cause);
/* The start of every call that may block: forgets the last call's wait. */
void ns_socket_begin_call(ns_socket *s);

/* ---- socket_info.c: socket state and queries ---- */
/* Names s in messages by its bound address ("127.0.0.1:41234"). */
void ns_socket_label_local(ns_socket *s);

/* ---- resolve.c: servers' getaddrinfo and bind/listen; what connect.c shares ---- */
/* Accumulates "addr port N: cause; ..." for an error message. */
typedef struct {
    char text[768];
    size_t used;
    int last_errno;
} ns_attempt_log;
struct addrinfo;
void ns_attempt_log_add(ns_attempt_log *log, const struct addrinfo *ai, const char *cause,
                        int err);
/* Records a getaddrinfo failure (rc, errno err) as the right status. */
int ns_resolve_failure(int rc, int err, const char *what, const char *node, const char *service);
/* NS_ERR_INVALID for a numeric service that is not a port (over 65535). */
int ns_check_service(const char *what, const char *node, const char *service);
int ns_open_server_fd(const char *node, const char *service, const ns_options *o, int *fd_out);

/* ---- bio.c: the descriptor BIO under every TLS socket ---- */
/* A BIO reading and writing fd with recv/send(MSG_NOSIGNAL), reading small
 * requests ahead; NULL on ENOMEM. */
BIO *ns_bio_new_fd(int fd);
/* The first bytes ever read from the fd (up to 16), for messages about a
 * peer that does not speak TLS; their count. */
size_t ns_bio_first_bytes(BIO *b, const uint8_t **out);
/* 1 if the bytes read from the fd and not yet opened by BoringSSL (read
 * ahead here, or the start of a record in BoringSSL's buffer) hold a whole
 * record: a read can make progress without the fd.  Part of a record
 * alone is 0. */
int ns_bio_whole_record(BIO *b);

/* ---- tls_context.c: BoringSSL contexts, and TLS started on a socket ---- */
/* The context BoringSSL is given for one side of o: versions, identity,
 * trust, verification and ALPN. */
SSL_CTX *ns_tls_context_new(const ns_options *o, int server_side);
/* Sockets take their own references to c. */
int ns_tls_client_start(ns_socket *s, ns_tls_config *c, const char *node);
void ns_tls_server_start(ns_socket *server, ns_tls_config *c);
int ns_tls_accept_start(ns_socket *server, ns_socket *conn);
/* The server side of TLS on s, a connected plain socket (STARTTLS). */
int ns_tls_upgrade_server(ns_socket *s, ns_tls_config *c);

/* ---- tls.c: the handshake, TLS I/O and close_notify ---- */
/* Runs the handshake until done, the deadline (budget_us names it in the
 * message; a miss is timeout_status), or, if nonblocking, a need to wait. */
int ns_tls_handshake(ns_socket *s, int64_t deadline, int64_t budget_us, int nonblocking,
                     int timeout_status);
/* Runs or resumes the handshake in the socket's own mode (read timeout,
 * non-blocking); NS_OK at once when done.  I/O calls it first, so handshake
 * = 0 followed straight by send/recv works. */
int ns_tls_resume_handshake(ns_socket *s);
/* A server's handshake budget when its read timeout is none: nginx's
 * ssl_handshake_timeout default (60 s). */
#define NS_ACCEPT_HANDSHAKE_TIMEOUT 60000000
/* Fixes the handshake's deadline when it starts: the read timeout, or for
 * an accepted socket without one NS_ACCEPT_HANDSHAKE_TIMEOUT. */
void ns_tls_start_handshake_clock(ns_socket *s);
/* 1 if a recv (or the handshake) on s can make progress without the fd
 * becoming readable: decrypted bytes are buffered, or a whole record not
 * yet opened.  A partial record alone is not readable (it needs the rest
 * from the fd).  0 for plain sockets. */
int ns_tls_readable_now(const ns_socket *s);
/* One SSL_write; `wait` makes it wait for the fd (and a pending handshake)
 * even on a non-blocking socket, until `deadline` (the write timeout's,
 * a miss is NS_ERR_WRITE_TIMEOUT). */
ssize_t ns_tls_send(ns_socket *s, const void *buf, size_t len, int wait, int64_t deadline);
ssize_t ns_tls_recv(ns_socket *s, void *buf, size_t len, int flags);
int ns_tls_shutdown_write(ns_socket *s);
void ns_tls_free(ns_socket *s);

/* ---- verify.c: the library's certificate checks and the user's verifier ---- */
/* Installs the library's verify callback (chain and host name checks, then
 * the user's verifier) on ctx. */
void ns_verify_install(SSL_CTX *ctx, int server_side, int require_peer_cert);
/* Sets the name (or IP literal) the peer's certificate must match. */
int ns_verify_set_host(SSL *ssl, const char *host);
/* 1 if host is a name to send as SNI (not an IP literal). */
int ns_verify_wants_sni(const char *host);
/* 1 if name is a host name: dot-separated labels of letters, digits, '-'
 * and '_', 1 to 63 bytes each, 253 in all, no trailing dot. */
int ns_is_host_name(const char *name);
/* NS_ERR_CERTIFICATE with a description in msg if verification failed
 * during the last handshake (NS_ERR_TLS if the server refused the client's
 * SNI), else NS_OK. */
int ns_verify_failure_status(ns_socket *s, char *msg, size_t len);
/* Resumed handshakes skip verification: runs the library's checks and the
 * user's verifier over the session's stored peer chain (and, on a server
 * requiring one, refuses a session without a client certificate). */
int ns_verify_resumed(ns_socket *s);

/* ---- verdicts.c: peer chains verified clean, for resumed connections ---- */
/* The key of s's peer chain as seen by its configuration (side, name
 * checked, certificates); 0 if the peer sent none. */
int ns_verdict_key(const ns_socket *s, uint8_t out[32]);
/* A reference to the verdict under key, or NULL. */
ns_verdict *ns_verdict_find(ns_tls_config *c, const uint8_t key[32]);
/* The verified chain (the peer's certificates, then the anchor), leaf first. */
STACK_OF(X509) *ns_verdict_chain(const ns_verdict *v);
/* Remembers that the chain under key verified clean as `verified`. */
void ns_verdict_put(ns_tls_config *c, const uint8_t key[32], STACK_OF(X509) *verified);
void ns_verdict_unref(ns_verdict *v);
void ns_verdicts_clear(ns_tls_config *c);

/* ---- session.c: client session cache, saved sessions, server policy ---- */
void ns_session_install(SSL_CTX *ctx, int server_side, int resumption);
/* Offers the cached session for (name, service), if any, on s. */
int ns_session_offer(ns_socket *s, const char *name, const char *service);
void ns_session_cache_clear(ns_tls_config *c);
/* Parses a saved session into *e (its framing, checksum and BoringSSL's
 * encoding checked); free it with ns_session_entry_clear. */
int ns_session_parse(const void *data, size_t len, ns_session_entry *e);
void ns_session_entry_clear(ns_session_entry *e);
/* Moves the n entries whose digest matches c's into c's cache (the others
 * are freed); the array is left empty. */
void ns_session_adopt(ns_tls_config *c, ns_session_entry *e, size_t n);

/* ---- connect.c: opening a client (see there) ---- */
typedef struct ns_connecting ns_connecting;
/* Starts opening a client: a socket whose open ns_socket_connect_continue
 * (or, if `blocking`, ns_connect_drive) finishes; NULL on an immediate
 * error. */
ns_socket *ns_connect_begin(const ns_options *o, const char *node, const char *service, int tls,
                            int blocking);
/* Continues until the open is done or fails, waiting with poll. */
int ns_connect_drive(ns_socket *s);
/* Releases an unfinished open's state (close and free call it). */
void ns_connecting_free(ns_socket *s);

/* ---- tls_failure.c: explaining TLS failures ---- */
/* Records the alerts ssl's socket sends and receives. */
void ns_tls_watch_alerts(SSL *ssl);
/* Sets this thread's TLS details from s (after a failure on s). */
void ns_tls_note_failure(const ns_socket *s);
/* Keeps the names cert holds in s->verify_names, for a host name mismatch. */
void ns_verify_note_names(ns_socket *s, X509 *cert);
/* 1 and a description in msg if the error e means the peer does not speak
 * TLS (e.g. a plain HTTP server), else 0. */
int ns_tls_describe_not_tls(ns_socket *s, uint32_t e, char *msg, size_t len);

/* ---- selector.c ---- */
/* Removes s from its selector, if any (close calls it). */
void ns_selector_forget(ns_socket *s);

#endif
