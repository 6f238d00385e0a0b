/* Python runtime for netsocket.i: blocking calls without the GIL, the
 * verifier trampoline (GIL re-acquired, exceptions caught), raising the
 * exception classes made in netsocket_python.i, and typemaps for the glue
 * types.  The idioms on top are in netsocket_python.i. */

%feature("compactdefaultargs");
%feature("kwargs"); /* every argument may be given by name */

%{
#define NSB_FREED(what) do { PyErr_SetString(PyExc_ValueError, "netsocket: this " what " was freed"); SWIG_fail; } while (0)
#define NSB_VALUE_ERROR(msg) do { PyErr_SetString(PyExc_ValueError, msg); SWIG_fail; } while (0)
%}
/* The destructor (also reachable as the raw _netsocket.delete_*) releases
 * the handle: it disowns and clears the proxy's pointer, so a second call
 * or any later use raises (NSB_FREED) instead of freeing twice. */
%typemap(in, noblock=1) nsb_options *self (void *argp = 0, int res = 0),
                        nsb_socket *self (void *argp = 0, int res = 0),
                        nsb_selector *self (void *argp = 0, int res = 0) {
  res = SWIG_ConvertPtr($input, &argp, $descriptor, ($disown) ? SWIG_POINTER_RELEASE : 0);
  if (res == SWIG_ERROR_RELEASE_NOT_OWNED) NSB_FREED("handle");
  if (!SWIG_IsOK(res)) { %argument_fail(res, "$type", $symname, $argnum); }
  $1 = ($ltype)argp;
}

%{
/* Asked by the library when a signal interrupts one of its waits: runs
 * Python's signal handlers (PEP 475).  If one raised (KeyboardInterrupt,
 * a SIGTERM handler's SystemExit), the call ends and that exception
 * propagates; otherwise the wait goes on. */
static int nsb_py_signalled(void *unused)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int raised = PyErr_CheckSignals() < 0;
    PyGILState_Release(g);
    return raised;
}

static void nsb_unlocked(nsb_call *c)
{
    static __thread int interruptible;
    if (!interruptible) { /* once per thread: the setting is per thread */
        ns_set_thread_interrupt(-1, nsb_py_signalled, NULL);
        interruptible = 1;
    }
    Py_BEGIN_ALLOW_THREADS
    nsb_run(c);
    Py_END_ALLOW_THREADS
}

/* userdata is a strong reference to the callable. */
static int nsb_verify(void *userdata, int depth, int preverify_error,
                      const unsigned char *der, size_t der_len)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int ok = 0;
    PyObject *r = PyObject_CallFunction((PyObject *)userdata, "iiy#", depth, preverify_error,
                                        (const char *)der, (Py_ssize_t)der_len);
    if (r == Py_True || r == Py_False) {
        ok = r == Py_True;
    } else if (r != NULL) { /* only a bool decides: anything else rejects */
        PyObject *text = PyUnicode_FromFormat("%R (%s)", r, Py_TYPE(r)->tp_name);
        nsb_note_verifier_returned(text ? PyUnicode_AsUTF8(text) : NULL, "True or False");
        Py_XDECREF(text);
        PyErr_Clear();
    }
    Py_XDECREF(r);
    if (PyErr_Occurred()) { /* an exception in the verifier rejects */
        PyObject *type, *value, *tb, *text;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        text = value ? PyObject_Repr(value) : NULL;
        nsb_note_verifier_raised(text ? PyUnicode_AsUTF8(text) : NULL);
        Py_XDECREF(text);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        PyErr_Clear();
        ok = 0;
    }
    PyGILState_Release(g);
    return ok;
}

static void nsb_key_log(void *userdata, const char *line)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = PyObject_CallFunction((PyObject *)userdata, "s", line);
    Py_XDECREF(r);
    if (r == NULL)
        PyErr_WriteUnraisable((PyObject *)userdata);
    PyGILState_Release(g);
}

static void nsb_release(void *userdata)
{
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)userdata);
    PyGILState_Release(g);
}

/* The exception class of each row of nsb_statuses (made at import by
 * netsocket_python.i); row 0 (NS_OK) holds the base class netsocket.Error. */
static PyObject *nsb_py_errors[NSB_STATUS_COUNT];

/* Files that cannot be opened: the status's class with the OSError
 * subclass Python programs catch for that errno mixed in (made at import
 * by netsocket_python.i, named after the builtin: netsocket.FileNotFoundError). */
static struct { int os_error; PyObject **builtin; const char *name; PyObject *cls; } nsb_py_file_errors[] = {
    { ENOENT, &PyExc_FileNotFoundError, "FileNotFoundError", NULL },
    { EACCES, &PyExc_PermissionError, "PermissionError", NULL },
};

static PyObject *nsb_py_error_class(int status)
{
    int i = nsb_status_index(status);
    if (status == NS_ERR_INVALID)
        for (size_t j = 0; j < sizeof nsb_py_file_errors / sizeof nsb_py_file_errors[0]; j++)
            if (nsb_py_file_errors[j].os_error == nsb_err.os_error && nsb_py_file_errors[j].cls)
                return nsb_py_file_errors[j].cls;
    return i > 0 && nsb_py_errors[i] ? nsb_py_errors[i] : nsb_py_errors[0];
}

/* verify_code, verify_message, alert (its name), alert_code, alert_sent:
 * the TLS failure's details, None when there are none. */
static void nsb_py_set_tls_details(PyObject *e)
{
    int v = nsb_err.verify_code, a = nsb_err.alert;
    PyObject *values[5] = {
        v ? PyLong_FromLong(v) : Py_NewRef(Py_None),
        v ? PyUnicode_FromString(nsb_err.verify_message) : Py_NewRef(Py_None),
        a >= 0 ? PyUnicode_FromString(ns_tls_alert_name(a)) : Py_NewRef(Py_None),
        a >= 0 ? PyLong_FromLong(a) : Py_NewRef(Py_None),
        a >= 0 ? PyBool_FromLong(nsb_err.alert_sent) : Py_NewRef(Py_None),
    };
    static const char *const names[5] = { "verify_code", "verify_message", "alert", "alert_code",
                                           "alert_sent" };
    for (int i = 0; i < 5; i++) {
        if (values[i])
            PyObject_SetAttrString(e, names[i], values[i]);
        Py_XDECREF(values[i]);
    }
}

static void nsb_raise(void)
{
    int st = nsb_err.status;
    PyObject *cls = nsb_py_error_class(st);
    PyObject *e = PyObject_CallFunction(cls, "s", nsb_err.message);
    nsb_err.status = 0;
    if (e == NULL)
        return;
    PyObject *name = PyUnicode_FromString(ns_status_name(st));
    PyObject *code = PyLong_FromLong(st);
    if (name) PyObject_SetAttrString(e, "status", name);
    if (code) PyObject_SetAttrString(e, "code", code);
    if (st == NS_ERR_WOULD_BLOCK) { /* which way to wait: NS_WANT_READ or NS_WANT_WRITE */
        PyObject *want = PyLong_FromLong(nsb_err.want);
        if (want) PyObject_SetAttrString(e, "wants", want);
        Py_XDECREF(want);
    }
    if (nsb_err.os_error) {
        PyObject *os = PyLong_FromLong(nsb_err.os_error);
        if (os) PyObject_SetAttrString(e, "errno", os);
        Py_XDECREF(os);
    }
    Py_XDECREF(name);
    Py_XDECREF(code);
    nsb_py_set_tls_details(e);
    PyErr_Clear();
    PyErr_SetObject(cls, e);
    Py_DECREF(e);
}
%}

/* SWIG's argument errors, reworded (netsocket_argerrors.i). */
%{
static void nsb_py_arg_error(int code, const char *swig_msg, PyObject *given)
{
    char wrapper[96], ctype[64], method[128], text[320];
    int argn, is_method;
    if (sscanf(swig_msg, "in method '%95[^']', argument %d of type '%63[^']'", wrapper, &argn, ctype) != 3) {
        SWIG_Error(code, swig_msg);
        return;
    }
    nsb_arg_method_name(method, sizeof method, NSB_PYTHON, wrapper, &is_method);
    nsb_arg_error_text(text, sizeof text, NSB_PYTHON, method, argn - is_method, ctype,
                       given ? Py_TYPE(given)->tp_name : NULL);
    SWIG_Error(code, text);
}
#undef SWIG_exception_fail
#define SWIG_exception_fail(code, msg) do { nsb_py_arg_error(code, msg, NULL); SWIG_fail; } while (0)

/* OverflowError for a timeout beyond int64 (nsb_timeout_overflow_text). */
static void nsb_py_timeout_overflow(const char *wrapper, const char *param, PyObject *given)
{
    char method[128], text[400];
    int is_method;
    PyObject *repr = PyObject_Str(given);
    nsb_arg_method_name(method, sizeof method - 2, NSB_PYTHON, wrapper, &is_method);
    strcat(method, "()");
    nsb_timeout_overflow_text(text, sizeof text, method, param, repr ? PyUnicode_AsUTF8(repr) : "?");
    Py_XDECREF(repr);
    PyErr_SetString(PyExc_OverflowError, text);
}
%}

/* SWIG's conversion, with the overflow message naming the unit and range. */
%typemap(in, fragment=SWIG_AsVal_frag(long long)) int64_t (long long v, int res) {
    res = SWIG_AsVal(long long)($input, &v);
    if (res == SWIG_OverflowError) {
        nsb_py_timeout_overflow("$symname", "$1_name", $input);
        SWIG_fail;
    }
    if (!SWIG_IsOK(res)) {
        %argument_fail(res, "$type", $symname, $argnum);
    }
    $1 = (int64_t)v;
}

%exception {
    nsb_err.status = 0;
    nsb_err.verifier_raised[0] = '\0';
    $action
    if (nsb_err.status) {
        if (PyErr_Occurred()) /* a signal handler raised during the call: that propagates */
            nsb_err.status = 0;
        else
            nsb_raise();
        SWIG_fail;
    }
}

/* Bytes in: anything with the buffer protocol; pem also takes str. */
%define NSB_PY_DATA(NAME, LENGTH)
%typemap(in) (const void *NAME, size_t LENGTH) (Py_buffer view, int have = 0) {
    if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0) SWIG_fail;
    have = 1;
    $1 = view.buf;
    $2 = (size_t)view.len;
}
%typemap(freearg) (const void *NAME, size_t LENGTH) { if (have$argnum) PyBuffer_Release(&view$argnum); }
%typemap(typecheck) (const void *NAME, size_t LENGTH) { $1 = PyObject_CheckBuffer($input); }
%enddef
%define NSB_PY_PEM(NAME, LENGTH)
%typemap(in) (const void *NAME, size_t LENGTH) (Py_buffer view, int have = 0) {
    if (PyUnicode_Check($input)) {
        Py_ssize_t n;
        $1 = (void *)PyUnicode_AsUTF8AndSize($input, &n);
        if ($1 == NULL) SWIG_fail;
        $2 = (size_t)n;
    } else {
        if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0) SWIG_fail;
        have = 1;
        $1 = view.buf;
        $2 = (size_t)view.len;
    }
}
%typemap(freearg) (const void *NAME, size_t LENGTH) { if (have$argnum) PyBuffer_Release(&view$argnum); }
%enddef
NSB_PY_DATA(data, LEN)
NSB_PY_DATA(config, CONFLEN)
NSB_PY_PEM(pem, LEN)
NSB_PY_PEM(chain, LEN)
NSB_PY_PEM(key, KEYLEN)
/* A password: bytes or str, a callable returning one (asked now, when
 * the key is loaded), or None (none given). */
%typemap(in) (const void *password, size_t PWLEN) (Py_buffer view, int have = 0, PyObject *got = NULL) {
    PyObject *v = $input;
    if (v != Py_None && PyCallable_Check(v)) {
        if ((got = PyObject_CallNoArgs(v)) == NULL) SWIG_fail;
        v = got;
    }
    if (v == Py_None) {
        $1 = NULL;
        $2 = 0;
    } else if (PyUnicode_Check(v)) {
        Py_ssize_t n;
        $1 = (void *)PyUnicode_AsUTF8AndSize(v, &n);
        if ($1 == NULL) SWIG_fail;
        $2 = (size_t)n;
    } else {
        if (PyObject_GetBuffer(v, &view, PyBUF_SIMPLE) < 0) SWIG_fail;
        have = 1;
        $1 = view.buf;
        $2 = (size_t)view.len;
    }
}
%typemap(freearg) (const void *password, size_t PWLEN) {
    if (have$argnum) PyBuffer_Release(&view$argnum);
    Py_XDECREF(got$argnum);
}
%typemap(in) (void *buffer, size_t LEN) (Py_buffer view, int have = 0) {
    if (PyObject_GetBuffer($input, &view, PyBUF_WRITABLE) < 0) SWIG_fail;
    have = 1;
    $1 = view.buf;
    $2 = (size_t)view.len;
}
%typemap(freearg) (void *buffer, size_t LEN) { if (have$argnum) PyBuffer_Release(&view$argnum); }
%typemap(out) nsb_bytes {
    if ($1.none) {
        $result = Py_None;
        Py_INCREF(Py_None);
    } else {
        $result = PyBytes_FromStringAndSize((const char *)$1.data, (Py_ssize_t)$1.len);
    }
    free($1.data);
    if ($result == NULL) SWIG_fail;
}
%typemap(out) nsb_list {
    $result = PyList_New((Py_ssize_t)$1.n);
    for (size_t i = 0; $result && i < $1.n; i++) {
        PyObject *item = $1.text ? PyUnicode_FromStringAndSize((const char *)$1.items[i], (Py_ssize_t)$1.lens[i])
                                 : PyBytes_FromStringAndSize((const char *)$1.items[i], (Py_ssize_t)$1.lens[i]);
        if (item == NULL) { Py_CLEAR($result); break; }
        PyList_SET_ITEM($result, (Py_ssize_t)i, item);
    }
    free($1.items);
    free($1.lens);
    if ($result == NULL) SWIG_fail;
}
%typemap(out) nsb_addr { $result = Py_BuildValue("(si)", $1.ip, $1.port); }
%typemap(in) nsb_callable {
    if ($input == Py_None) {
        $1 = NULL;
    } else if (!PyCallable_Check($input)) {
        PyErr_SetString(PyExc_TypeError, "expected a callable or None");
        SWIG_fail;
    } else {
        Py_INCREF($input);
        $1 = $input;
    }
}
%typemap(out) nsb_callable, nsb_value { $result = $1 ? (PyObject *)$1 : Py_None; Py_INCREF($result); }
%typemap(in) nsb_value { Py_INCREF($input); $1 = $input; }
/* Flags: any truthy object. */
%typemap(in) int on { int t = PyObject_IsTrue($input); if (t < 0) SWIG_fail; $1 = t; }
%typemap(typecheck, precedence=SWIG_TYPECHECK_BOOL) int on { $1 = 1; }
/* A service is a name or a port number. */
%typemap(in) const char *service (char buf[32]) {
    if (PyLong_Check($input)) {
        long port = PyLong_AsLong($input); /* C refuses what is not a port */
        if (port == -1 && PyErr_Occurred()) SWIG_fail;
        snprintf(buf, sizeof buf, "%ld", port);
        $1 = buf;
    } else if (PyUnicode_Check($input)) {
        Py_ssize_t n = 0;
        $1 = (char *)PyUnicode_AsUTF8AndSize($input, &n);
        if ($1 == NULL) SWIG_fail;
        if (strlen($1) != (size_t)n) NSB_VALUE_ERROR(NSB_NUL_MESSAGE);
    } else {
        PyErr_SetString(PyExc_TypeError, "service must be a str or an int");
        SWIG_fail;
    }
}
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING) const char *service {
    $1 = PyLong_Check($input) || PyUnicode_Check($input);
}
/* Predicates take any object. */
%typemap(in) const nsb_options *obj { if (!SWIG_IsOK(SWIG_ConvertPtr($input, (void **)&$1, $descriptor(nsb_options *), 0))) $1 = NULL; }
/* option_fields(): a list of (field, method, kinds, kinds described, type described, is a list). */
%typemap(out) nsb_fields {
    $result = PyList_New((Py_ssize_t)$1.n);
    for (size_t i = 0; $result && i < $1.n; i++) {
        const nsb_field *f = &$1.rows[i];
        PyObject *row = Py_BuildValue("(ssIssO)", f->field, f->method, f->kinds, f->kinds_text,
                                      f->type_text, f->is_list ? Py_True : Py_False);
        if (row == NULL) { Py_CLEAR($result); break; }
        PyList_SET_ITEM($result, (Py_ssize_t)i, row);
    }
    if ($result == NULL) SWIG_fail;
}
