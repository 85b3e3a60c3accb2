"""``streamcore queues``: each queue's message counts and the age of its
oldest message (what CloudWatch calls ApproximateAgeOfOldestMessage, the
number operators alarm on), from a running server or from a data directory
no server has open."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, TextIO

from ...errors import StreamcoreError


def fetch(endpoint: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The rows a server's ``GET /_streamcore/queues`` answers."""
    url = endpoint.rstrip("/") + "/_streamcore/queues"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        rows = json.loads(resp.read())
    assert isinstance(rows, list)
    return rows


def read_data_dir(data_dir: str) -> list[dict[str, Any]]:
    """The same rows from a data directory (opened, then closed cleanly)."""
    from ...queue import QueueService
    from .app import queue_metrics

    with QueueService(data_dir) as qs:
        return queue_metrics(qs)


def render(rows: list[dict[str, Any]], out: TextIO, as_json: bool) -> None:
    if as_json:
        for r in rows:
            out.write(json.dumps(r) + "\n")
        return
    head = ("QUEUE", "REGION", "ACCOUNT", "VISIBLE", "IN_FLIGHT", "DELAYED", "OLDEST_AGE_S")
    table = [head] + [
        (r["queue"], r["region"], r["account"], str(r["visible"]), str(r["in_flight"]),
         str(r["delayed"]),
         "-" if r["oldest_message_age_seconds"] is None
         else f"{r['oldest_message_age_seconds']:.1f}")
        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        out.write("  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                            for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
                  + "\n")


def queues_command(endpoint: str | None, data_dir: str | None, out: TextIO,
                   as_json: bool) -> list[dict[str, Any]]:
    """Raise ValueError with a message for the user when neither source works."""
    if endpoint:
        try:
            rows = fetch(endpoint)
        except OSError as exc:
            raise ValueError(f"cannot reach {endpoint}: {exc}") from None
    elif data_dir:
        try:
            rows = read_data_dir(data_dir)
        except StreamcoreError as exc:
            raise ValueError(f"cannot open {data_dir} (a server running on it? then use "
                             f"--endpoint): {exc}") from None
    else:
        raise ValueError("give --endpoint URL (a running server) or --data DIR")
    render(rows, out, as_json)
    return rows
