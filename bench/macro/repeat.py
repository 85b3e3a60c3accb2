"""Run a macro benchmark several times and report each figure as the median
with its spread (min-max) over the runs: one run on a shared machine proves
little.  The benchmark must take ``--json`` and print one JSON object with a
``rows`` list (the Kafka benchmarks do); rows are matched across runs by
their non-numeric fields.

    python bench/macro/repeat.py --runs 3 bench/macro/kafka_throughput.py --kafka
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any


def _key(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in row.items()
                        if not isinstance(v, (int, float)) or isinstance(v, bool)))


def summarize(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    order: list[tuple[tuple[str, str], ...]] = []
    values: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
    for rows in runs:
        for row in rows:
            k = _key(row)
            if k not in values:
                order.append(k)
                values[k] = {}
            for field, v in row.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    values[k].setdefault(field, []).append(float(v))
    out = []
    for k in order:
        row: dict[str, Any] = dict(k)
        for field, vs in values[k].items():
            row[field] = {"median": statistics.median(vs), "min": min(vs), "max": max(vs),
                          "n": len(vs)}
        out.append(row)
    return out


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("script")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    runs = []
    name = a.script
    for i in range(a.runs):
        p = subprocess.run([sys.executable, a.script, *a.args, "--json"], capture_output=True,
                           text=True, check=True)
        doc = json.loads(p.stdout.strip().splitlines()[-1])
        name = doc.get("benchmark", name)
        runs.append(doc["rows"])
        print(f"# run {i + 1}/{a.runs} done", file=sys.stderr, flush=True)
    summary = summarize(runs)
    if a.json:
        print(json.dumps({"benchmark": name, "runs": a.runs, "rows": summary}))
        return 0
    print(f"# {name}: median [min-max] of {a.runs} runs")
    for row in summary:
        print("  " + "  ".join(
            f"{k}={_fmt(v['median'])} [{_fmt(v['min'])}-{_fmt(v['max'])}]" if isinstance(v, dict)
            else f"{k}={v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
