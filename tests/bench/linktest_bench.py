#!/usr/bin/env python3
"""Replication-link benchmark (issue 5): figures, not pass/fail.

Two Bochs machines run `mode=linktest` through the test hub (tandem_lab.testhub), each sending N MiB
of pseudo-random data to the other at once, first on a clean link, then with 5 % loss, 5 %
reordering and 1 % corrupted frames; the throughput, retransmissions and rejected frames are
what both tandems print. In the same run, the host AEAD benchmark (build/tests/bench/aead_bench)
compares tandem's ChaCha20-Poly1305 with libsodium's. Bochs' socket NIC hands the guest one frame
per emulated millisecond, which bounds the clean figure; with faults the emulated CPU is the limit.

Reproduce: cmake --build build && PYTHONPATH=tools python3 tests/bench/linktest_bench.py [MiB]
"""

from __future__ import annotations

import re
import subprocess
import sys

from tandem_lab.console_patterns import LINKTEST_RESULT, LINKTEST_SPEED
from tandem_lab.linktest import KEY, pair
from tandem_lab.paths import build_dir, require_built



def counter(console: str, pattern: str) -> str:
    m = re.search(pattern, console, re.M)
    return m.group(1) if m else "?"


def main() -> int:
    require_built()
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    runs = [("clean", {}), ("5% loss + 5% reorder + 1% corrupt",
                           {"loss": 0.05, "reorder": 0.05, "corrupt": 0.01, "filter_ethertype": 0x88B5})]
    rows = []
    for label, faults in runs:
        primary, backup, _ = pair(f"bench-link-{len(rows)}", (f"key={KEY} linktest_mib={mib}",) * 2, 1800, **faults)
        for side, console in (("primary", primary), ("backup", backup)):
            speed = LINKTEST_SPEED.search(console)
            verdict = LINKTEST_RESULT.search(console)
            rows.append((label, side, speed.group(3) if speed else "-", speed.group(2) if speed else "-",
                         counter(console, r"rejected: bad tag (\d+)"),
                         verdict.group(8) if verdict else "did not finish"))
    print(f"linktest in Bochs, {mib} MiB each way at once (KiB/s: both directions together, as each side measured)")
    print(f"{'link':<36} {'side':<8} {'KiB/s':>7} {'ms':>7} {'bad tags':>9}  result")
    for label, side, speed, ms, bad, result in rows:
        print(f"{label:<36} {side:<8} {speed:>7} {ms:>7} {bad:>9}  {result}")
    aead = build_dir() / "tests" / "bench" / "aead_bench"
    if aead.exists():
        print("\nHost AEAD, the same run:")
        print(subprocess.run([str(aead)], capture_output=True, text=True, check=True).stdout.rstrip())
    else:
        print(f"\n{aead} is not built (libsodium-dev missing): no AEAD comparison")
    print(f"\nReproduce: cmake --build build && PYTHONPATH=tools python3 tests/bench/linktest_bench.py {mib}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
