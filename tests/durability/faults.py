"""Building and driving the fault-injection shim (faultinject.c): an LD_PRELOAD library
that fails the Nth call of a chosen system call with a chosen errno after an arming
call.  Tests run their scenario in a child interpreter started with the shim preloaded."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "faultinject.c"


def build_shim(outdir: Path) -> str | None:
    """Compile the shim into outdir; None when there is no C compiler or not Linux."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or not sys.platform.startswith("linux"):
        return None
    out = outdir / "faultinject.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(out), str(SOURCE), "-ldl",
                    "-lpthread"], check=True, capture_output=True)
    return str(out)


def preload_env(shim: str) -> dict[str, str]:
    return {"LD_PRELOAD": " ".join(filter(None, [os.environ.get("LD_PRELOAD"), shim])),
            "SC_FAULT_SHIM": shim}


class Faults:
    """The shim as seen from a process it was preloaded into."""

    def __init__(self, shim: str | None = None) -> None:
        self.lib = ctypes.CDLL(shim or os.environ["SC_FAULT_SHIM"])
        self.lib.fi_arm.argtypes = [ctypes.c_char_p, ctypes.c_long, ctypes.c_int, ctypes.c_int]
        self.lib.fi_arm_sticky.argtypes = self.lib.fi_arm.argtypes

    def arm(self, func: str, nth: int, err: int, any_thread: bool = False,
            sticky: bool = False) -> None:
        arm = self.lib.fi_arm_sticky if sticky else self.lib.fi_arm
        arm(func.encode(), nth, err, int(any_thread))

    def disarm(self) -> None:
        self.lib.fi_disarm()

    def fired(self) -> bool:
        return bool(self.lib.fi_fired())
