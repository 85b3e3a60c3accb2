"""``streamcore topics`` and ``streamcore groups``: what a Kafka operator expects to see.

Either from a running server (``--bootstrap HOST:PORT``, over the Kafka
protocol) or from a data directory read-only (``--data DIR``, no lock taken,
safe next to a running server).  ``groups --describe GROUP`` prints what
``kafka-consumer-groups --describe`` does: per partition the committed
offset, the log end offset, the lag and the member it is assigned to.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO, Any

from ...broker import files
from ...broker.offsets import assigned_partitions
from ...tools.segment_files import UsageError, human_size
from .client import Client, KafkaError

LATEST, EARLIEST = -1, -2


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap", metavar="HOST:PORT",
                   help="ask a running server (default: read the data directory)")
    p.add_argument("--data", metavar="DIR", default="./streamcore-data",
                   help="data directory (default ./streamcore-data); with --bootstrap, "
                        "used for sizes on disk when present")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def _print(rows: list[dict[str, Any]], columns: list[str], as_json: bool, out: IO[str]) -> None:
    if as_json:
        for r in rows:
            out.write(json.dumps(r) + "\n")
        return
    head = [c.upper().replace("_", "-") for c in columns]
    cells = [["-" if r.get(c) is None else str(r[c]) for c in columns] for r in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(head)]
    for line in [head, *cells]:
        out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n")


def _size(data_dir: str, topic: str, partition: int) -> int | None:
    if not os.path.isdir(os.path.join(data_dir, "topics", f"{topic}-{partition}")):
        return None
    return files.partition_files(data_dir, topic, partition).size_bytes


# ------------------------------------------------------------------ topics


def topic_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    wanted = set(args.topics or [])
    rows = []
    if args.bootstrap:
        c = _client(args.bootstrap)
        try:
            topics = {t: n for t, n in c.topics().items() if not wanted or t in wanted}
            parts = [(t, p) for t, n in sorted(topics.items()) for p in range(n)]
            start = c.offsets(parts, EARLIEST)
            end = c.offsets(parts, LATEST)
        finally:
            c.close()
        for t, p in parts:
            size = _size(args.data, t, p)
            rows.append({"topic": t, "partition": p, "start_offset": start[(t, p)],
                         "end_offset": end[(t, p)], "size_bytes": size})
        return rows
    for name, info in sorted(files.topics(args.data).items()):
        if wanted and name not in wanted:
            continue
        for p in range(info.partitions):
            f = files.partition_files(args.data, name, p)
            rows.append({"topic": name, "partition": p, "start_offset": f.start_offset,
                         "end_offset": f.end_offset, "size_bytes": f.size_bytes})
    return rows


def cmd_topics(args: argparse.Namespace, out: IO[str] = sys.stdout) -> bool:
    rows = topic_rows(args)
    if not args.json:
        for r in rows:
            r["size"] = None if r["size_bytes"] is None else human_size(r["size_bytes"])
    cols = ["topic", "partition", "start_offset", "end_offset",
            "size_bytes" if args.json else "size"]
    _print(rows, cols, args.json, out)
    return True


# ------------------------------------------------------------------ groups


def _client(bootstrap: str) -> Client:
    try:
        return Client(bootstrap)
    except KafkaError as exc:
        raise UsageError(str(exc)) from None


def _server_groups(args: argparse.Namespace, group: str | None) -> list[dict[str, Any]]:
    c = _client(args.bootstrap)
    try:
        ids = [group] if group else [g["group_id"] for g in c.call(16, {})["groups"]]
        described = c.call(15, {"groups": ids})["groups"] if ids else []
        if not group:
            return [{"group": g["group_id"], "state": g["group_state"],
                     "protocol": g["protocol_data"] or None, "members": len(g["members"])}
                    for g in described]
        g = described[0]
        owner = {}
        for m in g["members"]:
            for tp in assigned_partitions(m["member_assignment"]):
                owner[tp] = m
        fetched = c.call(9, {"group_id": group, "topics": None})
        committed = {(t["name"], p["partition_index"]): p["committed_offset"]
                     for t in fetched["topics"] for p in t["partitions"]}
        parts = sorted(set(owner) | set(committed))
        ends = c.offsets(parts, LATEST) if parts else {}
    finally:
        c.close()
    return _describe_rows(group, g["group_state"], parts, committed, ends,
                          {tp: (m["member_id"], m["client_host"], m["client_id"])
                           for tp, m in owner.items()})


def _file_groups(args: argparse.Namespace, group: str | None) -> list[dict[str, Any]]:
    on_disk = files.groups(args.data)
    ids = sorted(set(on_disk.groups) | {g for g, o in on_disk.offsets.items() if o})
    if not group:
        out = []
        for gid in ids:
            g = on_disk.groups.get(gid)
            out.append({"group": gid, "state": "Stable" if g and g.members else "Empty",
                        "protocol": g.protocol if g else None,
                        "members": len(g.members) if g else 0})
        return out
    g = on_disk.groups.get(group)
    owner = {}
    for m in g.members if g else []:
        for tp in assigned_partitions(m.assignment):
            owner[tp] = (m.member_id, m.client_host, m.client_id)
    committed = {tp: c.offset for tp, c in on_disk.offsets.get(group, {}).items()}
    parts = sorted(set(owner) | set(committed))
    ends = {tp: files.partition_files(args.data, *tp).end_offset for tp in parts}
    state = "Stable" if g and g.members else ("Empty" if group in ids else "Dead")
    return _describe_rows(group, state, parts, committed, ends, owner)


def _describe_rows(
    group: str,
    state: str,
    parts: list[tuple[str, int]],
    committed: dict[tuple[str, int], int],
    ends: dict[Any, int],
    owner: dict[tuple[str, int], tuple[str, str, str]],
) -> list[dict[str, Any]]:
    rows = []
    for tp in parts:
        current = committed.get(tp, -1)
        end = ends.get(tp, -1)
        member = owner.get(tp)
        rows.append({
            "group": group, "state": state, "topic": tp[0], "partition": tp[1],
            "current_offset": current if current >= 0 else None,
            "log_end_offset": end if end >= 0 else None,
            "lag": end - current if current >= 0 and end >= 0 else None,
            "consumer_id": member[0] if member else None,
            "host": member[1] if member else None,
            "client_id": member[2] if member else None,
        })
    return rows


def cmd_groups(args: argparse.Namespace, out: IO[str] = sys.stdout) -> bool:
    group = args.describe
    rows = _server_groups(args, group) if args.bootstrap else _file_groups(args, group)
    if group:
        cols = ["group", "topic", "partition", "current_offset", "log_end_offset", "lag",
                "consumer_id", "host", "client_id"]
        if not rows and not args.json:
            out.write(f"Consumer group '{group}' has no committed offsets or members.\n")
            return True
    else:
        cols = ["group", "state", "protocol", "members"]
    _print(rows, cols, args.json, out)
    return True
