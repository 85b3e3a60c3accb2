"""argparse types for the command line's numbers: a range each, ASCII digits only.

``type=int`` takes "-5" for a count, "1_000" and other scripts' digits, and lets a
bad value reach the code that uses it (a traceback at start-up, or a value silently
ignored); these refuse it while parsing, with argparse's usage error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .ascii_numbers import DECIMAL, parse_int


def int_in(lo: int, hi: int = 2**63 - 1) -> Callable[[str], int]:
    """An integer in [lo, hi]."""

    want = f"an integer of at least {lo}" if hi == 2**63 - 1 else f"an integer in [{lo}, {hi}]"

    def parse(text: str) -> int:
        n = parse_int(text.strip())
        if n is None or not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return n

    return parse


def seconds(text: str) -> float:
    """A positive number of seconds."""
    t = text.strip()
    if not DECIMAL.fullmatch(t) or not 0 < float(t) < 1e9:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return float(t)
