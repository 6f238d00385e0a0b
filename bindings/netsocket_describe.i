/* describe(): the text that Python's repr, Ruby's inspect and Lua's
 * tostring show for options, sockets and selectors — what the object is,
 * never a SWIG type or pointer.  Each language puts its own brackets around
 * it (<netsocket.Options ...>, #<Netsocket::Options ...>, netsocket.Options<...>).
 * Included from netsocket.i; the caller frees the string (%newobject). */

%{
static const char *nsb_kind_name(ns_options_kind kind)
{
    switch (kind) {
    case NS_SOCKET_OPTIONS: return "socket";
    case NS_TLS_SOCKET_OPTIONS: return "tls";
    case NS_SERVER_TLS_SOCKET_OPTIONS: return "server_tls";
    }
    return "unknown";
}

static void nsb_describe_timeout(FILE *f, const char *name, int64_t us)
{
    if (us < 0)
        fprintf(f, " %s=none", name);
    else
        fprintf(f, " %s=%lldus", name, (long long)us);
}

static void nsb_describe_names(FILE *f, const char *name, size_t n, const char *(*get)(const ns_options *, size_t),
                               const ns_options *o)
{
    fprintf(f, " %s=[", name);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", get(o, i));
    fputc(']', f);
}

/* A malloc'ed string, or NULL (out of memory: the language shows nothing more). */
static char *nsb_describe_end(FILE *f, char **text)
{
    if (fclose(f) != 0) { /* *text is set by fclose */
        free(*text);
        return NULL;
    }
    return *text;
}

static char *nsb_describe_options(const ns_options *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ns_options_kind kind = ns_options_kind_of(o);
    void *userdata;
    if (f == NULL)
        return NULL;
    fprintf(f, "kind=%s non_blocking=%s", nsb_kind_name(kind), ns_options_get_non_blocking(o) ? "true" : "false");
    nsb_describe_timeout(f, "connection_timeout", ns_options_get_connection_timeout(o));
    nsb_describe_timeout(f, "read_timeout", ns_options_get_read_timeout(o));
    if (kind != NS_SOCKET_OPTIONS) {
        fprintf(f, " handshake=%s", ns_options_get_handshake(o) ? "true" : "false");
        nsb_describe_names(f, "alpn", ns_options_alpn_count(o), ns_options_get_alpn, o);
        if (kind == NS_TLS_SOCKET_OPTIONS)
            nsb_describe_names(f, "sni", ns_options_sni_count(o), ns_options_get_sni, o);
        fprintf(f, " certificates=%zu private_key=%s trusted_certificates=%zu verifier=%s",
                ns_options_certificate_count(o), ns_options_has_private_key(o) ? "yes" : "no",
                ns_options_trusted_certificate_count(o),
                ns_options_get_certificate_verifier(o, &userdata) ? "yes" : "no");
        if (kind == NS_SERVER_TLS_SOCKET_OPTIONS)
            fprintf(f, " client_certificate_required=%s",
                    ns_options_get_client_certificate_required(o) ? "true" : "false");
    }
    return nsb_describe_end(f, &text);
}

/* "fd=5 tls=TLSv1.3 local=127.0.0.1:50000 peer=127.0.0.1:4433", "tls closed";
 * "listening" when there is no peer (a server socket). */
static char *nsb_describe_socket(const ns_socket *s)
{
    char *text = NULL, ip[64];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return NULL;
    if (ns_socket_is_closed(s)) {
        fputs(ns_socket_is_tls(s) ? "tls closed" : "closed", f);
        return nsb_describe_end(f, &text);
    }
    fprintf(f, "fd=%d", ns_socket_fd(s));
    if (ns_socket_is_tls(s)) {
        const char *version = ns_socket_tls_version(s);
        fprintf(f, version ? " tls=%s" : " tls", version); /* no version before the handshake */
    }
    if (ns_socket_local_address(s, ip, sizeof ip) == NS_OK)
        fprintf(f, strchr(ip, ':') ? " local=[%s]:%d" : " local=%s:%d", ip, ns_socket_local_port(s));
    if (ns_socket_peer_address(s, ip, sizeof ip) == NS_OK)
        fprintf(f, strchr(ip, ':') ? " peer=[%s]:%d" : " peer=%s:%d", ip, ns_socket_peer_port(s));
    else
        fputs(" listening", f);
    return nsb_describe_end(f, &text);
}

static char *nsb_describe_selector(const ns_selector *sel)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return NULL;
    fprintf(f, "sockets=%zu", ns_selector_count(sel));
    return nsb_describe_end(f, &text);
}
%}

%newobject nsb_options::describe;
%newobject nsb_socket::describe;
%newobject nsb_selector::describe;
%extend nsb_options { char *describe() { return nsb_describe_options($self); } }
%extend nsb_socket { char *describe() { return nsb_describe_socket($self); } }
%extend nsb_selector { char *describe() { return nsb_describe_selector($self); } }
