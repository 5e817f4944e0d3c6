#!/usr/bin/env python3
"""Lockstep against checkpoint mode and standalone (issue 13): figures, not pass/fail.

Debian's kernel (128 MiB, the test initramfs) in Bochs serving HTTP, the same guest, client and
machines in one run, three ways:
  standalone   mode=standalone: no link, no replication
  checkpoint   a protected checkpoint-mode pair (every reply waits for its epoch's acknowledgement)
  lockstep     a protected lockstep pair (a reply leaves once the backup's guest sent the same)
Measured from the client namespace, judged outside tandem:
  * latency: GET /blob.bin.sha256 (a small file) on a new TCP connection each time, one after the
    other: curl's time_total, p50/p95/max; every body compared with the digest the test
    initramfs was built with;
  * throughput: /blob.bin (1 MiB) downloaded in full, sha256 computed here: MB/s;
  * checkpoints per request: the epochs the backup acknowledged during the requests, counted by
    the test hub from the link frames' clear header (EPOCH_ACK frames, type 7; an epoch's own
    records travel inside PAGES messages);
and, for lockstep, the primary's own figures (output released by match / early / by checkpoint,
checkpoints by reason, the comparison lag) and the backup's (generations run, client input
delivered, output sent) as their consoles printed them.
Targets (issue 13, not assertions): >= 90 % of reply segments released by match, <= 1 checkpoint
per 20 requests, lockstep's median latency <= half of checkpoint mode's.

Reproduce (root: network namespaces; ~15 min):
  cmake --build build && tests/guests/linux/fetch_assets.sh build/guest-assets
  sudo env PYTHONPATH=tools:tests/e2e:tests/bench TANDEM_BUILD=build python3 tests/bench/lockstep_bench.py \\
      [--requests 100] [--downloads 2] [--only standalone|checkpoint|lockstep]
"""

from __future__ import annotations

import argparse
import re
import sys
import time

from protection_cost_bench import STEP, USERSPACE, measure_http, summary
from tandem_lab.console_patterns import CONSOLE_READY, LOCKSTEP_RUNNING, PROTECTED_BACKUP, PROTECTED_PRIMARY
from tandem_lab.pair_lab import PairLab
from tandem_lab.paths import require_built

EPOCH_ACK = 7  # frame_header.hpp


def lockstep_figures(console: str) -> list[str]:
    """The primary's last three lockstep figure lines."""
    lines = [line for line in console.splitlines() if re.match(r"^lockstep: (generation|checkpoints by|client input)", line)]
    return lines[-3:]


def run_way(way: str, args) -> dict:
    lab = PairLab(f"bench-lockstep-{way}", seed=1, guest="linux", epoch_ms=args.epoch_ms, hard_timeout=3600,
                  pair_mode="lockstep" if way == "lockstep" else "checkpoint")
    try:
        a = lab.boot(0, "standalone" if way == "standalone" else "primary")
        a.wait_for(CONSOLE_READY, STEP)
        a.wait_for(USERSPACE, STEP)
        if way != "standalone":
            b = lab.boot(1, "backup")
            b.wait_for(PROTECTED_BACKUP, 3 * STEP)
            a.wait_for(PROTECTED_PRIMARY, STEP)
            if way == "lockstep":
                b.wait_for(LOCKSTEP_RUNNING, STEP)
            time.sleep(10)  # past the pre-copy's last rounds
        epochs_before = lab.hub_frame_types().get(EPOCH_ACK, 0) if lab.hub else 0
        figures = measure_http(lab, args.requests, 0)
        epochs = (lab.hub_frame_types().get(EPOCH_ACK, 0) if lab.hub else 0) - epochs_before
        downloads = measure_http(lab, 0, args.downloads)
        figures["rate"] = downloads["rate"]
        figures["epochs"] = epochs
        if way == "lockstep":
            time.sleep(11)  # the primary prints its figures every 10 s
            figures["lockstep"] = lockstep_figures(a.tandem_console())
            figures["backup"] = [line for line in b.tandem_console().splitlines()
                                 if line.startswith("lockstep: backup guest")][-1:]
        return figures
    finally:
        lab.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="small GETs per way, each on a new connection")
    parser.add_argument("--downloads", type=int, default=2, help="1 MiB downloads per way")
    parser.add_argument("--epoch-ms", type=int, default=25, help="checkpoint mode's epoch (tandem's default: 25)")
    parser.add_argument("--only", choices=("standalone", "checkpoint", "lockstep"), help="one way alone")
    args = parser.parse_args()
    require_built()
    ways = (args.only,) if args.only else ("standalone", "checkpoint", "lockstep")
    results = {way: run_way(way, args) for way in ways}
    print(f"\nLockstep, checkpoint mode and standalone: Debian's kernel (128 MiB) in Bochs, one run")
    print(f"{'':11} {'GET small file on a new connection (ms)':42} {'1 MiB (MB/s)':13} checkpoints per request")
    for way, r in results.items():
        rate = sorted(r["rate"])[len(r["rate"]) // 2] if r["rate"] else 0.0
        per_request = f"{r['epochs'] / args.requests:.2f}" if way != "standalone" else "-"
        print(f"{way:11} {summary(r['latency']):42} {rate:6.3f}        {per_request}")
    for line in results.get("lockstep", {}).get("lockstep", []):
        print(f"lockstep primary: {line}")
    for line in results.get("lockstep", {}).get("backup", []):
        print(f"lockstep backup:  {line}")
    print(f"{args.requests} GETs of /blob.bin.sha256 and {args.downloads} downloads of /blob.bin per way, every body "
          f"checked against the digest computed outside tandem; checkpoints counted on the link by the test hub")
    print("Reproduce: sudo env PYTHONPATH=tools:tests/e2e:tests/bench TANDEM_BUILD=build python3 "
          "tests/bench/lockstep_bench.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
