"""PEP 517 build backend for the netsocket Python package, with no build
requirements, so that

    python3 -m venv v && v/bin/pip install bindings/python

works in a plain venv with no network (no setuptools or wheel needed).

The wheel carries its own copy of libnetsocket.so.1 (BoringSSL is inside it,
hidden) in the package directory, and the extension finds it through the
rpath $ORIGIN: nothing points back into the tree it was built from.

Where the library comes from: NETSOCKET_LIB_DIR (a directory holding a built
libnetsocket.so.1, e.g. a CMake build tree), else the library is built here
with CMake from this source tree into a temporary directory (set
NS_BORINGSSL_SOURCE_DIR to reuse an unpacked BoringSSL source).
NETSOCKET_INCLUDE_DIR overrides the header's directory (core/include).

Cross-building a wheel for another machine (tests/aarch64/bindings.sh makes
the aarch64 one): NETSOCKET_LIB_DIR names that machine's library, and
NETSOCKET_CROSS_CC (its compiler), NETSOCKET_CROSS_PYTHON_INCLUDE (its
Python headers, directories joined by ':'), NETSOCKET_CROSS_EXT_SUFFIX
(its extension suffix) and NETSOCKET_CROSS_PLATFORM (the wheel's platform
tag, e.g. linux_aarch64) replace what this interpreter would say.
"""
import base64
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VERSION = (ROOT / "VERSION").read_text().split()[0]
SONAME = "libnetsocket.so." + VERSION.split(".")[0]
METADATA = """Metadata-Version: 2.1
Name: netsocket
Version: {version}
Summary: Plain TCP and TLS sockets (BoringSSL inside libnetsocket) for Python
Requires-Python: >=3.8
License: See the netsocket source tree
"""


def _tag():
    py = "cp%d%d" % sys.version_info[:2]
    platform = os.environ.get("NETSOCKET_CROSS_PLATFORM") or sysconfig.get_platform()
    return "%s-%s-%s" % (py, py, platform.replace("-", "_").replace(".", "_"))


def _target():
    """(compiler command, Python include directories, extension suffix) of
    the machine the wheel is for: this one unless NETSOCKET_CROSS_* say."""
    cc = os.environ.get("NETSOCKET_CROSS_CC") or sysconfig.get_config_var("CC") or "cc"
    include = os.environ.get("NETSOCKET_CROSS_PYTHON_INCLUDE") or sysconfig.get_paths()["include"]
    suffix = os.environ.get("NETSOCKET_CROSS_EXT_SUFFIX") or sysconfig.get_config_var("EXT_SUFFIX")
    return cc.split(), include.split(":"), suffix


def _library(work):
    """The directory holding libnetsocket.so.1: NETSOCKET_LIB_DIR, or a CMake build here."""
    lib_dir = os.environ.get("NETSOCKET_LIB_DIR")
    if lib_dir:
        return pathlib.Path(lib_dir)
    build = work / "cmake"
    configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                 "-DNS_BUILD_TESTS=OFF", "-DNS_BUILD_EXAMPLES=OFF", "-DNS_BUILD_BINDINGS=OFF"]
    if os.environ.get("NS_BORINGSSL_SOURCE_DIR"):
        configure.append("-DNS_BORINGSSL_SOURCE_DIR=" + os.environ["NS_BORINGSSL_SOURCE_DIR"])
    subprocess.run(configure, check=True)
    subprocess.run(["cmake", "--build", str(build), "--target", "netsocket", "-j2"], check=True)
    return build


def _compile(work, pkg):
    """SWIG's module as pkg/__init__.py and the extension pkg/_netsocket*.so."""
    include = os.environ.get("NETSOCKET_INCLUDE_DIR", str(ROOT / "core" / "include"))
    swig = work / "swig"
    swig.mkdir()
    subprocess.run([sys.executable, str(HERE / "gen_docs.py"), str(pathlib.Path(include) / "netsocket.h"),
                    str(HERE / "netsocket" / "__init__.pyi"), str(swig / "netsocket_docs.i")], check=True)
    subprocess.run(["swig", "-python", "-I" + include, "-I" + str(HERE.parent), "-I" + str(swig),
                    "-o", str(swig / "netsocket_wrap.c"),
                    "-outdir", str(swig), str(HERE.parent / "netsocket.i")], check=True)
    subprocess.run([sys.executable, str(HERE / "fix_wrapper_names.py"), str(swig / "netsocket_wrap.c")], check=True)
    shutil.copy(swig / "netsocket.py", pkg / "__init__.py")
    shutil.copy(_library(work) / SONAME, pkg / SONAME)
    cc, py_include, suffix = _target()
    ext = pkg / ("_netsocket" + suffix)
    subprocess.run(cc + ["-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-Wno-unused-function",
                         "-I" + include] + ["-I" + d for d in py_include] +
                   ["-o", str(ext), str(swig / "netsocket_wrap.c"),
                         str(pkg / SONAME), "-Wl,-rpath,$ORIGIN"], check=True)


def _record_line(path, arcname):
    data = path.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d\n" % (arcname, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "netsocket-%s-%s.whl" % (VERSION, _tag())
    dist_info = "netsocket-%s.dist-info" % VERSION
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        pkg = work / "out" / "netsocket"
        shutil.copytree(HERE / "netsocket", pkg, ignore=shutil.ignore_patterns("__pycache__"))
        _compile(work, pkg)
        info = work / "out" / dist_info
        info.mkdir()
        (info / "METADATA").write_text(METADATA.format(version=VERSION))
        (info / "WHEEL").write_text("Wheel-Version: 1.0\nGenerator: netsocket_build\n"
                                    "Root-Is-Purelib: false\nTag: %s\n" % _tag())
        record = ""
        with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w", zipfile.ZIP_DEFLATED) as whl:
            for path in sorted(p for p in (work / "out").rglob("*") if p.is_file()):
                arcname = path.relative_to(work / "out").as_posix()
                whl.write(path, arcname)
                record += _record_line(path, arcname)
            whl.writestr(dist_info + "/RECORD", record + dist_info + "/RECORD,,\n")
    return name


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("netsocket: no sdist; install from the source tree (pip install bindings/python)")
