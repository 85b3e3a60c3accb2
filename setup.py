# Declares the extensions: streamcore._core, the Cython binding plus the C core in
# csrc/, and streamcore.queue._native, the queue's per-message hot path.  Metadata
# lives in pyproject.toml.  STREAMCORE_DEBUG=1 builds with -O0 -g and assertions;
# STREAMCORE_SANITIZE=1 adds ASan and UBSan.
import glob
import os
import shutil

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

debug = os.environ.get("STREAMCORE_DEBUG") == "1"
sanitize = os.environ.get("STREAMCORE_SANITIZE") == "1"

cflags = ["-std=c11", "-D_GNU_SOURCE", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter",
          # The core's functions are called only from inside the extension: no PLT,
          # and the compiler may inline across them (the module init stays visible).
          "-fvisibility=hidden", "-fno-semantic-interposition"]
ldflags: list[str] = ["-pthread"]
if debug or sanitize:
    cflags += ["-O0", "-g", "-UNDEBUG", "-DSC_DEBUG"]
else:
    cflags += ["-O3", "-g0"]  # no debug info in what ships (STREAMCORE_DEBUG=1 keeps it)
if sanitize:
    cflags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    ldflags += ["-fsanitize=address,undefined"]


class build_py_with_header(build_py):
    """Ship streamcore.h inside the package so `cimport streamcore` works."""

    def run(self) -> None:
        super().run()
        dest = os.path.join(self.build_lib, "streamcore", "include")
        os.makedirs(dest, exist_ok=True)
        shutil.copy(os.path.join("csrc", "streamcore.h"), dest)


# xxhash.h (compaction's key hashes, header-only): the system's, or Homebrew's on macOS.
include_dirs = ["csrc", numpy.get_include()]
for prefix in (os.environ.get("HOMEBREW_PREFIX"), "/opt/homebrew", "/usr/local"):
    if prefix and os.path.exists(os.path.join(prefix, "include", "xxhash.h")):
        include_dirs.append(os.path.join(prefix, "include"))
        break

ext = Extension(
    "streamcore._core",
    sources=["streamcore/_core.pyx"] + sorted(glob.glob("csrc/*.c")),
    include_dirs=include_dirs,
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=cflags,
    extra_link_args=ldflags,
)

# The queue's per-message hot path (receipt handles, message ids): C, no core calls.
queue_native = Extension(
    "streamcore.queue._native",
    sources=["streamcore/queue/_native.pyx"],
    include_dirs=["csrc"],
    extra_compile_args=cflags,
    extra_link_args=ldflags,
)

setup(
    ext_modules=cythonize(
        [ext, queue_native],
        compiler_directives={
            "language_level": "3",
            "embedsignature": True,
            "embedsignature.format": "clinic",
        },
    ),
    cmdclass={"build_py": build_py_with_header},
)
