/* Ruby idioms on top of netsocket.i: the Netsocket::Error tree and the GC
 * root of verifier procs.  Builders, predicates and block forms are in
 * lib/netsocket.rb. */

%init %{
{
    static const struct { int status; const char *name; } errs[] = {
        { NS_ERR_INVALID, "ValueError" },
        { NS_ERR_NOMEM, "MemoryError" },
        { NS_ERR_HOST_NOT_FOUND, "HostNotFoundError" },
        { NS_ERR_CONNECT, "SocketConnectionError" },
        { NS_ERR_CONNECT_TIMEOUT, "ConnectTimeoutError" },
        { NS_ERR_READ_TIMEOUT, "SocketReadTimeoutError" },
        { NS_ERR_WOULD_BLOCK, "WouldBlockError" },
        { NS_ERR_CLOSED, "SocketClosedError" },
        { NS_ERR_TLS, "TLSError" },
        { NS_ERR_CERTIFICATE, "CertificateError" },
    };
    VALUE base = rb_define_class_under(mNetsocket, "Error", rb_eStandardError);
    rb_define_attr(base, "status", 1, 0);
    rb_define_attr(base, "code", 1, 0);
    rb_define_attr(base, "os_error", 1, 0);
    nsb_rb_errors[0] = base;
    nsb_rb_errors[-NS_ERR_IO] = base;
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        VALUE parent = errs[i].status == NS_ERR_CERTIFICATE ? nsb_rb_errors[-NS_ERR_TLS] : base;
        nsb_rb_errors[-errs[i].status] = rb_define_class_under(mNetsocket, errs[i].name, parent);
    }
    rb_gc_register_mark_object(TypedData_Wrap_Struct(rb_cObject, &nsb_rb_keeper_type, &nsb_rb_boxes));
}
%}
