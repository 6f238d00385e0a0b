"""gen_docs.py HEADER STUB OUT: the Python docstrings of the SWIG module,
from the header's comments and the stub's signatures.

For every function and method in the stub (netsocket/__init__.pyi) it
writes to OUT (netsocket_docs.i, included by netsocket.i for Python):

    %feature("autodoc", "recv(self, size: int, flags: int = 0) -> Optional[bytes]") nsb_socket::recv;
    %feature("docstring") nsb_socket::recv "<the comment above ns_socket_recv in netsocket.h>";

so help() shows Python types and the C header's own words, never a SWIG
type.  Run by CMake and by the pip backend before SWIG.
"""
import ast
import re
import sys

# Stub class -> (SWIG class, C prefix).
CLASSES = {"Options": ("nsb_options", "ns_options_"), "Socket": ("nsb_socket", "ns_socket_"),
           "SelectorCore": ("nsb_selector", "ns_selector_")}
# Where the C function is not prefix + name.
C_NAMES = {
    "socket_options_to_client_socket": "ns_socket_connect",
    "connect_start": "ns_socket_connect_start",
    "is_socket_options": "ns_options_is_socket",
    "is_tls_socket_options": "ns_options_is_tls",
    "is_server_tls_socket_options": "ns_options_is_server_tls",
    "Options.__init__": "ns_options_new",
    "Socket.fileno": "ns_socket_fd",
    "Socket.peer": "ns_socket_peer_address",
    "Socket.info": "ns_socket_local_address",
    "Socket.recv_into": "ns_socket_recv",
    "Socket.setsockopt_bytes": "ns_socket_setsockopt",
    "Socket.getsockopt_bytes": "ns_socket_getsockopt",
    "Socket.peer_certificate_chain": "ns_socket_peer_certificate_chain_count",
    "SelectorCore.__init__": "ns_selector_new",
    "SelectorCore.watch": "ns_selector_watch",
    "SelectorCore.unwatch": "ns_selector_remove",
    "SelectorCore.poll": "ns_selector_wait",
    "SelectorCore.event_value": "ns_selector_event_data",
}
# Binding-only functions: their documentation is here.
OWN_DOCS = {
    "option_fields": "The options' fields as the keyword builders loop over them: (field, method, kinds "
                     "(a bit per options kind), kinds described, type described, is a list) per field.",
}
# Written in Python (netsocket_python.i), or with no C counterpart.
PYTHON_ONLY = {"socket_options", "tls_socket_options", "server_tls_socket_options", "describe", "makefile"}


def header_docs(text):
    """{C function name: its documentation} from the header's comments: the
    comment block above a declaration or above the run of declarations it
    is in, or else a comment on the declaration's own line."""
    lines = text.splitlines()
    docs, i = {}, 0
    comment, comment_end = None, -2
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("/*"):
            block = [line]
            while "*/" not in block[-1] and i + 1 < len(lines):
                i += 1
                block.append(lines[i])
            comment, comment_end = _clean("\n".join(block)), i
        elif line.startswith("NS_API"):
            decl, start = line, i
            while ";" not in decl and i + 1 < len(lines):
                i += 1
                decl += " " + lines[i].strip()
            m = re.search(r"\b(ns_\w+)\s*\(", decl)
            if m:
                name = m.group(1)
                # The comment directly above, carried down a run of declarations;
                # a comment on the declaration's own line is its own and wins.
                attached = comment_end == start - 1
                trailing = re.search(r";\s*/\*(.*)\*/", decl)
                docs[name] = _clean(trailing.group(1)) if trailing else comment if attached and comment else ""
                comment_end = i if attached else comment_end
        elif line.strip():
            comment = None
        i += 1
    return docs


def _clean(comment):
    text = re.sub(r"^\s*/?\*+/?", "", comment, flags=re.M).replace("*/", "")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def stub_functions(source):
    """[(stub name, SWIG name, signature)] of the stub's functions and the
    methods of the SWIG-made classes."""
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            out.append((node.name, "nsb_" + node.name, _signature(node)))
        elif isinstance(node, ast.ClassDef) and node.name in CLASSES:
            swig_class = CLASSES[node.name][0]
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and (not item.name.startswith("__") or item.name == "__init__"):
                    method = swig_class if item.name == "__init__" else item.name
                    out.append(("%s.%s" % (node.name, item.name), "%s::%s" % (swig_class, method), _signature(item)))
    return out


def _signature(fn):
    sig = "%s(%s)" % (fn.name, ast.unparse(fn.args))
    return sig + (" -> " + ast.unparse(fn.returns) if fn.returns else "")


def c_name(stub_name):
    if stub_name in C_NAMES:
        return C_NAMES[stub_name]
    if "." in stub_name:
        cls, method = stub_name.split(".")
        return CLASSES[cls][1] + method
    return "ns_" + stub_name


def quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def main(header, stub, out):
    docs = header_docs(open(header, encoding="utf-8").read())
    lines = ["/* Generated by bindings/python/gen_docs.py from netsocket.h and __init__.pyi. */"]
    missing = []
    for stub_name, swig_name, signature in stub_functions(open(stub, encoding="utf-8").read()):
        if stub_name.split(".")[-1] in PYTHON_ONLY:
            continue
        lines.append('%%feature("autodoc", %s) %s;' % (quote(signature), swig_name))
        doc = OWN_DOCS.get(stub_name, docs.get(c_name(stub_name)))
        if doc is None:
            missing.append("%s (%s)" % (stub_name, c_name(stub_name)))
        else:
            lines.append('%%feature("docstring") %s %s;' % (swig_name, quote(doc)))
    if missing:
        sys.exit("gen_docs.py: no documented C function for: " + ", ".join(missing))
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
