/* Ruby runtime for netsocket.i: blocking calls without the GVL, the
 * verifier trampoline (GVL re-acquired, exceptions caught), the
 * Netsocket::Error tree, and typemaps for the glue types.  Builders,
 * predicates and block forms are in lib/netsocket.rb. */

%feature("compactdefaultargs");
/* Options mark the language callables they hold (see nsb_rb_hold). */
%markfunc nsb_options "nsb_rb_mark_options";

%{
/* Ruby frees handles only from the GC: never reached, kept for netsocket.i. */
#define NSB_FREED(what) rb_raise(rb_eArgError, "netsocket: this " what " was freed")
#define NSB_VALUE_ERROR(msg) rb_raise(rb_eArgError, "%s", msg)
%}

%{
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <ruby/thread.h>

/* Non-zero while this thread runs netsocket code without the GVL. */
static __thread int nsb_rb_unlocked;

static void *nsb_rb_run(void *p)
{
    ((nsb_call *)p)->ran = 1;
    nsb_run((nsb_call *)p);
    return NULL;
}

/* Interrupting blocked calls.  Ruby calls the unblocking function when it
 * wants a thread back: Thread#kill or #raise, interpreter exit, or a
 * signal for the main thread.  A selector wait is woken through the
 * selector; any other call through this thread's eventfd, which the
 * library watches in every wait (ns_set_thread_interrupt).  The call then
 * ends (NS_ERR_IO, EINTR) with its socket still usable.  rb_nogvl never
 * raises here (RB_NOGVL_INTR_FAIL: it skips the call if an interrupt is
 * already pending): the interrupt is processed under rb_protect, and kill,
 * raise or a trap that raises propagate from the wrapper's %exception,
 * after the C side let go of what it holds (recv's buffer).  After a trap
 * that returns, the call is made again. */
static pthread_key_t nsb_rb_wake_key;
static pthread_once_t nsb_rb_wake_once = PTHREAD_ONCE_INIT;
static __thread int nsb_rb_wake = -1;
static __thread int nsb_rb_jump; /* a tag from the interrupt, re-thrown by %exception */

static void nsb_rb_wake_close(void *fd) { close((int)(intptr_t)fd - 1); }
static void nsb_rb_wake_key_make(void) { pthread_key_create(&nsb_rb_wake_key, nsb_rb_wake_close); }

/* This thread's eventfd (made on first use, closed at thread exit). */
static int nsb_rb_wake_fd(void)
{
    if (nsb_rb_wake < 0) {
        pthread_once(&nsb_rb_wake_once, nsb_rb_wake_key_make);
        nsb_rb_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (nsb_rb_wake < 0)
            return -1; /* out of descriptors: calls stay uninterruptible */
        pthread_setspecific(nsb_rb_wake_key, (void *)(intptr_t)(nsb_rb_wake + 1));
        ns_set_thread_interrupt(nsb_rb_wake, NULL, NULL);
    }
    return nsb_rb_wake;
}

/* Async-signal-safe (one write): Ruby may call it from a signal handler. */
static void nsb_rb_ubf(void *p)
{
    nsb_call *c = (nsb_call *)p;
    uint64_t one = 1;
    c->woken = 1;
    if (c->sel) {
        ns_selector_interrupt(c->sel);
    } else if (c->wake_fd >= 0) {
        if (write(c->wake_fd, &one, sizeof one) < 0) { /* full: already readable */ }
    }
}

/* Did the call end because the unblocking function interrupted it?  (A
 * selector wait woken this way returns its events, if any.) */
static int nsb_rb_was_interrupted(const nsb_call *c)
{
    int makes = c->op == NSB_CLIENT || c->op == NSB_CLIENT_TLS || c->op == NSB_CONNECT || c->op == NSB_ACCEPT;
    int failed = makes ? c->made == NULL : c->r < 0;
    if (c->sel)
        return 1;
    return failed && ns_last_status() == NS_ERR_IO && ns_last_os_error() == EINTR;
}

static VALUE nsb_rb_check_ints(VALUE unused)
{
    rb_thread_check_ints();
    return Qnil;
}

static void nsb_rb_unlocked_loop(nsb_call *c, int prev);

static void nsb_rb_constructing_add(int delta);

static void nsb_unlocked(nsb_call *c)
{
    int prev = nsb_rb_unlocked;
    int constructs = c->op == NSB_CLIENT || c->op == NSB_CLIENT_TLS || c->op == NSB_CONNECT;
    c->wake_fd = c->sel ? -1 : nsb_rb_wake_fd();
    if (constructs)
        nsb_rb_constructing_add(+1);
    nsb_rb_unlocked_loop(c, prev);
    if (constructs)
        nsb_rb_constructing_add(-1);
}

static void nsb_rb_unlocked_loop(nsb_call *c, int prev)
{
    for (;;) {
        uint64_t drained;
        int state = 0;
        c->woken = 0;
        c->ran = 0;
        nsb_rb_unlocked = 1;
        /* The unblocking function only writes an eventfd:
         * async-signal-safe.  Saying so stops Ruby from starting a helper
         * thread for every blocking call in a single-threaded program
         * (measured: 0.4x Ruby OpenSSL's bulk throughput without the flag). */
        rb_nogvl(nsb_rb_run, c, nsb_rb_ubf, c, RB_NOGVL_UBF_ASYNC_SAFE | RB_NOGVL_INTR_FAIL);
        nsb_rb_unlocked = prev;
        if (c->woken && c->wake_fd >= 0 && read(c->wake_fd, &drained, sizeof drained) < 0) { /* already drained */ }
        if (c->ran && (!c->woken || !nsb_rb_was_interrupted(c)))
            return; /* done (a late interrupt is processed at Ruby's next check) */
        rb_protect(nsb_rb_check_ints, Qnil, &state);
        if (state) {
            nsb_rb_jump = state;
            if (!c->ran) /* skipped: a failure, so the wrapper frees what it holds */
                c->r = NS_ERR_IO;
            return;
        }
        if (c->ran && c->sel)
            return; /* a trap that returned: the wait's events stand */
    }
}

/* Language callables live in boxes (so releasing one is plain C: it may
 * happen during GC or without the GVL), each marked by what holds it:
 * - a verifier or key log callback by the Options objects whose C options
 *   hold it (their mark function) and by the Socket objects made with it
 *   (a hidden instance variable, set when the Socket object is made), so
 *   a verifier block that captures its options or socket is garbage with
 *   them (options -> verifier -> block -> options has no global root);
 * - while a constructor runs without the GVL, it may take a callable the
 *   options held when it started and another thread replaced since: those
 *   are kept in `retired` until no constructor runs;
 * - a selector's values (pinned boxes) by one list registered with the GC. */
typedef struct nsb_rb_box { VALUE proc; int pinned; struct nsb_rb_box *prev, *next; } nsb_rb_box;
static nsb_rb_box nsb_rb_boxes = { Qnil, 1, &nsb_rb_boxes, &nsb_rb_boxes };
static pthread_mutex_t nsb_rb_lock = PTHREAD_MUTEX_INITIALIZER;
static VALUE nsb_rb_retired = Qnil; /* an Array, registered with the GC */
static long nsb_rb_constructing;     /* constructors running (changed with the GVL) */

static void nsb_rb_mark_boxes(void *unused)
{
    pthread_mutex_lock(&nsb_rb_lock);
    for (nsb_rb_box *b = nsb_rb_boxes.next; b != &nsb_rb_boxes; b = b->next)
        rb_gc_mark(b->proc);
    pthread_mutex_unlock(&nsb_rb_lock);
}

static const rb_data_type_t nsb_rb_keeper_type = {
    "netsocket values", { nsb_rb_mark_boxes, NULL, NULL, }, 0, 0, 0
};

static nsb_rb_box *nsb_rb_box_new(VALUE proc, int pinned)
{
    nsb_rb_box *b = (nsb_rb_box *)calloc(1, sizeof *b);
    if (b == NULL)
        rb_raise(rb_eNoMemError, "netsocket: out of memory");
    b->proc = proc;
    b->pinned = pinned;
    b->prev = b->next = b;
    if (pinned) {
        pthread_mutex_lock(&nsb_rb_lock);
        b->next = nsb_rb_boxes.next;
        b->prev = &nsb_rb_boxes;
        b->next->prev = b;
        nsb_rb_boxes.next = b;
        pthread_mutex_unlock(&nsb_rb_lock);
    }
    return b;
}

static void nsb_release(void *userdata)
{
    nsb_rb_box *b = (nsb_rb_box *)userdata;
    if (b->pinned) {
        pthread_mutex_lock(&nsb_rb_lock);
        b->prev->next = b->next;
        b->next->prev = b->prev;
        pthread_mutex_unlock(&nsb_rb_lock);
    }
    free(b);
}

/* The callables a verifier and a key log hold (Qnil for none): what
 * ns_options_get_* / ns_socket_get_* returned, if it is ours. */
static void nsb_rb_callables(ns_certificate_verifier v, void *vdata, ns_key_log_callback k, void *kdata,
                             VALUE out[2])
{
    out[0] = v == nsb_verify && vdata ? ((nsb_rb_box *)vdata)->proc : Qnil;
    out[1] = k == nsb_key_log && kdata ? ((nsb_rb_box *)kdata)->proc : Qnil;
}

static void nsb_rb_options_callables(const nsb_options *o, VALUE out[2])
{
    void *vdata = NULL, *kdata = NULL;
    ns_certificate_verifier v = ns_options_get_certificate_verifier(o, &vdata);
    ns_key_log_callback k = ns_options_get_key_log_callback(o, &kdata);
    nsb_rb_callables(v, vdata, k, kdata, out);
}

static void nsb_rb_mark_options(void *p)
{
    VALUE held[2];
    nsb_rb_options_callables((const nsb_options *)p, held);
    rb_gc_mark(held[0]);
    rb_gc_mark(held[1]);
}

/* A setter that may replace a callable: while a constructor runs, the old
 * one is kept (it may have been taken already). */
static void nsb_rb_retire(const VALUE old[2])
{
    if (nsb_rb_constructing == 0)
        return;
    for (int i = 0; i < 2; i++)
        if (!NIL_P(old[i]))
            rb_ary_push(nsb_rb_retired, old[i]);
}
#define NSB_REPLACING(o, call) do {           \
        VALUE nsb_old_[2];                    \
        nsb_rb_options_callables(o, nsb_old_); \
        nsb_check(call);                      \
        nsb_rb_retire(nsb_old_);              \
    } while (0)

/* Around a constructor's call without the GVL (+1 before, -1 after).
 * `retired` is emptied when the next one starts with none running: by
 * then every earlier constructor's Socket object holds its callables. */
static void nsb_rb_constructing_add(int delta)
{
    if (delta > 0 && nsb_rb_constructing == 0)
        rb_ary_clear(nsb_rb_retired);
    nsb_rb_constructing += delta;
}

/* A new Socket object keeps the callables its socket holds. */
static VALUE nsb_rb_socket_made(VALUE obj, const nsb_socket *s)
{
    void *vdata = NULL, *kdata = NULL;
    VALUE held[2];
    if (s == NULL || NIL_P(obj))
        return obj;
    ns_certificate_verifier v = ns_socket_get_certificate_verifier(s, &vdata);
    ns_key_log_callback k = ns_socket_get_key_log_callback(s, &kdata);
    nsb_rb_callables(v, vdata, k, kdata, held);
    if (!NIL_P(held[0]) || !NIL_P(held[1]))
        rb_ivar_set(obj, rb_intern("__netsocket_callables"), rb_ary_new_from_values(2, held));
    return obj;
}

typedef struct {
    VALUE proc;
    int depth, preverify_error;
    const unsigned char *der;
    size_t der_len;
    int ok;
} nsb_rb_vcall;

static VALUE nsb_rb_vcall_body(VALUE p)
{
    nsb_rb_vcall *v = (nsb_rb_vcall *)p;
    VALUE r = rb_funcall(v->proc, rb_intern("call"), 3, INT2NUM(v->depth),
                         INT2NUM(v->preverify_error), rb_str_new((const char *)v->der, (long)v->der_len));
    if (r == Qtrue || r == Qfalse) {
        v->ok = r == Qtrue;
    } else { /* 0 or nil or anything else: rejected (fail closed) */
        VALUE text = rb_sprintf("%"PRIsVALUE" (%s)", rb_inspect(r), rb_obj_classname(r));
        nsb_note_verifier_returned(StringValueCStr(text), "true or false");
        v->ok = 0;
    }
    return Qnil;
}

static VALUE nsb_rb_inspect(VALUE exception)
{
    return rb_inspect(exception);
}

static void *nsb_rb_vcall_locked(void *p)
{
    int state = 0;
    int prev = nsb_rb_unlocked;
    nsb_rb_unlocked = 0;
    rb_protect(nsb_rb_vcall_body, (VALUE)p, &state);
    nsb_rb_unlocked = prev;
    if (state) { /* an exception in the verifier rejects */
        VALUE text = rb_protect(nsb_rb_inspect, rb_errinfo(), &state);
        nsb_note_verifier_raised(state ? NULL : StringValueCStr(text));
        ((nsb_rb_vcall *)p)->ok = 0;
        rb_set_errinfo(Qnil);
    }
    return NULL;
}

typedef struct { VALUE proc; const char *line; } nsb_rb_kcall;

static VALUE nsb_rb_kcall_body(VALUE p)
{
    nsb_rb_kcall *k = (nsb_rb_kcall *)p;
    rb_funcall(k->proc, rb_intern("call"), 1, rb_str_new_cstr(k->line));
    return Qnil;
}

static void *nsb_rb_kcall_locked(void *p)
{
    int state = 0;
    int prev = nsb_rb_unlocked;
    nsb_rb_unlocked = 0;
    rb_protect(nsb_rb_kcall_body, (VALUE)p, &state);
    nsb_rb_unlocked = prev;
    if (state)
        rb_set_errinfo(Qnil);
    return NULL;
}

static void nsb_key_log(void *userdata, const char *line)
{
    nsb_rb_kcall k = { ((nsb_rb_box *)userdata)->proc, line };
    if (nsb_rb_unlocked)
        rb_thread_call_with_gvl(nsb_rb_kcall_locked, &k);
    else
        nsb_rb_kcall_locked(&k);
}

static int nsb_verify(void *userdata, int depth, int preverify_error,
                      const unsigned char *der, size_t der_len)
{
    nsb_rb_vcall v = { ((nsb_rb_box *)userdata)->proc, depth, preverify_error, der, der_len, 0 };
    if (nsb_rb_unlocked)
        rb_thread_call_with_gvl(nsb_rb_vcall_locked, &v);
    else
        nsb_rb_vcall_locked(&v);
    return v.ok;
}

/* The class of each row of nsb_statuses; [0] (NS_OK) = Netsocket::Error. */
static VALUE nsb_rb_errors[NSB_STATUS_COUNT];
/* WouldBlockError's two subclasses, by direction (Ruby's IO::WaitReadable
 * and IO::WaitWritable, as read_nonblock/write_nonblock raise). */
static VALUE nsb_rb_wait_readable, nsb_rb_wait_writable;

static void nsb_raise(void)
{
    int st = nsb_err.status, i = nsb_status_index(st);
    VALUE cls = i > 0 && nsb_rb_errors[i] ? nsb_rb_errors[i] : nsb_rb_errors[0];
    if (st == NS_ERR_WOULD_BLOCK)
        cls = nsb_err.want == NS_WANT_WRITE ? nsb_rb_wait_writable : nsb_rb_wait_readable;
    VALUE e = rb_exc_new_cstr(cls, nsb_err.message);
    nsb_err.status = 0;
    rb_iv_set(e, "@status", rb_str_new_cstr(ns_status_name(st)));
    rb_iv_set(e, "@code", INT2NUM(st));
    rb_iv_set(e, "@os_error", INT2NUM(nsb_err.os_error));
    /* The TLS failure's details, nil when there are none. */
    int v = nsb_err.verify_code, a = nsb_err.alert;
    rb_iv_set(e, "@verify_code", v ? INT2NUM(v) : Qnil);
    rb_iv_set(e, "@verify_message", v ? rb_str_new_cstr(nsb_err.verify_message) : Qnil);
    rb_iv_set(e, "@alert", a >= 0 ? rb_str_new_cstr(ns_tls_alert_name(a)) : Qnil);
    rb_iv_set(e, "@alert_code", a >= 0 ? INT2NUM(a) : Qnil);
    rb_iv_set(e, "@alert_sent", a >= 0 ? (nsb_err.alert_sent ? Qtrue : Qfalse) : Qnil);
    rb_exc_raise(e);
}
%}

/* SWIG's argument errors, reworded (netsocket_argerrors.i): every wrapper
 * has `self`, the receiver (the module for module functions).  The wrong
 * argument itself is not used: referring to it from every wrapper's error
 * path changed the stack layout enough for the conservative GC to keep a
 * collected verifier alive in test_verifier_is_collected_after_its_last_user. */
%{
/* The Ruby name of wrapper `name` called on self ("Netsocket::Options#set_
 * read_timeout", "Netsocket::Options.new"); returns whether it is a
 * constructor and sets *is_method. */
static int nsb_rb_method_name(VALUE self, const char *name, char *method, size_t size, int *is_method)
{
    *is_method = !RB_TYPE_P(self, T_MODULE) && !RB_TYPE_P(self, T_CLASS);
    const char *cls = nsb_arg_class_name(name, strlen(name), NSB_RUBY);
    if (strncmp(name, "nsb_", 4) == 0)
        name += 4;
    if (cls) /* a constructor: SWIG names it after the C type */
        snprintf(method, size, "%s.new", cls);
    else if (*is_method)
        snprintf(method, size, "%s#%s", rb_obj_classname(self), name);
    else
        snprintf(method, size, "%s.%s", RB_TYPE_P(self, T_MODULE) ? rb_class2name(self) : "Netsocket", name);
    return cls != NULL;
}

static const char *nsb_rb_arg_error(VALUE self, const char *ctype, const char *name, int argn)
{
    static __thread char text[320];
    char method[128];
    int is_method;
    int ctor = nsb_rb_method_name(self, name, method, sizeof method, &is_method);
    nsb_arg_error_text(text, sizeof text, NSB_RUBY, method, ctor ? argn : argn - is_method, ctype, NULL);
    return text;
}
#define Ruby_Format_TypeError(msg, type, name, argn, input) nsb_rb_arg_error(self, type, name, argn)

/* RangeError for a timeout beyond int64 (nsb_timeout_overflow_text). */
static void nsb_rb_timeout_overflow(VALUE self, const char *wrapper, const char *param, VALUE given)
{
    char method[128], text[400];
    int is_method;
    nsb_rb_method_name(self, wrapper, method, sizeof method, &is_method);
    VALUE digits = rb_big2str(given, 10);
    nsb_timeout_overflow_text(text, sizeof text, method, param, StringValueCStr(digits));
    rb_exc_raise(rb_exc_new_str(rb_eRangeError, rb_utf8_str_new_cstr(text))); /* µ: UTF-8 */
}
%}

/* SWIG's conversion; an Integer it cannot take is beyond int64. */
%typemap(in, fragment=SWIG_AsVal_frag(long long)) int64_t (long long v, int res) {
    res = SWIG_AsVal(long long)($input, &v);
    if (!SWIG_IsOK(res) && RB_TYPE_P($input, T_BIGNUM))
        nsb_rb_timeout_overflow(self, "$symname", "$1_name", $input);
    if (!SWIG_IsOK(res)) {
        %argument_fail(res, "$type", $symname, $argnum);
    }
    $1 = (int64_t)v;
}

%exception {
    nsb_err.status = 0;
    nsb_err.verifier_raised[0] = '\0';
    $action
    if (nsb_rb_jump) { /* Thread#kill, #raise or a trap's exception, caught in nsb_unlocked */
        int state = nsb_rb_jump;
        nsb_rb_jump = 0;
        nsb_err.status = 0;
        rb_jump_tag(state);
    }
    if (nsb_err.status) nsb_raise();
}

/* A frozen (shared, copy-on-write) view of the string: safe to read
 * without the GVL while other threads run. */
%define NSB_RUBY_BYTES(NAME, LENGTH)
%typemap(in) (const void *NAME, size_t LENGTH) (VALUE frozen) {
    frozen = rb_str_new_frozen(StringValue($input));
    $1 = (void *)RSTRING_PTR(frozen);
    $2 = (size_t)RSTRING_LEN(frozen);
}
%typemap(freearg) (const void *NAME, size_t LENGTH) { RB_GC_GUARD(frozen$argnum); }
%enddef
NSB_RUBY_BYTES(data, LEN)
NSB_RUBY_BYTES(pem, LEN)
NSB_RUBY_BYTES(chain, LEN)
NSB_RUBY_BYTES(key, KEYLEN)
NSB_RUBY_BYTES(config, CONFLEN)
%typemap(typecheck) (const void *data, size_t LEN), (const void *pem, size_t LEN) { $1 = RB_TYPE_P($input, T_STRING); }
/* A password: a String, something answering call that returns one (asked
 * now, when the key is loaded), or nil (none given). */
%typemap(in) (const void *password, size_t PWLEN) (VALUE frozen = Qnil) {
    VALUE v = $input;
    if (!NIL_P(v) && !RB_TYPE_P(v, T_STRING) && rb_respond_to(v, rb_intern("call")))
        v = rb_funcall(v, rb_intern("call"), 0);
    if (NIL_P(v)) {
        $1 = NULL;
        $2 = 0;
    } else {
        frozen = rb_str_new_frozen(StringValue(v));
        $1 = (void *)RSTRING_PTR(frozen);
        $2 = (size_t)RSTRING_LEN(frozen);
    }
}
%typemap(freearg) (const void *password, size_t PWLEN) { RB_GC_GUARD(frozen$argnum); }
%typemap(out) nsb_bytes {
    $result = $1.none ? Qnil : rb_str_new((const char *)$1.data, (long)$1.len);
    free($1.data);
}
%typemap(out) nsb_list {
    $result = rb_ary_new_capa((long)$1.n);
    for (size_t i = 0; i < $1.n; i++)
        rb_ary_push($result, $1.text ? rb_utf8_str_new((const char *)$1.items[i], (long)$1.lens[i])
                                     : rb_str_new((const char *)$1.items[i], (long)$1.lens[i]));
    free($1.items);
    free($1.lens);
}
%typemap(out) nsb_addr { $result = rb_ary_new_from_args(2, rb_str_new_cstr($1.ip), INT2NUM($1.port)); }
%typemap(in) nsb_callable {
    if (NIL_P($input)) {
        $1 = NULL;
    } else if (!rb_respond_to($input, rb_intern("call"))) {
        rb_raise(rb_eTypeError, "$symname: expected something that responds to call, or nil");
    } else {
        $1 = nsb_rb_box_new($input, 0);
    }
}
%typemap(out) nsb_callable, nsb_value { $result = $1 ? ((nsb_rb_box *)$1)->proc : Qnil; }
%typemap(in) nsb_value { $1 = nsb_rb_box_new($input, 1); }
%typemap(ret) nsb_socket * { nsb_rb_socket_made(vresult, $1); } /* vresult: the Socket object */
%typemap(in) int on { $1 = RTEST($input) && !(RB_INTEGER_TYPE_P($input) && NUM2LONG($input) == 0); }
%typemap(typecheck, precedence=SWIG_TYPECHECK_BOOL) int on { $1 = 1; }
%typemap(in) const char *service (VALUE s) {
    s = RB_INTEGER_TYPE_P($input) ? rb_funcall($input, rb_intern("to_s"), 0) : $input;
    $1 = StringValueCStr(s);
}
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING) const char *service {
    $1 = RB_INTEGER_TYPE_P($input) || RB_TYPE_P($input, T_STRING);
}
%typemap(in) const nsb_options *obj { if (!SWIG_IsOK(SWIG_ConvertPtr($input, (void **)&$1, $descriptor(nsb_options *), 0))) $1 = NULL; }

%init %{
{
    /* One class per row of the header's status list (nsb_statuses). */
    VALUE base = rb_define_class_under(mNetsocket, "Error", rb_eStandardError);
    rb_define_attr(base, "status", 1, 0);
    rb_define_attr(base, "code", 1, 0);
    rb_define_attr(base, "os_error", 1, 0);
    rb_define_attr(base, "verify_code", 1, 0);
    rb_define_attr(base, "verify_message", 1, 0);
    rb_define_attr(base, "alert", 1, 0);
    rb_define_attr(base, "alert_code", 1, 0);
    rb_define_attr(base, "alert_sent", 1, 0);
    nsb_rb_errors[0] = base;
    for (size_t i = 1; i < NSB_STATUS_COUNT; i++) {
        const nsb_status_row *row = &nsb_statuses[i];
        nsb_rb_errors[i] = strcmp(row->exception, "Error") == 0
            ? base
            : rb_define_class_under(mNetsocket, row->exception, nsb_rb_errors[nsb_status_index(row->parent)]);
    }
    nsb_rb_wait_readable = rb_define_class_under(mNetsocket, "WaitReadableError", nsb_rb_errors[nsb_status_index(NS_ERR_WOULD_BLOCK)]);
    rb_include_module(nsb_rb_wait_readable, rb_mWaitReadable);
    nsb_rb_wait_writable = rb_define_class_under(mNetsocket, "WaitWritableError", nsb_rb_errors[nsb_status_index(NS_ERR_WOULD_BLOCK)]);
    rb_include_module(nsb_rb_wait_writable, rb_mWaitWritable);
    rb_gc_register_mark_object(TypedData_Wrap_Struct(rb_cObject, &nsb_rb_keeper_type, &nsb_rb_boxes));
    nsb_rb_retired = rb_ary_new();
    rb_gc_register_mark_object(nsb_rb_retired);
}
%}

/* option_fields(): [field, method, kinds, kinds described, type described, list?] per field. */
%typemap(out) nsb_fields {
    $result = rb_ary_new_capa((long)$1.n);
    for (size_t i = 0; i < $1.n; i++) {
        const nsb_field *f = &$1.rows[i];
        rb_ary_push($result, rb_ary_new_from_args(6, rb_str_new_cstr(f->field), rb_str_new_cstr(f->method),
                                                  UINT2NUM(f->kinds), rb_str_new_cstr(f->kinds_text),
                                                  rb_str_new_cstr(f->type_text), f->is_list ? Qtrue : Qfalse));
    }
}
