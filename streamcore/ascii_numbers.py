"""Numbers read from text (requests, files, command lines): ASCII digits only.

``str.isdigit()``, the regular expression ``\\d`` and ``int()`` also take the
digits of other scripts ("١٢" is 12 to ``int()``), superscripts ("²" passes
``isdigit()``, then ``int()`` refuses it), underscores ("1_0") and surrounding
spaces.  No protocol or file this package reads allows any of those.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")
_INT = re.compile(r"[+-]?[0-9]+")
# a decimal number as SQS's Number attributes and Kafka's ratio configs write it
DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def is_digits(text: str) -> bool:
    """Whether text is one or more ASCII digits and nothing else."""
    return _DIGITS.fullmatch(text) is not None


def parse_int(text: str) -> int | None:
    """The integer text spells (ASCII digits, an optional sign), or None."""
    return int(text) if _INT.fullmatch(text) else None
