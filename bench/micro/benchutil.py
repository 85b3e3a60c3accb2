"""What the pytest-benchmark micro-benchmarks share.

Deliberately not a conftest.py: test modules elsewhere in the project do
``from conftest import ...``, and a second conftest module collected in the
same session would shadow theirs.  Test modules here import what they
share from this module and declare their own small fixtures.

Not part of the default test run: pyproject's testpaths is ["tests"], so these
run only when named:

    pytest bench/micro --benchmark-only --benchmark-group-by=group

Every streamcore operation is paired with its baseline in one benchmark group,
so the table shows them side by side.  The ratio figures of record come from
``streamcore bench`` (the streamcore.benchmark package), which interleaves the
two arms.  The data helpers (payloads, batches, filled logs, scratch files,
the drained loopback socket, the record-iteration loops) are that package's
own: import them from streamcore.benchmark, so both measure the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def pedantic(
    benchmark: Any,
    group: str,
    run: Callable[[], object],
    setup: Callable[[], object],
    *,
    rounds: int,
    warmup_rounds: int,
) -> None:
    """benchmark.pedantic of run in `group`, with setup (untimed) before each round."""
    benchmark.group = group
    benchmark.pedantic(run, setup=setup, rounds=rounds, warmup_rounds=warmup_rounds)


def repeat(times: int, call: Callable[..., object], *args: object) -> Callable[[], None]:
    """A round that calls call(*args) `times` times."""
    loop = range(times)

    def run() -> None:
        for _ in loop:
            call(*args)

    return run
