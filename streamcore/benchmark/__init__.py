"""The ratio benchmarks behind ``streamcore bench``.

This package owns the performance targets of the storage core: each
benchmark runs a streamcore operation and its named baseline *interleaved in
the same run* (alternating repetitions, medians taken), and reports both
figures and their ratio.  The machine these run on is shared and noisy, so
the ratio against a baseline measured in the same minutes is the figure that
means something; absolute numbers are context.

Ratio convention: streamcore speed divided by baseline speed, so > 1 means
streamcore is faster (for throughputs: sc / base; for latencies: base / sc).

Benchmarks (``--only`` names), by module:

  checksum.py  crc32c          streamcore.crc32c vs google-crc32c and crc32c, 64 B / 4 KiB / 1 MiB
  writes.py    append_batch    Log.append_batch of ready 16 KiB batches vs os.write of the bytes
               append          Log.append of 1,000 x 100 B values vs os.write(b"".join(values))
               append_columns  Log.append_columns of the same records vs os.write of the values
               flush_always    flush="always" with 1/4/16 threads vs serial write + fdatasync
  reads.py     read            Log.read of 1 KiB (and 16 KiB) vs 1 MiB ranges: zero-copy claim
               records         Log.records() iteration vs kafka-python's reader; read_columns
               lookup          offset lookup latency, 10M-record log vs bisect over a list
               sendfile        Log.sendfile to loopback TCP vs os.sendfile of the same ranges
  memory.py    memory          append + read back N GB in a child process: RssAnon peak, maps
  recovery.py  recovery        open of a cleanly and an uncleanly closed many-segment log

and the machinery they share: harness.py (interleaving, medians, ratios, the
Row, Sizes and Context), workloads.py (payloads, batches, filled logs, scratch
files, optional baselines), runner.py (the command line, the registry, the
table and the JSON output).

Entry point: ``main(argv) -> int`` (the CLI's ``streamcore bench`` calls it).
numpy is imported only by the benchmarks that need it, so the memory child
stays small.
"""

from __future__ import annotations

from .runner import main

__all__ = ["main"]
