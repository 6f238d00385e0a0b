"""Python packaging for netsocket (no network needed):

    python3 -m pip install --no-build-isolation bindings/python

SWIG generates the module from ../netsocket.i at build time.  By default
it compiles against the source tree's header and links the library built
in ../../build (with an rpath to it); point elsewhere with
NETSOCKET_INCLUDE_DIR / NETSOCKET_LIB_DIR (e.g. an installed /usr/lib),
and set NETSOCKET_RPATH=0 to leave the rpath out.
"""
import os
import pathlib
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
INTERFACE = HERE.parent / "netsocket.i"
INCLUDE_DIR = os.environ.get("NETSOCKET_INCLUDE_DIR", str(ROOT / "core" / "include"))
LIB_DIR = os.environ.get("NETSOCKET_LIB_DIR", str(ROOT / "build"))
VERSION = (ROOT / "VERSION").read_text().split()[0] if (ROOT / "VERSION").exists() else "1.1.0"


class SwigBuildExt(build_ext):
    """Runs swig -python into build_temp: the C wrapper for the extension,
    netsocket.py for the package."""

    def run(self):
        out = pathlib.Path(self.build_temp) / "swig"
        out.mkdir(parents=True, exist_ok=True)
        wrap = out / "netsocket_wrap.c"
        subprocess.run(["swig", "-python", "-I" + INCLUDE_DIR, "-I" + str(HERE.parent),
                        "-o", str(wrap), "-outdir", str(out), str(INTERFACE)], check=True)
        self.extensions[0].sources = [str(wrap)]
        super().run()
        target = pathlib.Path(self.build_lib) / "netsocket.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((out / "netsocket.py").read_bytes())
        for sub in (HERE / "netsocket").glob("*.py"):  # pure-Python submodules (netsocket.aio)
            (target.parent / "netsocket").mkdir(exist_ok=True)
            (target.parent / "netsocket" / sub.name).write_bytes(sub.read_bytes())


class BuildPyAfterExt(build_py):
    def run(self):
        self.run_command("build_ext")
        super().run()


rpath = [] if os.environ.get("NETSOCKET_RPATH") == "0" else [LIB_DIR]
setup(
    name="netsocket",
    version=VERSION,
    description="Plain TCP and TLS sockets (BoringSSL inside libnetsocket) for Python",
    license="See the netsocket source tree",
    python_requires=">=3.8",
    ext_modules=[Extension("_netsocket", sources=[], include_dirs=[INCLUDE_DIR], library_dirs=[LIB_DIR],
                           runtime_library_dirs=rpath, libraries=["netsocket"],
                           extra_compile_args=["-Wno-unused-function"])],
    cmdclass={"build_ext": SwigBuildExt, "build_py": BuildPyAfterExt},
)
