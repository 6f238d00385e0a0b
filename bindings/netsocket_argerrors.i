/* Argument errors in the language's own words.  SWIG's say "in method
 * 'Options_set_read_timeout', argument 2 of type 'int64_t'" (Python),
 * "Expected argument 1 of type int64_t ... in SWIG method" (Ruby), "Error
 * in nsb_options::set_read_timeout (arg 2), expected 'int64_t'" (Lua).
 * Each runtime file routes them through nsb_arg_error_text, which names the
 * method as the user calls it and the type it expects in that language:
 *   Options.set_read_timeout() argument 1 must be int      (Python)
 *   Netsocket::Options#set_read_timeout: argument 1 must be Integer   (Ruby)
 *   netsocket.Options:set_read_timeout: argument 1 must be integer    (Lua)
 * Included from netsocket.i before the per-language runtime. */

%{
enum nsb_lang { NSB_PYTHON, NSB_RUBY, NSB_LUA };

/* SWIG's C type names -> each language's name for what it accepts. */
static const struct { const char *c; const char *name[3]; } nsb_arg_types[] = {
    { "int", { "int", "Integer", "integer" } },
    { "long", { "int", "Integer", "integer" } },
    { "int64_t", { "int", "Integer", "integer" } },
    { "size_t", { "int (0 or more)", "Integer (0 or more)", "integer (0 or more)" } },
    { "bool", { "bool", "true or false", "boolean" } },
    { "char const *", { "str", "String", "string" } },
    { "char *", { "str", "String", "string" } },
    { "void const *", { "bytes", "String", "string" } },
    { "nsb_options *", { "Options", "Netsocket::Options", "netsocket.Options" } },
    { "nsb_options const *", { "Options", "Netsocket::Options", "netsocket.Options" } },
    { "nsb_socket *", { "Socket", "Netsocket::Socket", "netsocket.Socket" } },
    { "nsb_selector *", { "SelectorCore", "Netsocket::SelectorCore", "netsocket.SelectorCore" } },
};
/* SWIG's names of the handle types -> the language's class names. */
static const struct { const char *c; const char *name[3]; } nsb_arg_classes[] = {
    { "nsb_options", { "Options", "Netsocket::Options", "netsocket.Options" } },
    { "nsb_socket", { "Socket", "Netsocket::Socket", "netsocket.Socket" } },
    { "nsb_selector", { "SelectorCore", "Netsocket::SelectorCore", "netsocket.SelectorCore" } },
    { "Options", { "Options", "Netsocket::Options", "netsocket.Options" } },
    { "Socket", { "Socket", "Netsocket::Socket", "netsocket.Socket" } },
    { "SelectorCore", { "SelectorCore", "Netsocket::SelectorCore", "netsocket.SelectorCore" } },
};

static const char *nsb_arg_type_name(const char *ctype, enum nsb_lang lang)
{
    for (size_t i = 0; i < sizeof nsb_arg_types / sizeof nsb_arg_types[0]; i++)
        if (strcmp(nsb_arg_types[i].c, ctype) == 0)
            return nsb_arg_types[i].name[lang];
    return "another type";
}

/* The class named by the first `len` bytes of `name`, or NULL. */
static const char *nsb_arg_class_name(const char *name, size_t len, enum nsb_lang lang)
{
    for (size_t i = 0; i < sizeof nsb_arg_classes / sizeof nsb_arg_classes[0]; i++)
        if (strlen(nsb_arg_classes[i].c) == len && strncmp(nsb_arg_classes[i].c, name, len) == 0)
            return nsb_arg_classes[i].name[lang];
    return NULL;
}

/* The message for argument `argn` (counting from 1, self not counted; 0 is
 * self) of `method` (already in the language's words) that is not a
 * `ctype`; `given` names what was passed instead (may be NULL). */
static void nsb_arg_error_text(char *out, size_t size, enum nsb_lang lang, const char *method, int argn,
                               const char *ctype, const char *given)
{
    const char *call = lang == NSB_PYTHON ? "()" : "";
    int n = argn > 0 ? snprintf(out, size, "%s%s%s argument %d must be %s", method, call,
                                lang == NSB_PYTHON ? "" : ":", argn, nsb_arg_type_name(ctype, lang))
                     : snprintf(out, size, "%s%s%s self must be %s", method, call,
                                lang == NSB_PYTHON ? "" : ":", nsb_arg_type_name(ctype, lang));
    if (given && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, ", not %s", given);
}

/* Python wrapper names ("Options_set_read_timeout", "new_Options",
 * "make_client_socket") and Lua's ("nsb_options::set_read_timeout",
 * "nsb_options::nsb_options", "nsb_make_client_socket") as the user writes
 * them; *is_method: whether SWIG counted self as argument 1. */
static void nsb_arg_method_name(char *out, size_t size, enum nsb_lang lang, const char *swig_name, int *is_method)
{
    const char *sep = lang == NSB_LUA ? strstr(swig_name, "::") : strchr(swig_name, '_');
    const char *cls = sep ? nsb_arg_class_name(swig_name, (size_t)(sep - swig_name), lang) : NULL;
    *is_method = 0;
    if (lang == NSB_PYTHON && strncmp(swig_name, "new_", 4) == 0 &&
        (cls = nsb_arg_class_name(swig_name + 4, strlen(swig_name + 4), lang)) != NULL) {
        snprintf(out, size, "%s", cls);
    } else if (cls && lang == NSB_LUA && strncmp(sep + 2, swig_name, (size_t)(sep - swig_name)) == 0 &&
               strlen(sep + 2) == (size_t)(sep - swig_name)) {
        snprintf(out, size, "%s", cls); /* constructor nsb_options::nsb_options */
    } else if (cls) {
        *is_method = 1;
        snprintf(out, size, lang == NSB_LUA ? "%s:%s" : "%s.%s", cls, sep + (lang == NSB_LUA ? 2 : 1));
    } else {
        const char *plain = strncmp(swig_name, "nsb_", 4) == 0 ? swig_name + 4 : swig_name;
        snprintf(out, size, lang == NSB_LUA ? "netsocket.%s" : "%s", plain);
    }
}
%}
