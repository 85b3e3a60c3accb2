"""The crc32c benchmark: streamcore.crc32c against google-crc32c and crc32c.

Owns ``bench_crc32c`` (``--only crc32c``): 64 B, 4 KiB and 1 MiB buffers, the
three implementations interleaved in one run so each ratio shares its
conditions; and ``crc32c_baselines``, the installed baseline functions (the
micro-benchmarks in bench/micro use the same ones).
"""

from __future__ import annotations

from collections.abc import Callable

import streamcore

from .harness import Context, KiB, MiB, Row, at_least, interleave, median, perf, ratio
from .workloads import optional_module, payload


def crc32c_baselines() -> list[tuple[str, Callable[[bytes], int] | None, str]]:
    """(name, function or None if not installed, description) per baseline."""
    google = optional_module("google_crc32c")
    ico = optional_module("crc32c")
    return [
        (
            "google-crc32c",
            google.value if google else None,
            f"google_crc32c.value ({google.implementation} impl)" if google else "google-crc32c",
        ),
        (
            "crc32c",
            ico.crc32c if ico else None,
            f"crc32c.crc32c (hardware_based={ico.hardware_based})" if ico else "crc32c",
        ),
    ]


def _gbps_arm(fn: Callable[[bytes], int], data: bytes, calls: int) -> Callable[[], float]:
    """An arm calling fn(data) `calls` times; returns GB/s."""
    loop = range(calls)

    def run() -> float:
        t0 = perf()
        for _ in loop:
            fn(data)
        return calls * len(data) / (perf() - t0) / 1e9

    return run


def _size_label(size: int) -> str:
    if size < KiB:
        return f"{size} B"
    return f"{size // KiB} KiB" if size < MiB else f"{size // MiB} MiB"


def bench_crc32c(ctx: Context) -> list[Row]:
    baselines = crc32c_baselines()
    ours = streamcore.crc32c
    impl = streamcore._core._crc32c_impl()
    rows: list[Row] = []
    for size, per_rep in ctx.sizes.crc_bytes.items():
        data = payload(size, size)
        calls = max(1, per_rep // size)
        arms = [("streamcore", _gbps_arm(ours, data, calls))]
        arms += [(name, _gbps_arm(fn, data, calls)) for name, fn, _ in baselines if fn is not None]
        # All three in one interleaved run, so each ratio shares its conditions.
        res = interleave(arms, ctx.sizes.reps)
        sc = median(res["streamcore"])
        for name, _, desc in baselines:
            base = median(res[name]) if name in res else None
            r = ratio(sc, base, True)
            target: str
            ok: bool | None
            if base is None:
                target, ok, note = "—", None, f"{name} not installed: baseline skipped"
            else:
                note = (
                    f"impl={impl}; {calls} calls/rep; "
                    f"ns/call sc {size / sc:.0f}, base {size / base:.0f}"
                )
                if size < KiB:
                    target, ok = "— (call overhead)", None
                elif size < MiB:
                    target, ok = ">= 1.0x", at_least(r, 1.0)
                else:
                    target, ok = ">= 1.0x (stretch 2x)", at_least(r, 1.0)
                    if r is not None:
                        note += f"; stretch 2x {'met' if r >= 2.0 else 'missed'}"
            samples = {arm: res[arm] for arm in ("streamcore", name) if arm in res}
            rows.append(
                Row(
                    f"crc32c {_size_label(size)} vs {name}",
                    sc,
                    base,
                    "GB/s",
                    r,
                    target,
                    ok,
                    desc,
                    note,
                    samples,
                )
            )
    return rows
