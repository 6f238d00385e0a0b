/* The per-thread error state, status names and the version. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "internal.h"
#include "ns_version.h"

#define NS_MESSAGE_MAX 1024

static _Thread_local int last_status;
static _Thread_local int last_os_error;
static _Thread_local char last_message[NS_MESSAGE_MAX];
/* A TLS failure's details (ns_tls_note_failure); reset by every failure. */
static _Thread_local int last_verify_code;
static _Thread_local int last_alert = -1;
static _Thread_local int last_alert_sent;

const char *ns_status_name(int status)
{
    switch (status) {
#define NS_STATUS_CASE_(name, value, cls, parent, doc) \
    case value:                                        \
        return #name;
        NS_STATUS_MAP(NS_STATUS_CASE_)
#undef NS_STATUS_CASE_
    }
    return "NS_ERR_UNKNOWN";
}

int ns_last_status(void) { return last_status; }
const char *ns_last_error(void) { return last_message; }
int ns_last_os_error(void) { return last_os_error; }

int ns_last_verify_code(void) { return last_verify_code; }
const char *ns_last_verify_message(void)
{
    return last_verify_code ? X509_verify_cert_error_string(last_verify_code) : "";
}
int ns_last_tls_alert(void) { return last_alert; }
int ns_last_tls_alert_sent(void) { return last_alert >= 0 && last_alert_sent; }

void ns_set_tls_details(int verify_code, int alert, int alert_sent)
{
    last_verify_code = verify_code;
    last_alert = alert;
    last_alert_sent = alert_sent;
}

void ns_clear_error(void)
{
    last_status = NS_OK;
    last_os_error = 0;
    last_message[0] = '\0';
    ns_set_tls_details(0, -1, 0);
}

/* `fmt` may name ns_last_error() itself as an argument: the message is
 * formatted into a scratch buffer first (vsnprintf into its own source is
 * undefined, and gave an empty message). */
static int record(int status, int os_error, const char *fmt, va_list ap)
{
    char message[NS_MESSAGE_MAX];
    vsnprintf(message, sizeof message, fmt, ap);
    memcpy(last_message, message, strlen(message) + 1);
    last_status = status;
    last_os_error = os_error;
    ns_set_tls_details(0, -1, 0);
    return status;
}

int ns_fail(int status, int os_error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(status, os_error, fmt, ap);
    va_end(ap);
    return status;
}

uint32_t ns_ssl_take_errors(int *out_of_memory)
{
    uint32_t first = 0, e;
    *out_of_memory = 0;
    while ((e = ERR_get_error()) != 0) {
        if (first == 0)
            first = e;
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
            *out_of_memory = 1;
    }
    return first;
}

int ns_fail_ssl(int status, const char *fmt, ...)
{
    int oom;
    uint32_t e = ns_ssl_take_errors(&oom);
    va_list ap;
    va_start(ap, fmt);
    /* A parse or setup that failed for want of memory is NS_ERR_NOMEM,
     * whatever the caller expected to go wrong. */
    record(oom ? NS_ERR_NOMEM : status, oom ? ENOMEM : 0, fmt, ap);
    va_end(ap);
    /* Append the first BoringSSL reason; the queue is now empty, so a
     * later failure does not report a stale one. */
    if (oom || e != 0) {
        size_t used = strlen(last_message);
        const char *reason = oom ? "out of memory" : ERR_reason_error_string(e);
        snprintf(last_message + used, sizeof last_message - used, ": %s",
                 reason ? reason : "unknown error");
    }
    return last_status;
}

int ns_status_from_errno(int err)
{
    switch (err) {
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN:
    case ECONNABORTED:
    case EBADF:
        return NS_ERR_CLOSED;
    case EAGAIN:
        return NS_ERR_WOULD_BLOCK;
    case ENOMEM:
    case ENOBUFS:
        return NS_ERR_NOMEM;
    case ETIMEDOUT:
        return NS_ERR_READ_TIMEOUT;
    default:
        return NS_ERR_IO;
    }
}

const char *ns_version(void) { return NS_BUILD_VERSION_STRING; }

unsigned ns_version_number(void)
{
    return ((unsigned)NS_BUILD_VERSION_MAJOR << 16) | ((unsigned)NS_BUILD_VERSION_MINOR << 8) |
           (unsigned)NS_BUILD_VERSION_PATCH;
}
