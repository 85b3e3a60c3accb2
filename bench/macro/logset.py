"""Many logs: a LogManager holding N logs of one record each, against the same N logs as
standalone Log objects, in one run.  Measures disk (du), open, appending one record to
every log, anonymous memory per idle log, open descriptors and mappings, a clean close
with one log dirty, and a kill -9 of a process holding them all (nothing acknowledged
lost, reopen time).

    python bench/macro/logset.py [--counts 1000,2000,5000,10000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

CHILD = textwrap.dedent("""
    import gc, json, os, sys, time
    import streamcore
    root, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def fds():
        return len(os.listdir("/proc/self/fd"))

    def maps():
        with open("/proc/self/maps") as f:
            return sum(1 for line in f if root in line)

    names = ["topic-%d" % i for i in range(n)]
    out = {}
    gc.collect()
    anon0 = status("RssAnon")
    t = time.perf_counter()
    if mode == "manager":
        mgr = streamcore.LogManager(root, segment_bytes=1 << 20)
        out["open_s"] = time.perf_counter() - t
        t = time.perf_counter()
        logs = [mgr.open(name) for name in names]
    else:
        logs = [streamcore.Log(os.path.join(root, name), segment_bytes=1 << 20) for name in names]
        out["open_s"] = 0.0
    for log in logs:
        log.append([b"x" * 100])
    out["create_and_append_s"] = time.perf_counter() - t
    gc.collect()
    out["anon_per_log"] = (status("RssAnon") - anon0) / n
    out["fds"] = fds()
    out["maps"] = maps()
    if mode == "manager":
        out["stats"] = mgr.stats()
    # Everything synced once (as a running broker's flusher would have done),
    # then one log dirty: what a clean close has to do.
    t = time.perf_counter()
    if mode == "manager":
        mgr.flush()
    else:
        for log in logs:
            log.flush()
    out["flush_all_s"] = time.perf_counter() - t
    logs[0].append([b"dirty"])
    t = time.perf_counter()
    if mode == "manager":
        mgr.close()
    else:
        for log in logs:
            log.close()
    out["close_s"] = time.perf_counter() - t
    t = time.perf_counter()
    if mode == "manager":
        mgr = streamcore.LogManager(root, segment_bytes=1 << 20)
        out["reopen_s"] = time.perf_counter() - t
        out["reopen_names"] = len(mgr.names())
        mgr.close()
    print(json.dumps(out))
""")

KILLER = textwrap.dedent("""
    import os, sys
    import streamcore
    root, n = sys.argv[1], int(sys.argv[2])
    mgr = streamcore.LogManager(root, segment_bytes=1 << 20)
    logs = [mgr.open("topic-%d" % i) for i in range(n)]
    os.write(1, b"ready\\n")
    i = 0
    while True:
        log = logs[i % n]
        off = log.append([b"record %d" % i])
        os.write(1, b"%d %d\\n" % (i % n, off))
        i += 1
""")


def du(path: str) -> int:
    out = subprocess.run(["du", "-sk", path], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) * 1024


def run_child(root: str, n: int, mode: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, root, str(n), mode],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        if mode == "standalone":  # the point of the comparison: it may not get that far
            return {"error": proc.stderr.strip().splitlines()[-1]}
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout)


def kill9(base: str, n: int) -> dict:
    root = os.path.join(base, "killed")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLER, root, str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(2.0)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    acked: dict[int, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            acked[int(parts[0])] = max(acked.get(int(parts[0]), -1), int(parts[1]))
    import streamcore

    t = time.perf_counter()
    mgr = streamcore.LogManager(root, segment_bytes=1 << 20)
    opened = time.perf_counter() - t
    lost = 0
    t = time.perf_counter()
    for i, last in acked.items():
        if mgr.get(f"topic-{i}").end_offset <= last:
            lost += 1
    check_s = time.perf_counter() - t
    mgr.close()
    return {
        "appends_acked": sum(v + 1 for v in acked.values()),
        "logs_checked": len(acked),
        "logs_losing_acked": lost,
        "reopen_s": opened,
        "open_and_check_every_log_s": check_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="1000,2000,5000,10000")
    ap.add_argument("--json")
    args = ap.parse_args()
    results = []
    for n in [int(x) for x in args.counts.split(",")]:
        row: dict = {"logs": n}
        for mode in ("manager", "standalone"):
            base = tempfile.mkdtemp(prefix="sc-logset-", dir=os.environ.get("BENCH_DIR"))
            try:
                root = os.path.join(base, "data")
                os.makedirs(root)
                r = run_child(root, n, mode)
                r["du_per_log"] = du(root) / n if "error" not in r else None
                row[mode] = r
                if mode == "manager" and n == max(int(x) for x in args.counts.split(",")):
                    row["kill9"] = kill9(base, n)
            finally:
                shutil.rmtree(base, ignore_errors=True)
        results.append(row)
        m, s = row["manager"], row["standalone"]
        alone = (f"standalone: failed: {s['error']}" if "error" in s else
                 f"standalone: du {s['du_per_log'] / 1024:7.1f} KiB/log, "
                 f"anon {s['anon_per_log'] / 1024:5.2f} KiB/log, fds {s['fds']}, "
                 f"maps {s['maps']}, close {s['close_s']:6.2f} s")
        print(
            f"{n:>6} logs | manager: open {m['open_s'] * 1e3:7.1f} ms, "
            f"append-all {m['create_and_append_s']:6.2f} s, "
            f"du {m['du_per_log'] / 1024:5.1f} KiB/log, "
            f"anon {m['anon_per_log'] / 1024:5.2f} KiB/log, "
            f"fds {m['fds']}, maps {m['maps']}, flush {m['flush_all_s']:5.2f} s, "
            f"close {m['close_s'] * 1e3:7.1f} ms, reopen {m['reopen_s'] * 1e3:6.1f} ms | "
            + alone,
            flush=True,
        )
        if "kill9" in row:
            print(f"        kill -9 with {n} logs: {row['kill9']}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
