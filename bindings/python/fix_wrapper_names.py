"""fix_wrapper_names.py WRAP_C: in SWIG's Python wrapper, the names Python
itself puts in argument-count and keyword errors ("Options_set_read_timeout()
missing required argument") become the names the user calls
("Options.set_read_timeout()").  Run after swig by CMake and the pip backend;
the argument-type errors are reworded at run time (netsocket_argerrors.i)."""
import re
import sys

CLASSES = "Options|Socket|SelectorCore"


def fix(text):
    # PyArg_ParseTupleAndKeywords formats "OO:Options_set_read_timeout" and
    # SWIG_Python_UnpackTuple(args, "Options_clear_sni", ...).
    text = re.sub(r'("[O|]*:|SWIG_Python_UnpackTuple\(args, ")(%s)_(\w+)"' % CLASSES, r'\1\2.\3"', text)
    return re.sub(r'("[O|]*:)new_(%s)"' % CLASSES, r'\1\2"', text)


if __name__ == "__main__":
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(fix(text))
