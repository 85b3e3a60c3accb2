"""Compaction speed and memory: Log.compact over a log of --gib GiB whose records carry
--keys distinct keys, against copying the same segment files (os.sendfile file to file,
and `cp`) in the same run, from a warm page cache.  Reports the ratio of throughputs
(target >= 0.3x the copy) and the anonymous memory compaction took beyond its key map
(target: within buffer_bytes).

    python bench/macro/compaction.py [--gib 1] [--keys 1000000] [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

BUILD = textwrap.dedent("""
    import sys
    import numpy as np
    import streamcore
    path, gib = sys.argv[1], float(sys.argv[2])
    keys, value_len, seg = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    rng = np.random.default_rng(7)
    log = streamcore.Log(path, segment_bytes=seg)
    key_len = 11
    per_record = key_len + value_len + 20
    total = int(gib * (1 << 30) / per_record)
    chunk = 100_000
    done = 0
    while done < total:
        n = min(chunk, total - done)
        ids = rng.integers(0, keys, n)
        kb = b"".join(b"key-%07d" % i for i in ids.tolist())
        vb = rng.integers(0, 255, n * value_len, dtype=np.uint8).tobytes()
        log.append_columns(vb, np.full(n, value_len, np.int32), kb, np.full(n, key_len, np.int32),
                           timestamps=1_000_000)
        done += n
    log.roll()  # everything above is sealed, so compaction works on all of it
    log.append([b"tail"], keys=[b"tail"])
    log.close()
    print(total)
""")

COMPACT = textwrap.dedent("""
    import json, sys, threading, time
    import streamcore
    path, buffer_bytes, seg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    def anon():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    log = streamcore.Log(path, segment_bytes=seg)
    before = log.size_bytes
    peak = [anon()]
    base = peak[0]
    done = threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anon())
            time.sleep(0.005)
    th = threading.Thread(target=sample)
    th.start()
    t = time.perf_counter()
    rep = log.compact(buffer_bytes=buffer_bytes, now_ms=2_000_000)
    dt = time.perf_counter() - t
    done.set()
    th.join()
    print(json.dumps({"seconds": dt, "bytes_in": rep.bytes_before, "bytes_out": rep.bytes_after,
                      "removed": rep.records_removed, "passes": rep.passes,
                      "anon_growth": peak[0] - base, "log_bytes": before}))
    log.close()
""")


def segment_files(path: str) -> list[str]:
    return sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".log"))


def warm(files: list[str]) -> None:
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass


def sendfile_copy(files: list[str], dest: str) -> float:
    os.makedirs(dest, exist_ok=True)
    t = time.perf_counter()
    for f in files:
        with open(f, "rb") as src, open(os.path.join(dest, os.path.basename(f)), "wb") as dst:
            size = os.fstat(src.fileno()).st_size
            off = 0
            while off < size:
                off += os.sendfile(dst.fileno(), src.fileno(), off, size - off)
    dt = time.perf_counter() - t
    shutil.rmtree(dest)
    return dt


def cp_copy(files: list[str], dest: str) -> float:
    os.makedirs(dest, exist_ok=True)
    t = time.perf_counter()
    subprocess.run(["cp", *files, dest], check=True)
    dt = time.perf_counter() - t
    shutil.rmtree(dest)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--value-len", type=int, default=100)
    ap.add_argument("--buffer-bytes", type=int, default=64 << 20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--segment-mib", type=int, default=256)
    ap.add_argument("--json")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="sc-compact-", dir=os.environ.get("BENCH_DIR"))
    rows = []
    try:
        src = os.path.join(base, "src")
        n = int(
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    BUILD,
                    src,
                    str(args.gib),
                    str(args.keys),
                    str(args.value_len),
                    str(args.segment_mib << 20),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        for run in range(args.runs):
            work = os.path.join(base, f"work{run}")
            shutil.copytree(src, work)
            files = segment_files(work)
            size = sum(os.path.getsize(f) for f in files)
            warm(files)
            # copy, compact, copy: the baselines bracket the measurement
            c1 = sendfile_copy(files, os.path.join(base, "copy"))
            k1 = cp_copy(files, os.path.join(base, "cp"))
            warm(files)
            r = json.loads(
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        COMPACT,
                        work,
                        str(args.buffer_bytes),
                        str(args.segment_mib << 20),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            c2 = sendfile_copy(
                files if all(map(os.path.exists, files)) else segment_files(work),
                os.path.join(base, "copy"),
            )
            copy_s = statistics.median([c1, c2])
            row = {
                "records": n,
                "input_bytes": size,
                "compact_s": r["seconds"],
                "compact_gbps": size / r["seconds"] / 1e9,
                "sendfile_copy_gbps": size / copy_s / 1e9,
                "cp_gbps": size / k1 / 1e9,
                "ratio_vs_sendfile": copy_s / r["seconds"],
                "ratio_vs_cp": k1 / r["seconds"],
                "passes": r["passes"],
                "records_removed": r["removed"],
                "output_bytes": r["bytes_out"],
                "anon_growth_mib": r["anon_growth"] / 2**20,
                "buffer_mib": args.buffer_bytes / 2**20,
            }
            rows.append(row)
            print(
                f"run {run}: {size / 2**30:.2f} GiB, {n} records, {args.keys} keys: compact "
                f"{row['compact_gbps']:.2f} GB/s ({r['seconds']:.2f} s, {r['passes']} pass) vs "
                f"sendfile copy {row['sendfile_copy_gbps']:.2f} GB/s, "
                f"cp {row['cp_gbps']:.2f} GB/s -> "
                f"{row['ratio_vs_sendfile']:.2f}x / {row['ratio_vs_cp']:.2f}x; anon growth "
                f"{row['anon_growth_mib']:.1f} MiB (buffer {row['buffer_mib']:.0f} MiB)",
                flush=True,
            )
            shutil.rmtree(work)
        ratios = [r["ratio_vs_sendfile"] for r in rows]
        print(
            f"median ratio vs sendfile copy {statistics.median(ratios):.2f}x "
            f"(spread {min(ratios):.2f}-{max(ratios):.2f})"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
