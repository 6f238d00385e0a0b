/*
 * netsocket.h — the public C API of libnetsocket.
 *
 * Plain TCP and TLS (BoringSSL, linked inside the library with every symbol
 * hidden) sockets configured by options objects, and a selector with
 * per-socket timeouts.  Every type is opaque; every exported symbol starts
 * with ns_ and every macro with NS_.
 *
 * Conventions (apply to every function below unless it says otherwise)
 *  - Functions returning int return NS_OK (0) or a negative NS_ERR_* status.
 *    Functions returning ssize_t return a count or a negative status.
 *    Constructors return a handle, or NULL on failure.
 *  - Every failure records, for the calling thread, ns_last_status(),
 *    ns_last_error() (a sentence naming the operation, the peer and the
 *    cause) and ns_last_os_error() (errno, or 0).  Success leaves them alone.
 *  - Times are int64_t microseconds; a negative value means "no limit".
 *  - Every function accepts NULL handles without crashing: it fails with
 *    NS_ERR_INVALID (or returns NULL / 0 where it cannot return a status).
 *  - Strings are NUL-terminated UTF-8; byte buffers are (pointer, length).
 *  - A socket is used by one thread at a time; distinct sockets and distinct
 *    options objects are fully independent.  The error state is per thread.
 *  - No call raises SIGPIPE; EINTR is retried inside the library.
 *  - Ownership: a handle returned by a constructor (ns_options_new,
 *    ns_options_copy, ns_make_*_socket, ns_socket_connect, ns_socket_accept,
 *    ns_selector_new) belongs to the caller, who frees it with the matching
 *    *_free.  Data passed in (buffers, strings, certificates, keys) is copied
 *    unless the function says otherwise; the caller keeps its own copy.  A
 *    const char * or byte pointer returned by the library is owned by the
 *    library: never free it; its lifetime is stated at each function.
 *  - Functions that cannot fail (getters, predicates) say what they return
 *    for NULL; they do not touch the error state.
 */
#ifndef NETSOCKET_H
#define NETSOCKET_H

/*
 * The statuses: ONE list, from which the enum below, ns_status_name and the
 * language bindings' exception classes are all generated (libuv's
 * UV_ERRNO_MAP pattern).  Each row is
 *     XX(name, value, exception class, parent status, description)
 * where the exception class is the name the Python, Ruby and Lua bindings
 * give errors with this status ("Error" = the bindings' base class), and the
 * parent status names the class it derives from (NS_OK = the base class).
 * A new status is one row, at the end, with the next free value.
 */
#define NS_STATUS_MAP(XX)                                                                    \
    XX(NS_OK, 0, Error, NS_OK, "success")                                                    \
    XX(NS_ERR_INVALID, -1, ValueError, NS_OK, "bad argument or misuse")                      \
    XX(NS_ERR_NOMEM, -2, MemoryError, NS_OK, "allocation failed")                            \
    XX(NS_ERR_HOST_NOT_FOUND, -3, HostNotFoundError, NS_OK, "name resolution failed")        \
    XX(NS_ERR_CONNECT, -4, SocketConnectionError, NS_OK,                                     \
       "connect/bind/listen failed, refused, unreachable")                                   \
    XX(NS_ERR_CONNECT_TIMEOUT, -5, ConnectTimeoutError, NS_OK, "connection-timeout elapsed") \
    XX(NS_ERR_READ_TIMEOUT, -6, SocketReadTimeoutError, NS_OK, "read-timeout elapsed")       \
    XX(NS_ERR_WOULD_BLOCK, -7, WouldBlockError, NS_OK,                                       \
       "non-blocking operation cannot proceed now")                                          \
    XX(NS_ERR_CLOSED, -8, SocketClosedError, NS_OK, "socket closed, or the peer reset it")   \
    XX(NS_ERR_TLS, -9, TLSError, NS_OK, "TLS handshake or protocol failure")                 \
    XX(NS_ERR_CERTIFICATE, -10, CertificateError, NS_ERR_TLS,                                \
       "the peer's certificate was rejected")                                                \
    XX(NS_ERR_IO, -11, Error, NS_OK, "any other OS socket error")                           \
    XX(NS_ERR_WRITE_TIMEOUT, -12, WriteTimeoutError, NS_OK, "write-timeout elapsed")

/* bindings/netsocket.i %imports this header for NS_STATUS_MAP only. */
#ifndef SWIG

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(__GNUC__) || defined(__clang__)
#define NS_API __attribute__((visibility("default")))
#else
#define NS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

#define NS_VERSION_MAJOR 1
#define NS_VERSION_MINOR 1
#define NS_VERSION_PATCH 0

/* The version of the library actually loaded, as "MAJOR.MINOR.PATCH" (which
 * may be newer than the NS_VERSION_* macros a program was compiled with).
 * Static storage: never free it.  Cannot fail. */
NS_API const char *ns_version(void);
/* The loaded library's version as (major << 16) | (minor << 8) | patch, to
 * compare with the NS_VERSION_* macros.  Cannot fail. */
NS_API unsigned ns_version_number(void);

/* ------------------------------------------------------------------ */
/* Status codes and the per-thread error state                         */
/* ------------------------------------------------------------------ */

/* The statuses, from NS_STATUS_MAP at the top of this file. */
enum ns_status {
#define NS_STATUS_ENUM_(name, value, cls, parent, doc) name = value,
    NS_STATUS_MAP(NS_STATUS_ENUM_)
#undef NS_STATUS_ENUM_
};

/* The name of a status, e.g. "NS_ERR_READ_TIMEOUT"; "NS_ERR_UNKNOWN" for a
 * value that is not a status (e.g. one added by a newer library).  Static
 * storage: never free it.  Cannot fail. */
NS_API const char *ns_status_name(int status);
/* The status of the calling thread's last failure (NS_OK if none yet, or
 * since ns_clear_error).  Cannot fail. */
NS_API int ns_last_status(void);
/* The message of the calling thread's last failure ("" if none yet).  Owned
 * by the library and thread-local: valid until the same thread's next
 * failing call or ns_clear_error; copy it to keep it.  Cannot fail. */
NS_API const char *ns_last_error(void);
/* errno of the calling thread's last failure, or 0 if the OS was not the
 * cause.  Cannot fail. */
NS_API int ns_last_os_error(void);
/* The retry configs of the calling thread's last ECH rejection (see
 * ns_socket_ech_retry_configs): for constructors, which return NULL when the
 * handshake fails.  Thread-local, valid until the thread's next ECH rejection;
 * NULL (and *len 0) if none.  Cannot fail. */
NS_API const unsigned char *ns_last_ech_retry_configs(size_t *len);
/* The details of the calling thread's last failure when it was a TLS one
 * (NS_ERR_TLS, NS_ERR_CERTIFICATE, or an I/O failure on a TLS socket); like
 * ns_last_error they are reset by every failure and by ns_clear_error, and
 * cannot fail.
 * ns_last_verify_code: the X.509 verification result that rejected the
 * peer's certificate (X509_V_ERR_*, e.g. 10 expired, 18 self-signed, 20
 * unknown issuer, 62 host name mismatch), or 0. */
NS_API int ns_last_verify_code(void);
/* The text of ns_last_verify_code (e.g. "certificate has expired"), or ""
 * when it is 0.  Static storage: never free it. */
NS_API const char *ns_last_verify_message(void);
/* The TLS alert this end sent or received last (its code, e.g. 40 for
 * handshake_failure, 48 for unknown_ca; see ns_tls_alert_name), or -1 if
 * none; close_notify is not counted. */
NS_API int ns_last_tls_alert(void);
/* 1 if this end sent ns_last_tls_alert, 0 if the peer sent it (or none). */
NS_API int ns_last_tls_alert_sent(void);
/* The RFC 8446 name of a TLS alert code, e.g. "handshake_failure";
 * "unknown" for a code it does not know.  Static storage.  Cannot fail. */
NS_API const char *ns_tls_alert_name(int alert);
/* Resets the calling thread's error state to NS_OK / "" / 0.  Cannot fail. */
NS_API void ns_clear_error(void);

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

typedef enum {
    NS_SOCKET_OPTIONS = 1,
    NS_TLS_SOCKET_OPTIONS = 2,
    NS_SERVER_TLS_SOCKET_OPTIONS = 3
} ns_options_kind;

typedef struct ns_options ns_options;

/*
 * Certificate verifier: called for each certificate of the peer's chain,
 * from the root towards the peer (depth 0 is the peer's own certificate),
 * with the library's own verdict in preverify_error (0 when that certificate
 * passed, else the X.509 error code, e.g. 18 for self-signed, 62 for a host
 * name mismatch).  der/der_len is the certificate, valid only during the call.
 * Return non-zero to accept that certificate; the verdict replaces the
 * library's for it.  A certificate may be presented more than once, one
 * call per check: e.g. the leaf once for the chain and again with error 62
 * when the host name does not match.  Called on the thread doing the
 * handshake; it must not call netsocket functions on the same socket.
 */
typedef int (*ns_certificate_verifier)(void *userdata, int depth, int preverify_error,
                                       const unsigned char *der, size_t der_len);
/* Releases a verifier's userdata when the last options object or socket that
 * uses it is freed (see ns_options_set_certificate_verifier_owned).  Called
 * exactly once, on the thread that drops the last reference. */
typedef void (*ns_release_function)(void *userdata);

/* A new options object of the given kind with every field at its default
 * (see docs/reference.md).  Free it with ns_options_free.  NULL with
 * NS_ERR_INVALID for an unknown kind, NS_ERR_NOMEM when out of memory. */
NS_API ns_options *ns_options_new(ns_options_kind kind);
/* A new options object of `kind` holding every field of `from` that `kind`
 * has (the builder's (from o)); the others keep their defaults.  Certificates,
 * keys and an owned verifier's userdata are shared by reference count, so the
 * copy is cheap; `from` stays the caller's.  Free the copy with
 * ns_options_free.  NULL with NS_ERR_INVALID (from NULL, unknown kind) or
 * NS_ERR_NOMEM. */
NS_API ns_options *ns_options_copy(const ns_options *from, ns_options_kind kind);
/* Frees the options and what they own.  Sockets made from them are
 * unaffected (they hold their own references).  NULL is a no-op. */
NS_API void ns_options_free(ns_options *o);
/* The kind, or 0 for NULL. */
NS_API ns_options_kind ns_options_kind_of(const ns_options *o);
/* socket-options?: 1 for every kind, 0 for NULL. */
NS_API int ns_options_is_socket(const ns_options *o);
/* tls-socket-options?: 1 for the TLS and server TLS kinds, 0 otherwise or for NULL. */
NS_API int ns_options_is_tls(const ns_options *o);
/* server-tls-socket-options?: 1 for the server TLS kind, 0 otherwise or for NULL. */
NS_API int ns_options_is_server_tls(const ns_options *o);

/* Fields every kind has.  Setters return NS_OK, or NS_ERR_INVALID for NULL
 * options or a value the field does not support (ai_family: AF_INET,
 * AF_INET6 or AF_UNSPEC; ai_socktype: SOCK_STREAM; ai_protocol: 0 or
 * IPPROTO_TCP; ai_flags: AI_* bits getaddrinfo knows), leaving the options
 * unchanged.  Getters cannot fail and return the default for NULL. */
NS_API int ns_options_set_ai_family(ns_options *o, int family);       /* default AF_INET */
NS_API int ns_options_get_ai_family(const ns_options *o);
NS_API int ns_options_set_ai_socktype(ns_options *o, int socktype);   /* default SOCK_STREAM */
NS_API int ns_options_get_ai_socktype(const ns_options *o);
/* Default AI_V4MAPPED.  AI_PASSIVE is rejected later by client constructors
 * (NS_ERR_INVALID); servers add it themselves. */
NS_API int ns_options_set_ai_flags(ns_options *o, int flags);
NS_API int ns_options_get_ai_flags(const ns_options *o);
NS_API int ns_options_set_ai_protocol(ns_options *o, int protocol);   /* default 0 */
NS_API int ns_options_get_ai_protocol(const ns_options *o);
/* non-blocking?: default 1 (Sagittarius' default).  Applied after the open. */
NS_API int ns_options_set_non_blocking(ns_options *o, int on);
NS_API int ns_options_get_non_blocking(const ns_options *o);
/* One deadline for the whole open (every address and the TLS handshake);
 * negative = none (default -1). */
NS_API int ns_options_set_connection_timeout(ns_options *o, int64_t us);
NS_API int64_t ns_options_get_connection_timeout(const ns_options *o);
/* Bounds each recv, a blocking accept's wait for a connection, and a TLS
 * handshake (see ns_socket_accept); default -1. */
NS_API int ns_options_set_read_timeout(ns_options *o, int64_t us);
NS_API int64_t ns_options_get_read_timeout(const ns_options *o);
/* write-timeout (1.1): bounds each send that waits (a blocking send, and
 * ns_socket_send_all on any socket, as one deadline for the whole call);
 * a miss is NS_ERR_WRITE_TIMEOUT.  Negative = none (default -1). */
NS_API int ns_options_set_write_timeout(ns_options *o, int64_t us);
NS_API int64_t ns_options_get_write_timeout(const ns_options *o);

/* TLS fields (TLS and server TLS kinds; NS_ERR_INVALID on plain options).
 * Every setter that fails leaves the options unchanged. */

/* handshake: 1 (default) = constructors and accept complete the handshake;
 * 0 = the caller calls ns_socket_handshake. */
NS_API int ns_options_set_handshake(ns_options *o, int on);
NS_API int ns_options_get_handshake(const ns_options *o);
/* The private key, PEM or DER (RSA, EC or Ed25519), copied (the caller keeps
 * and may wipe its buffer).  An encrypted key needs a password: from the
 * password callback if set (below), else NS_ERR_INVALID.  If
 * certificates are already set, the key must match the first one.  Errors:
 * NS_ERR_INVALID (plain options, empty/unparsable data, data over 16 MiB, a
 * key that does not match; for the _file form also a file that cannot be
 * opened or read, with ns_last_os_error), NS_ERR_NOMEM. */
NS_API int ns_options_set_private_key(ns_options *o, const void *data, size_t len);
NS_API int ns_options_set_private_key_file(ns_options *o, const char *path);
/* 1 if a private key is set, 0 if not or for NULL.  Key material is never
 * returned. */
NS_API int ns_options_has_private_key(const ns_options *o);
/* Protected keys.  A password callback writes the password (bytes, not
 * NUL-terminated) into buf, at most size bytes, and returns their number, or
 * a negative value to give none.  Called on the thread loading the key, only
 * while a key or bundle is being loaded. */
typedef int (*ns_password_callback)(void *userdata, char *buf, size_t size);
/* Sets (fn non-NULL) or removes the callback asked for the password of an
 * encrypted key or a PKCS#12 bundle loaded by a setter given no password
 * (ns_options_set_private_key and its _file form, and the _with_password
 * and pkcs12 setters with password NULL).  userdata is not owned: it must
 * stay valid while these options or their copies load keys.  Copied by
 * ns_options_copy.  NS_ERR_INVALID on plain options or NULL. */
NS_API int ns_options_set_password_callback(ns_options *o, ns_password_callback fn,
                                            void *userdata);
/* The password callback (NULL if none or o is NULL); its userdata in
 * *userdata if userdata is not NULL. */
NS_API ns_password_callback ns_options_get_password_callback(const ns_options *o,
                                                             void **userdata);
/* ns_options_set_private_key for an encrypted key: PEM, PKCS#8 ("ENCRYPTED
 * PRIVATE KEY") or legacy ("Proc-Type: 4,ENCRYPTED"), or DER PKCS#8
 * EncryptedPrivateKeyInfo, decrypted with password (password_len bytes, 1..1023;
 * NULL = ask the password callback).  An unencrypted key is accepted too.
 * The library's copies of the password and the key bytes are wiped after
 * use.  Errors as ns_options_set_private_key, and NS_ERR_INVALID naming the
 * cause for a wrong password ("wrong password"), a missing or empty one, or
 * a callback that refused; nothing is changed. */
NS_API int ns_options_set_private_key_with_password(ns_options *o, const void *data, size_t len,
                                                    const void *password,
                                                    size_t password_len);
NS_API int ns_options_set_private_key_file_with_password(ns_options *o, const char *path,
                                                         const void *password,
                                                         size_t password_len);
/* A PKCS#12 bundle (DER, as openssl pkcs12 -export writes it): its private
 * key and certificates replace the options' key and certificates, the
 * certificate matching the key first, then the others as its chain.
 * password: password_len bytes without NUL (0 bytes = the empty password);
 * NULL = ask the password callback, or the empty password without one.
 * Errors: NS_ERR_INVALID (plain options, empty or corrupt data: "not a valid
 * PKCS#12 bundle", "wrong password", a bundle without a key, without
 * certificates, or whose certificates none match the key; for the _file form
 * a file that cannot be read), NS_ERR_NOMEM; on error nothing is changed.
 * Passwords and key bytes copied by the library are wiped after use. */
NS_API int ns_options_set_pkcs12(ns_options *o, const void *data, size_t len,
                                 const void *password, size_t password_len);
NS_API int ns_options_set_pkcs12_file(ns_options *o, const char *path, const void *password,
                                      size_t password_len);
/* Appends certificates, copied: DER (one) or PEM (every certificate in the
 * blob, in order).  The first certificate is the leaf, the rest its chain.
 * If a key is set and this adds the leaf, the key must match it.  Errors as
 * for the private key (NS_ERR_INVALID, NS_ERR_NOMEM); on error nothing is
 * added.  clear_certificates removes them all; count returns 0 for NULL. */
NS_API int ns_options_add_certificate(ns_options *o, const void *data, size_t len);
NS_API int ns_options_add_certificate_file(ns_options *o, const char *path);
NS_API int ns_options_clear_certificates(ns_options *o);
NS_API size_t ns_options_certificate_count(const ns_options *o);
/* The DER of certificate i (its length in *der_len if der_len is not NULL),
 * owned by the options: valid until their certificates change or they are
 * freed.  NULL if i is out of range or o is NULL (no error recorded). */
NS_API const unsigned char *ns_options_get_certificate(const ns_options *o, size_t i,
                                                       size_t *der_len);
/* Sets (fn non-NULL) or removes (fn NULL) the verifier.  userdata is not
 * owned by the library: it must stay valid as long as these options, their
 * copies, or any socket made from them may run a handshake.  NS_ERR_INVALID
 * on plain options or NULL, NS_ERR_NOMEM. */
NS_API int ns_options_set_certificate_verifier(ns_options *o, ns_certificate_verifier fn,
                                               void *userdata);
/* Like ns_options_set_certificate_verifier, but the library owns userdata
 * and calls release(userdata) once no options object or socket uses it any
 * more (also when this call fails).  For language bindings. */
NS_API int ns_options_set_certificate_verifier_owned(ns_options *o, ns_certificate_verifier fn,
                                                     void *userdata,
                                                     ns_release_function release);
/* The verifier (NULL if none or o is NULL); its userdata is stored in
 * *userdata if userdata is not NULL.  The userdata stays owned as it was set. */
NS_API ns_certificate_verifier ns_options_get_certificate_verifier(const ns_options *o,
                                                                   void **userdata);
/* sni* (TLS client kind; NS_ERR_INVALID on server options, which serve
 * certificates by name with ns_options_add_identity instead): a client
 * sends the first name as SNI and checks the server's certificate against it.  Names are 1..255 bytes, no NUL, copied.  add:
 * NS_ERR_INVALID (plain options, NULL, empty or longer name), NS_ERR_NOMEM;
 * clear removes all; count returns 0 for NULL. */
NS_API int ns_options_add_sni(ns_options *o, const char *name);
NS_API int ns_options_clear_sni(ns_options *o);
NS_API size_t ns_options_sni_count(const ns_options *o);
/* Name i, owned by the options: valid until their sni* list changes or they
 * are freed.  NULL if out of range or o is NULL. */
NS_API const char *ns_options_get_sni(const ns_options *o, size_t i);
/* alpn*: protocol names (1..255 bytes) in order of preference, copied.
 * Errors, clearing, counting and the lifetime of get_alpn's result: as for sni*. */
NS_API int ns_options_add_alpn(ns_options *o, const char *name);
NS_API int ns_options_clear_alpn(ns_options *o);
NS_API size_t ns_options_alpn_count(const ns_options *o);
NS_API const char *ns_options_get_alpn(const ns_options *o, size_t i);
/* Trust anchors: for a server, the CAs client certificates are checked
 * against (and whose names are sent in the request); for a client, used
 * instead of the system store.  PEM (several) or DER, copied.  Errors,
 * clearing, counting and the lifetime of get_trusted_certificate's result:
 * as for the certificates above. */
NS_API int ns_options_add_trusted_certificate(ns_options *o, const void *data, size_t len);
NS_API int ns_options_add_trusted_certificate_file(ns_options *o, const char *path);
NS_API int ns_options_clear_trusted_certificates(ns_options *o);
NS_API size_t ns_options_trusted_certificate_count(const ns_options *o);
NS_API const unsigned char *ns_options_get_trusted_certificate(const ns_options *o, size_t i,
                                                               size_t *der_len);
/* Key log (debugging only: whoever reads it can decrypt the connections).
 * Off by default; the library never reads SSLKEYLOGFILE or any other
 * environment variable for it.  Each handshake of a socket made from these
 * options (a server: of each accepted connection) logs its secrets as lines
 * of the NSS key log format that Wireshark reads, without the newline for the
 * callback.  Called on the thread doing the handshake; line is valid during
 * the call only. */
typedef void (*ns_key_log_callback)(void *userdata, const char *line);
/* Logs to the file at path (opened now, appended to, created with mode 0600;
 * each line written whole with one write).  NULL removes the key log.
 * Replaces a key log callback.  Errors: NS_ERR_INVALID (plain options, a
 * file that cannot be opened, with ns_last_os_error), NS_ERR_NOMEM; nothing
 * is changed on error. */
NS_API int ns_options_set_key_log_file(ns_options *o, const char *path);
/* The key log file's path as given (owned by the options: valid until the
 * key log changes or they are freed), NULL if none or for NULL. */
NS_API const char *ns_options_get_key_log_file(const ns_options *o);
/* Logs by calling fn (NULL removes the key log); replaces a key log file.
 * The library owns userdata and calls release(userdata) (if not NULL) once
 * no options object or socket uses it, also when this call fails.
 * NS_ERR_INVALID on plain options or NULL, NS_ERR_NOMEM. */
NS_API int ns_options_set_key_log_callback(ns_options *o, ns_key_log_callback fn,
                                           void *userdata, ns_release_function release);
/* The key log callback (NULL if none, a file, or for NULL); its userdata in
 * *userdata if userdata is not NULL. */
NS_API ns_key_log_callback ns_options_get_key_log_callback(const ns_options *o,
                                                           void **userdata);
/* Server identities (server TLS kind only; NS_ERR_INVALID on other kinds).
 * Besides its certificates and private key (the default identity), a server
 * can hold more identities, each a certificate chain and its key, served to
 * clients whose SNI asks for one of the identity's names: by default the DNS
 * names of its certificate's subjectAltName, "*.example.com" matching one
 * whole label as in the host name check (exact names win over wildcards, the
 * first identity added over later ones).  No SNI, or no name matching: the
 * default.  (sni* is a client field: a server refuses it.)
 * add_identity: chain is PEM (leaf first) or one DER certificate, key PEM or
 * DER (an encrypted key asks the password callback), both copied.  Errors:
 * NS_ERR_INVALID (no key, unparsable data, a key that does not match the
 * leaf), NS_ERR_NOMEM; nothing is changed on error.  The identity's index is
 * ns_options_identity_count() - 1 after the call. */
NS_API int ns_options_add_identity(ns_options *o, const void *chain, size_t chain_len,
                                   const void *key, size_t key_len);
/* Serves identity i for name too (1..255 bytes, copied).  The first name
 * given replaces the names taken from the certificate.  NS_ERR_INVALID for
 * no identity i or a bad name, NS_ERR_NOMEM. */
NS_API int ns_options_add_identity_name(ns_options *o, size_t i, const char *name);
NS_API int ns_options_clear_identities(ns_options *o);
/* The number of identities (default not counted; 0 for NULL); identity i's
 * number of names and name j; certificate j (0 = the leaf) of identity i
 * as DER (its length in *der_len if not NULL).  Owned by the options: valid
 * until their identities change or they are freed; NULL / 0 out of range. */
NS_API size_t ns_options_identity_count(const ns_options *o);
NS_API size_t ns_options_identity_name_count(const ns_options *o, size_t i);
NS_API const char *ns_options_get_identity_name(const ns_options *o, size_t i, size_t j);
NS_API const unsigned char *ns_options_get_identity_certificate(const ns_options *o, size_t i,
                                                                size_t j, size_t *der_len);
/* Encrypted Client Hello (BoringSSL's ECH, draft-13 code point): a client
 * given the server's ECHConfigList encrypts its real ClientHello, server name
 * included, to the server's ECH key; on the wire only the config's public
 * name shows.  Server side (server TLS kind only; NS_ERR_INVALID on other
 * kinds): ECH keys, each an X25519 private key (32 bytes) and its ECHConfig
 * (as `bssl generate-ech` writes them), in order of preference; retry 1
 * marks a config that is published and sent to clients whose ECH failed.
 * The server's certificate must also cover each public name (clients
 * verify it there when the server rejects their ECH).  Errors: NS_ERR_INVALID
 * (not a 32-byte X25519 key, an ECHConfig that does not parse or does not
 * match the key, no retry config among the keys), NS_ERR_NOMEM; nothing is
 * changed on error.  The key is copied and wiped with the options. */
NS_API int ns_options_add_ech_key(ns_options *o, const void *key, size_t key_len,
                                  const void *config, size_t config_len, int retry);
/* Adds a freshly generated ECH key (a retry config) for public_name (1..255
 * bytes) with the given config_id (0..255).  The key lives only in these
 * options and their copies: for keys that survive a restart, generate them
 * with `bssl generate-ech` and use ns_options_add_ech_key.  Errors as above. */
NS_API int ns_options_generate_ech_key(ns_options *o, const char *public_name, int config_id);
/* Removes every ECH key.  NS_ERR_INVALID on other kinds than server TLS. */
NS_API int ns_options_clear_ech_keys(ns_options *o);
/* The number of ECH keys (0 for NULL). */
NS_API size_t ns_options_ech_key_count(const ns_options *o);
/* The ECHConfigList to publish (e.g. in an HTTPS DNS record) and give to
 * clients: the retry configs, in order.  Its length in *len (if not NULL).
 * Owned by the options: valid until their ECH keys change or they are freed.
 * NULL without ECH keys or for NULL. */
NS_API const unsigned char *ns_options_get_published_ech_config_list(const ns_options *o,
                                                                     size_t *len);
/* Client side (TLS kinds): the ECHConfigList to offer ECH with (copied;
 * NULL or len 0 removes it).  One without any config this library supports
 * is accepted and ECH is then not offered.  NS_ERR_INVALID (plain options, a
 * list that does not parse), NS_ERR_NOMEM; nothing is changed on error. */
NS_API int ns_options_set_ech_config_list(ns_options *o, const void *data, size_t len);
/* The list set (its length in *len if not NULL), owned by the options: valid
 * until it changes or they are freed.  NULL if none or for NULL. */
NS_API const unsigned char *ns_options_get_ech_config_list(const ns_options *o, size_t *len);
/* ech-grease?: a client without an ECHConfigList sends a fake ("GREASE") ECH
 * extension so that ECH users do not stand out.  Default 0; the getter
 * returns 0 for NULL. */
NS_API int ns_options_set_ech_grease(ns_options *o, int on);
NS_API int ns_options_get_ech_grease(const ns_options *o);
/* Server TLS kind only (NS_ERR_INVALID on other kinds): a client without a
 * certificate fails the handshake.  Default 0; the getter returns 0 for NULL. */
NS_API int ns_options_set_client_certificate_required(ns_options *o, int on);
NS_API int ns_options_get_client_certificate_required(const ns_options *o);
/* ignore-unexpected-eof? (TLS kinds; NS_ERR_INVALID on plain options): a
 * peer that closes the connection without close_notify normally makes
 * ns_socket_recv fail with NS_ERR_CLOSED (what arrived may be truncated, and
 * the message says so); 1 makes recv return 0 (end of stream) instead, as
 * many HTTP/1.0 servers, and Python's ssl by default, close that way.
 * Accepted sockets take it from their server.  Default 0; the getter
 * returns 0 for NULL. */
NS_API int ns_options_set_ignore_unexpected_eof(ns_options *o, int on);
NS_API int ns_options_get_ignore_unexpected_eof(const ns_options *o);

/* session-resumption? (TLS kinds; default 1).  A client resumes sessions
 * from a cache that belongs to what its options compile to: keyed by the
 * peer's name (SNI or node) and service; a change to the options starts an
 * empty cache, so changed trust, verifier, identity or ALPN never resume an
 * old session.  TLS 1.3 tickets are used once.  A server with 0 issues no
 * tickets.  A resumed connection still runs the certificate verifier over
 * the session's stored peer chain.  NS_ERR_INVALID for plain options. */
NS_API int ns_options_set_session_resumption(ns_options *o, int on);
NS_API int ns_options_get_session_resumption(const ns_options *o);
/* Loads a session saved by ns_socket_save_session (the bytes are copied)
 * into the client cache of o, for a process that restarts.  The options
 * must have the ALPN list and client identity the session was made with
 * when it is loaded (checked: an error) and when they are first used to
 * connect (checked again: a session that no longer matches is dropped);
 * other fields may be set before or after.  Once o has been used, a change to it
 * starts an empty cache, loaded sessions included.  NS_ERR_INVALID,
 * nothing changed, for a blob that is not a saved session, is corrupt
 * (length or checksum), was made with other ALPN names or identity, or
 * when session-resumption? is 0. */
NS_API int ns_options_add_session(ns_options *o, const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

typedef struct ns_socket ns_socket;

/*
 * Client constructors resolve node/service with getaddrinfo (the ai-* fields
 * as hints), try every address in turn and return a connected socket; a TLS
 * client has also finished its handshake unless handshake is 0.  The
 * connection timeout is one deadline for all of it.  Only then are
 * non-blocking? and read-timeout applied.  options NULL means defaults; plain
 * options given to a TLS constructor get the TLS defaults for TLS fields.
 * Errors: NS_ERR_INVALID (AI_PASSIVE, NULL node/service, a numeric
 * service over 65535: getaddrinfo would wrap it to 16 bits), NS_ERR_HOST_NOT_FOUND,
 * NS_ERR_CONNECT (the message names every address tried and why it failed),
 * NS_ERR_CONNECT_TIMEOUT, NS_ERR_TLS, NS_ERR_CERTIFICATE, NS_ERR_NOMEM.
 * node and service are copied; the socket keeps no reference to the options.
 * Free the result with ns_socket_free.
 */
NS_API ns_socket *ns_make_client_socket(const char *node, const char *service,
                                        const ns_options *o);
NS_API ns_socket *ns_make_client_tls_socket(const char *node, const char *service,
                                            const ns_options *o);
/* Binds (SO_REUSEADDR) and listens.  node NULL = every local address;
 * service "0" = a free port (see ns_socket_local_port).  The TLS server
 * needs certificates and a private key, else NS_ERR_INVALID (so is a
 * numeric service over 65535).  Errors:
 * NS_ERR_INVALID, NS_ERR_HOST_NOT_FOUND, NS_ERR_CONNECT (bind or listen
 * failed, e.g. the port is in use), NS_ERR_NOMEM.  The socket does not keep
 * a reference to the options: free them whenever.  Free the result with
 * ns_socket_free. */
NS_API ns_socket *ns_make_server_socket(const char *node, const char *service,
                                        const ns_options *o);
NS_API ns_socket *ns_make_server_tls_socket(const char *node, const char *service,
                                            const ns_options *o);
/* socket-options->client-socket: a TLS client for TLS options (either TLS
 * kind; a server kind's server-only fields are ignored), a plain client for
 * plain options; NULL options: NS_ERR_INVALID.  Otherwise as
 * ns_make_client_socket / ns_make_client_tls_socket. */
NS_API ns_socket *ns_socket_connect(const ns_options *o, const char *node, const char *service);

/* Sends once from buf (read during the call only) and returns the number of
 * bytes sent, which may be short.  A blocking send waits at most the write
 * timeout (NS_ERR_WRITE_TIMEOUT).  Errors: NS_ERR_WOULD_BLOCK (non-blocking,
 * no room), NS_ERR_CLOSED (closed here, or the peer is gone),
 * NS_ERR_INVALID (NULL, a listening socket), NS_ERR_TLS, NS_ERR_IO.
 * flags: MSG_* (plain sockets; TLS ignores them).
 * TLS: a send that returned NS_ERR_WOULD_BLOCK (or NS_ERR_WRITE_TIMEOUT) has
 * already encrypted the first bytes of buf (up to 16 KiB) into a record
 * that is still to go out: call it again with the same bytes first (the
 * buffer may move and may hold more after them; ns_socket_send_all with the
 * same bytes will do).  Its result counts them.  A retry with other or fewer
 * bytes fails with NS_ERR_INVALID and sends nothing. */
NS_API ssize_t ns_socket_send(ns_socket *s, const void *buf, size_t len, int flags);
/* Sends all len bytes, waiting for room (and a TLS handshake still
 * pending) even on a non-blocking socket, and returns len.  The write
 * timeout bounds the whole call: NS_ERR_WRITE_TIMEOUT, whose message says
 * how many bytes were sent.  Errors as ns_socket_send (never
 * NS_ERR_WOULD_BLOCK); on an error the count already sent is not returned,
 * so treat the stream as broken, or for TLS retry as ns_socket_send says. */
NS_API ssize_t ns_socket_send_all(ns_socket *s, const void *buf, size_t len, int flags);
/* Receives up to len bytes into buf (the caller's) and returns their number;
 * 0 = orderly end of stream.  Waits at most the read timeout
 * (NS_ERR_READ_TIMEOUT); non-blocking with nothing to read:
 * NS_ERR_WOULD_BLOCK at once, as with MSG_DONTWAIT on any socket.  flags:
 * MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, ... (TLS honours MSG_PEEK and
 * MSG_DONTWAIT only).  MSG_WAITALL on a blocking socket gathers len bytes
 * (with MSG_PEEK: peeks at len bytes); if the stream ends, or the timeout
 * or an error strikes, after some arrived, those are returned (the error
 * recurs on the next call).  A TLS peer that
 * vanishes without close_notify:
 * NS_ERR_CLOSED, or 0 with ignore-unexpected-eof? set.  Other errors: NS_ERR_INVALID, NS_ERR_TLS, NS_ERR_IO. */
NS_API ssize_t ns_socket_recv(ns_socket *s, void *buf, size_t len, int flags);
/* Accepts one connection; the new socket inherits the server's options
 * (non-blocking?, read-timeout, write-timeout).  A blocking server waits for
 * a connection at most its read timeout (NS_ERR_READ_TIMEOUT), as Python's
 * settimeout bounds accept; a non-blocking server with no pending
 * connection: NS_ERR_WOULD_BLOCK at once.
 * A TLS server with handshake 1 also handshakes, within a budget: the read
 * timeout, or 60 s when it has none (nginx's ssl_handshake_timeout
 * default), so that a client that never speaks cannot hold the server.  A
 * blocking server completes the handshake in accept (NS_ERR_READ_TIMEOUT
 * when the budget runs out).  A non-blocking server never waits for it:
 * the socket is returned at once with the handshake pending,
 * ns_socket_wants(conn) says NS_WANT_READ and ns_socket_wants_timeout the
 * budget; ns_socket_handshake, recv or send continue it and fail with
 * NS_ERR_READ_TIMEOUT once the budget is spent.
 * Errors: NS_ERR_INVALID (not a server socket), NS_ERR_CLOSED,
 * NS_ERR_READ_TIMEOUT, NS_ERR_TLS, NS_ERR_CERTIFICATE, NS_ERR_IO,
 * NS_ERR_NOMEM.  The new socket is the caller's: free it with
 * ns_socket_free. */
NS_API ns_socket *ns_socket_accept(ns_socket *server);
/* Runs (or resumes) the TLS handshake; NS_ERR_WOULD_BLOCK on a non-blocking
 * socket that must wait (call again when the fd is ready).  NS_OK if already
 * done; NS_ERR_INVALID on plain sockets; NS_ERR_READ_TIMEOUT when a blocking
 * handshake outlasts the read timeout; NS_ERR_TLS, NS_ERR_CERTIFICATE,
 * NS_ERR_CLOSED. */
NS_API int ns_socket_handshake(ns_socket *s);
/* SHUT_RD / SHUT_WR / SHUT_RDWR.  On TLS, SHUT_WR and SHUT_RDWR send
 * close_notify.  NS_ERR_INVALID for another `how`, NS_ERR_CLOSED once
 * closed, NS_ERR_IO. */
NS_API int ns_socket_shutdown(ns_socket *s, int how);
/* Closes (TLS: sends close_notify first if the handshake finished).  The
 * handle stays valid, ns_socket_is_closed says 1, and I/O fails with
 * NS_ERR_CLOSED.  Closing twice is NS_OK; NULL is NS_ERR_INVALID.  Free the
 * handle with ns_socket_free. */
NS_API int ns_socket_close(ns_socket *s);
/* Closes if open and releases the handle.  NULL is a no-op. */
NS_API void ns_socket_free(ns_socket *s);
/* Predicates: 1 if closed (also for NULL); 1 for a TLS socket (0 for NULL). */
NS_API int ns_socket_is_closed(const ns_socket *s);
NS_API int ns_socket_is_tls(const ns_socket *s);
/* The file descriptor (-1 once closed or for NULL).  The library sets its
 * flags: O_NONBLOCK, except on a plain connected socket in blocking mode,
 * where the kernel blocks and SO_RCVTIMEO holds the read timeout (TLS and
 * listening sockets emulate blocking mode with poll).  It stays owned by the
 * socket: do not close it or change its flags or SO_RCVTIMEO, and do not read
 * or write it behind a TLS socket's back.  Use it to poll or for other
 * socket options. */
NS_API int ns_socket_fd(const ns_socket *s);
/* The socket's non-blocking? and read-timeout (initially from its options).
 * Setters: NS_OK, or NS_ERR_INVALID for NULL.  Getters: 0 / -1 for NULL. */
NS_API int ns_socket_set_non_blocking(ns_socket *s, int on);
NS_API int ns_socket_is_non_blocking(const ns_socket *s);
NS_API int ns_socket_set_read_timeout(ns_socket *s, int64_t us);
NS_API int64_t ns_socket_get_read_timeout(const ns_socket *s);
/* The socket's write-timeout (1.1; initially from its options).  Setter:
 * NS_OK, or NS_ERR_INVALID for NULL.  Getter: -1 for NULL. */
NS_API int ns_socket_set_write_timeout(ns_socket *s, int64_t us);
NS_API int64_t ns_socket_get_write_timeout(const ns_socket *s);
/* node/service given to a client constructor (node NULL for servers and
 * accepted sockets; service of a server is the one given).  Owned by the
 * socket: valid until it is freed.  NULL for NULL. */
NS_API const char *ns_socket_node(const ns_socket *s);
NS_API const char *ns_socket_service(const ns_socket *s);
/* The peer's / the local numeric IP address, written into the caller's buf
 * (NUL-terminated; 46 bytes always suffice).  NS_OK, or NS_ERR_INVALID (NULL,
 * buf too small), NS_ERR_CLOSED (closed, or not connected), NS_ERR_IO. */
NS_API int ns_socket_peer_address(const ns_socket *s, char *buf, size_t len);
/* The peer's / the local port, or a negative status as for the addresses. */
NS_API int ns_socket_peer_port(const ns_socket *s);
NS_API int ns_socket_local_address(const ns_socket *s, char *buf, size_t len);
NS_API int ns_socket_local_port(const ns_socket *s);
/* setsockopt(2) on the socket's fd; val (len bytes) is read during the call.
 * NS_OK, or NS_ERR_INVALID (NULL, an option or value the OS rejects),
 * NS_ERR_CLOSED, NS_ERR_NOMEM. */
NS_API int ns_socket_setsockopt(ns_socket *s, int level, int name, const void *val, size_t len);
/* getsockopt(2) into the caller's val; *len: in the buffer's size, out the
 * value's size.  Errors as ns_socket_setsockopt. */
NS_API int ns_socket_getsockopt(ns_socket *s, int level, int name, void *val, size_t *len);

/* TLS queries: NULL / 0 on plain sockets, NULL sockets and before the
 * handshake; they never record an error.  Returned strings and bytes are
 * owned by the socket (or static, where said): never free them. */
/* The peer's certificate (DER; its length in *der_len if der_len is not
 * NULL), valid until the socket is freed. */
NS_API const unsigned char *ns_socket_peer_certificate(ns_socket *s, size_t *der_len);
/* The peer's certificate chain as sent, leaf first: the number of
 * certificates (0 on plain sockets, NULL, before the handshake or when the
 * peer sent none), and certificate i's DER (its length in *der_len if
 * der_len is not NULL), valid until the socket is freed; NULL if i is out of
 * range. */
NS_API size_t ns_socket_peer_certificate_chain_count(ns_socket *s);
NS_API const unsigned char *ns_socket_peer_certificate_chain_at(ns_socket *s, size_t i,
                                                                size_t *der_len);
/* The negotiated key-exchange group, e.g. "X25519", "P-256" or
 * "X25519MLKEM768"; static storage.  NULL on plain sockets, NULL and before
 * the handshake. */
NS_API const char *ns_socket_key_exchange_group(const ns_socket *s);
/* The negotiated ALPN protocol, valid until the socket is freed. */
NS_API const char *ns_socket_selected_alpn(const ns_socket *s);
/* Server side: the SNI name the client sent.  Valid until freed. */
NS_API const char *ns_socket_server_name(const ns_socket *s);
/* "TLSv1.2" / "TLSv1.3"; static storage. */
NS_API const char *ns_socket_tls_version(const ns_socket *s);
/* The cipher suite's standard name, e.g. "TLS_AES_128_GCM_SHA256"; static storage. */
NS_API const char *ns_socket_tls_cipher(const ns_socket *s);
/* Accepted TLS sockets: the index of the server identity the handshake
 * used (see ns_options_add_identity), or -1 for the default identity (also
 * for other sockets, NULL, and before the handshake). */
NS_API int ns_socket_identity_index(const ns_socket *s);
/* Rotation: replaces a listening TLS server's identities (default and per
 * name) with those of o (server TLS kind, with certificates and a private
 * key), e.g. after a renewal.  Handshakes of connections accepted afterwards
 * use the new ones; connections already accepted keep theirs; each handshake
 * sees one whole set, never part of a swap.  Other settings (trust, ALPN,
 * ECH keys) stay as the server was made.  May be called from any thread
 * while another accepts; o is not kept.  Errors: NS_ERR_INVALID (not a
 * listening TLS server, o not server TLS, o without certificates and key, an
 * identity without names), NS_ERR_NOMEM; on error nothing changes. */
NS_API int ns_socket_replace_identities(ns_socket *server, const ns_options *o);
/* 1 if the handshake used ECH (client: the server accepted it; server: it
 * decrypted the client's ECH and ns_socket_server_name is the hidden name),
 * else 0. */
NS_API int ns_socket_ech_accepted(const ns_socket *s);
/* Client: when a handshake failed because the server rejected ECH (NS_ERR_TLS,
 * "the server rejected ECH ..."), the ECHConfigList the server sent to retry
 * with (authenticated with the server's certificate for the public name),
 * valid until the socket is freed; NULL (and *len 0) otherwise, also if the
 * server sent none (then it has turned ECH off: retry without).  Useful with
 * handshake 0, where the socket outlives the failure. */
NS_API const unsigned char *ns_socket_ech_retry_configs(const ns_socket *s, size_t *len);
/* Decrypted bytes buffered and ready to read without touching the fd (0 for
 * plain sockets and NULL). */
NS_API int ns_socket_pending(const ns_socket *s);
/* 1 if the handshake resumed a session, else 0 (also for NULL, plain
 * sockets and before the handshake). */
NS_API int ns_socket_session_reused(const ns_socket *s);
/* Saves the client socket's newest resumable session (TLS 1.3: the last
 * ticket received, which arrives with the first data read) as bytes for
 * ns_options_add_session.  Returns the size it needs; copies it into buf
 * only if len is at least that (buf NULL asks for the size).  The bytes
 * hold the session's secret: store them as a private key.  NS_ERR_INVALID
 * for a server or plain socket, or with no resumable session yet. */
NS_API ssize_t ns_socket_save_session(ns_socket *s, void *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Event-driven I/O                                                    */
/* ------------------------------------------------------------------ */

/*
 * Opening a client without blocking (1.1).  ns_socket_connect_start begins
 * what ns_socket_connect does (a TLS client for TLS options, else plain)
 * and returns at once; ns_socket_connect_continue carries it on and returns
 * NS_OK once the socket is connected and, for TLS with handshake 1,
 * handshaken; NS_ERR_WOULD_BLOCK while it must wait (ns_socket_wants,
 * ns_socket_wants_fd and ns_socket_wants_timeout say for what, on which
 * descriptor, how long).  Every step goes through it:
 *  - name resolution, on a thread of the library's own (getaddrinfo, so
 *    /etc/hosts and every nsswitch module behave as usual; numeric
 *    addresses resolve at once without one);
 *  - connection attempts by Happy Eyeballs v2 (RFC 8305): addresses of both
 *    families (ai_family AF_UNSPEC) interleaved, IPv6 first; a further
 *    attempt every 250 ms while the earlier ones are pending, at once when
 *    one fails; the first to connect wins and the others are closed.  So
 *    an address that never answers costs 250 ms, not the whole timeout;
 *  - the TLS handshake.
 * The connection timeout bounds all of it, resolution included
 * (NS_ERR_CONNECT_TIMEOUT).  The blocking constructors run the same steps.
 * Until NS_OK the socket is opening: ns_socket_fd is -1, ns_socket_is_closed
 * 0, and other calls fail with NS_ERR_INVALID.  On any error the open is
 * over and the socket closed (free it).  After NS_OK non-blocking?,
 * read-timeout and write-timeout apply as for ns_socket_connect.
 * connect_start: NULL with NS_ERR_INVALID (NULL options, node or service,
 * AI_PASSIVE), NS_ERR_HOST_NOT_FOUND (a malformed numeric address with
 * AI_NUMERICHOST), NS_ERR_NOMEM, NS_ERR_IO; free the socket with
 * ns_socket_free (also mid-open: a pending resolution then finishes on
 * its own).  connect_continue: NS_ERR_HOST_NOT_FOUND, NS_ERR_CONNECT (the
 * message names every address tried and why it failed), the others of
 * ns_socket_connect; NS_OK again once open; NS_ERR_INVALID for NULL.
 */
NS_API ns_socket *ns_socket_connect_start(const ns_options *o, const char *node,
                                          const char *service);
NS_API int ns_socket_connect_continue(ns_socket *s);

/* STARTTLS (1.1): turns s, a connected plain socket (a client, or one
 * accepted by a plain server), into a TLS socket on the same connection,
 * the client side for TLS options and the server side for server TLS
 * options (their certificates, key, trust and handshake fields apply; the
 * socket keeps its own non-blocking?, timeouts and selector).  Bytes the
 * peer sent before its TLS must have been read first.  With handshake 1
 * the handshake runs now in the socket's mode (non-blocking:
 * NS_ERR_WOULD_BLOCK, continue with ns_socket_handshake); with 0, at the
 * first I/O.  A client checks the server against the first sni*, else the
 * node given to the constructor.  Errors: NS_ERR_INVALID (NULL, plain
 * options, already TLS, a listening or closed socket, a client side with
 * no name), those of ns_socket_handshake; on NS_ERR_INVALID nothing
 * changes. */
NS_API int ns_socket_start_tls(ns_socket *s, const ns_options *o);

/* Directions to wait for (ns_socket_wants), also a selector's interest bits. */
enum ns_want {
    NS_WANT_READ = 1,  /* wait until the fd is readable */
    NS_WANT_WRITE = 2  /* wait until the fd is writable */
};

/* After a call on s returned NS_ERR_WOULD_BLOCK (recv, send, handshake,
 * accept), the direction it must wait for before it is called again:
 * NS_WANT_READ or NS_WANT_WRITE (like libtls' TLS_WANT_POLLIN /
 * TLS_WANT_POLLOUT).  A TLS recv may want to write and a TLS send to read,
 * so wait for the direction said here, not the one the call suggests.
 * 0 after a call that did not return NS_ERR_WOULD_BLOCK, before any call,
 * and for NULL.  Cannot fail. */
NS_API int ns_socket_wants(const ns_socket *s);
/* The descriptor to wait on for ns_socket_wants' direction: ns_socket_fd(s)
 * except while an open started by ns_socket_connect_start is in progress.
 * -1 when nothing is pending, once closed, or for NULL.  Owned by the
 * socket: never close it.  Cannot fail. */
NS_API int ns_socket_wants_fd(const ns_socket *s);
/* Microseconds left until the deadline of the operation that returned
 * NS_ERR_WOULD_BLOCK: 0 once it has passed, negative when it has none or
 * nothing is pending (and for NULL).  Wait at most this long, then call the
 * operation again: for an open (connection-timeout) and a handshake (its
 * budget, see ns_socket_accept) the library then fails with the timeout
 * status; for recv (read-timeout), send (write-timeout) and accept
 * (read-timeout) it is the time a blocking call would have waited, and the
 * caller decides.  Cannot fail. */
NS_API int64_t ns_socket_wants_timeout(const ns_socket *s);

/* ------------------------------------------------------------------ */
/* Bindings support: interrupting blocking calls                       */
/* ------------------------------------------------------------------ */

/* Asked by the library, on the thread that set it, when a signal
 * interrupted one of its waits (EINTR): return non-zero to end the call,
 * 0 to keep waiting.  A language binding runs its signal handlers here
 * (e.g. Python's PyErr_CheckSignals under the GIL). */
typedef int (*ns_interrupt_check)(void *userdata);

/* Makes the blocking calls of the calling thread interruptible, until it
 * is set again: every wait inside connect (the wait for the name's
 * resolution included), the TLS handshake, send, send_all, recv and accept
 * also watches fd (if >= 0)
 * and ends when fd becomes readable; and after a signal (EINTR) it asks
 * check(userdata) (if check is not NULL), ending when that returns
 * non-zero.  An ended call fails with NS_ERR_IO and ns_last_os_error() ==
 * EINTR; the socket stays usable (what a TLS call already exchanged is
 * kept).  The library never reads, writes or closes fd: the caller makes
 * it readable to interrupt (e.g. an eventfd written from another thread
 * or a signal handler: async-signal-safe) and drains it before the next
 * call.  A plain blocking socket then waits with poll rather than in the
 * kernel's recv.  fd -1 and check NULL: calls are not interruptible (the
 * default; EINTR is retried).  Selector waits have ns_selector_interrupt.
 * Returns NS_OK; cannot fail. */
NS_API int ns_set_thread_interrupt(int fd, ns_interrupt_check check, void *userdata);

/* The certificate verifier and the key log callback a socket calls during
 * its handshakes (taken when it was made: from its options, an accepted
 * socket's from its listening socket) and held until it is freed, NULL if
 * none or for NULL; the userdata in *userdata if userdata is not NULL.
 * Later changes to the options do not change them.  A binding whose
 * garbage collector must reach the language callables a socket holds reads
 * them here (and an options object's with ns_options_get_certificate_verifier
 * and ns_options_get_key_log_callback), so a callable that captures its own
 * options or socket is collected with them. */
NS_API ns_certificate_verifier ns_socket_get_certificate_verifier(const ns_socket *s,
                                                                  void **userdata);
NS_API ns_key_log_callback ns_socket_get_key_log_callback(const ns_socket *s, void **userdata);

/* ------------------------------------------------------------------ */
/* Selector                                                            */
/* ------------------------------------------------------------------ */

typedef struct ns_selector ns_selector;

/* A new selector (epoll + eventfd), owned by the caller: free it with
 * ns_selector_free.  NULL with NS_ERR_NOMEM, or NS_ERR_IO when the OS refuses
 * (e.g. out of file descriptors). */
NS_API ns_selector *ns_selector_new(void);
/* Frees the selector; sockets still in it are left open and unwatched (and
 * may be added to another selector).  NULL is a no-op.  Must not run while
 * another thread waits on it. */
NS_API void ns_selector_free(ns_selector *sel);
/* Watches s once: it is reported when readable (a TLS socket with bytes
 * buffered that a recv can use at once, but not a partial record alone) or
 * when timeout_us passes (negative: never), then leaves the selector.  A socket is in at most one selector at a time;
 * adding it again replaces its timeout and data.  Closing or freeing a
 * socket removes it.  The selector does not own s or data: data is handed
 * back as is.  Errors: NS_ERR_INVALID (NULL, s in another selector),
 * NS_ERR_CLOSED (s closed), NS_ERR_NOMEM. */
NS_API int ns_selector_add(ns_selector *sel, ns_socket *s, int64_t timeout_us, void *data);
/* Watches s until it is removed, closed or freed (or the selector freed):
 * each wait reports it while it is ready for `interest` (NS_WANT_READ,
 * NS_WANT_WRITE or both; level-triggered, like poll), and
 * ns_selector_event_ready says for which.  Readable means a recv can make
 * progress: for TLS, decrypted bytes or a whole record buffered count, a
 * partial record does not (it waits for the rest on the fd).  timeout_us
 * (negative: none) is an idle timeout: it restarts at each event of s, and
 * when it passes s is reported once as timed out, then watched without one.
 * The selector owns data if release is not NULL: release(data) is called
 * exactly once, when s leaves the selector, when a later watch of s passes
 * other data, or when this call fails (also for NULL handles; but a failed
 * call leaves a watched s as it was, and data s is already watched with
 * stays the selector's until s leaves).  release
 * runs on the thread that causes it and must not free s or use sel.
 * Watching s again (or after ns_selector_add) changes its interest,
 * timeout and data in place.  Errors: NS_ERR_INVALID (NULL, a bad interest,
 * s in another selector), NS_ERR_CLOSED, NS_ERR_NOMEM. */
NS_API int ns_selector_watch(ns_selector *sel, ns_socket *s, int interest, int64_t timeout_us,
                             void *data, ns_release_function release);
/* The data s is watched with in sel (ns_selector_add or _watch), still
 * owned as it was given; NULL if s is not in sel, or for NULL. */
NS_API void *ns_selector_data(const ns_selector *sel, const ns_socket *s);
/* Stops watching s (no event is reported for it).  NS_ERR_INVALID if either
 * is NULL or s is not in sel. */
NS_API int ns_selector_remove(ns_selector *sel, ns_socket *s);
/* Waits up to timeout_us (negative: no limit) for events; returns their
 * number (0 when the wait timed out or was interrupted).  The events stay
 * readable until the next wait; their sockets have left the selector.
 * Errors: NS_ERR_INVALID (NULL), NS_ERR_IO (epoll failed), NS_ERR_NOMEM.
 * One thread waits on a selector at a time. */
NS_API int ns_selector_wait(ns_selector *sel, int64_t timeout_us);
/* Event i (0 <= i < the last wait's result): its socket (not owned by the
 * selector) and the data given to ns_selector_add.  NULL if out of range. */
NS_API ns_socket *ns_selector_event_socket(const ns_selector *sel, int i);
NS_API void *ns_selector_event_data(const ns_selector *sel, int i);
/* 1 if event i is a timeout rather than readiness; 0 if not or out of range. */
NS_API int ns_selector_event_timed_out(const ns_selector *sel, int i);
/* What event i is ready for: NS_WANT_READ and/or NS_WANT_WRITE, within the
 * socket's interest (a hang-up or error sets every bit of it, so the next
 * call reports the cause); 0 for a timeout or out of range.  Events of
 * ns_selector_add say NS_WANT_READ.  The event's data stays valid while its
 * socket is in the selector. */
NS_API int ns_selector_event_ready(const ns_selector *sel, int i);
/* Wakes a wait in progress (or the next one) from any thread; that wait
 * returns 0.  NS_ERR_INVALID for NULL, NS_ERR_IO if the eventfd fails. */
NS_API int ns_selector_interrupt(ns_selector *sel);
/* The number of sockets being watched (0 for NULL). */
NS_API size_t ns_selector_count(const ns_selector *sel);

#ifdef __cplusplus
}
#endif

#endif /* SWIG */

#endif /* NETSOCKET_H */
