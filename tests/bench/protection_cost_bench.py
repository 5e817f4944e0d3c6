#!/usr/bin/env python3
"""The cost of protection (issue 17, item 4): figures, not pass/fail.

Debian's kernel (128 MiB, the test initramfs) in Bochs, the same guest, client and machine in one
run, three ways:
  standalone   mode=standalone: no link, no replication
  unprotected  mode=checkpoint role=primary before any backup joined (the engine idle)
  protected    the same primary once its backup holds the guest (every reply waits for its
               epoch's acknowledgement: output commit)
Measured from the client namespace, judged outside tandem:
  * latency: GET /blob.bin.sha256 (a small file) on a new TCP connection each time, one after
    the other: curl's time_total, p50/p95/max; every body compared with the digest the test
    initramfs was built with;
  * throughput: /blob.bin (1 MiB) downloaded in full, sha256 computed here: MB/s;
  * with --stress, a second pass boots the guest with tandem.stress=1 (4 MiB from /dev/urandom
    into tmpfs and hashed, in a loop: a CPU-and-memory workload) and prints its rounds per minute
    of the guest's own clock in each of the three ways.
Both machines run with `clock: sync=slowdown`, so the client's clock is the machines' (Bochs may
fall behind real time on a loaded host: run it alone).

Reproduce (root: network namespaces; ~10 min, ~20 with --stress):
  cmake --build build && tests/guests/linux/fetch_assets.sh build/guest-assets
  sudo env PYTHONPATH=tools:tests/e2e TANDEM_BUILD=build python3 tests/bench/protection_cost_bench.py \\
      [--requests 40] [--downloads 3] [--stress] [--epoch-ms 25]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import time

from tandem_lab.console_patterns import CONSOLE_READY, PROTECTED_BACKUP, PROTECTED_PRIMARY
from tandem_lab.pair_lab import PairLab
from tandem_lab.paths import build_dir, require_built

USERSPACE = r"^guest: tandem-guest: userspace ready: eth0"
URL = "http://10.0.2.15/"
STEP = 600


def expected_digest() -> str:
    return (build_dir() / "guest-assets" / "blob.sha256").read_text().split()[0]


def curl(lab: PairLab, path: str, timeout: float = 120) -> tuple[bytes, float]:
    """One GET on a new connection: the body and curl's time_total (s)."""
    p = subprocess.run(lab.net.prefix() + ["curl", "--silent", "--show-error", "--max-time", str(timeout), "-o", "-",
                                           "-w", "%{stderr}%{time_total}\n", URL + path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"curl {path}: {p.stderr.decode(errors='replace')}")
    return p.stdout, float(p.stderr.decode().strip().splitlines()[-1])


def measure_http(lab: PairLab, requests: int, downloads: int) -> dict:
    digest = expected_digest()
    latencies = []
    for _ in range(requests):
        body, seconds = curl(lab, "blob.bin.sha256")
        if body.split()[0].decode() != digest:
            raise RuntimeError(f"a wrong body: {body[:100]!r}")
        latencies.append(seconds * 1000)
    rates = []
    for _ in range(downloads):
        body, seconds = curl(lab, "blob.bin", timeout=900)
        if hashlib.sha256(body).hexdigest() != digest:
            raise RuntimeError(f"blob.bin arrived wrong ({len(body)} bytes)")
        rates.append(len(body) / seconds / 1e6)
    return {"latency": latencies, "rate": rates}


def stress_pace(console: str, since: int) -> tuple[int, float]:
    from test_soak_bochs import stress_pace as pace  # rounds, and rounds per minute of guest time
    return pace(console, since)


def wait_rounds(machine, since: int, more: int) -> int:
    deadline = time.monotonic() + STEP
    while stress_pace(machine.console(), 0)[0] < since + more:
        if time.monotonic() > deadline:
            raise RuntimeError("the stress loop made no progress")
        time.sleep(2)
    return stress_pace(machine.console(), 0)[0]


def run_pass(args, stress: bool) -> dict:
    guest_args = "tandem.stress=1" if stress else ""
    figures: dict[str, dict] = {}
    for way in ("standalone", "pair"):
        lab = PairLab(f"bench-protection-{way}{'-stress' if stress else ''}", seed=1, guest="linux",
                      epoch_ms=args.epoch_ms, guest_args=guest_args, hard_timeout=3600)
        try:
            a = lab.boot(0, "standalone" if way == "standalone" else "primary")
            a.wait_for(CONSOLE_READY, STEP)
            a.wait_for(USERSPACE, STEP)
            first = "standalone" if way == "standalone" else "unprotected"
            figures[first] = measure(lab, a, args, stress)
            if way == "pair":
                lab.boot(1, "backup").wait_for(PROTECTED_BACKUP, 3 * STEP)
                a.wait_for(PROTECTED_PRIMARY, STEP)
                time.sleep(10)  # past the pre-copy's last rounds
                figures["protected"] = measure(lab, a, args, stress)
        finally:
            lab.close()
    return figures


def measure(lab: PairLab, machine, args, stress: bool) -> dict:
    if stress:
        start = wait_rounds(machine, 0, 1)
        wait_rounds(machine, start, args.rounds)
        return {"pace": stress_pace(machine.console(), start - 1)[1]}
    return measure_http(lab, args.requests, args.downloads)


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"p50 {statistics.median(values):7.1f}  p95 {p95:7.1f}  max {values[-1]:7.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40, help="small GETs per way, each on a new connection")
    parser.add_argument("--downloads", type=int, default=3, help="1 MiB downloads per way")
    parser.add_argument("--stress", action="store_true", help="also the CPU-and-memory workload (tandem.stress=1)")
    parser.add_argument("--rounds", type=int, default=6, help="stress rounds measured per way")
    parser.add_argument("--epoch-ms", type=int, default=25, help="the pair's epoch length (tandem's default: 25)")
    args = parser.parse_args()
    require_built()
    http = run_pass(args, stress=False)
    stress = run_pass(args, stress=True) if args.stress else {}
    print(f"\nThe cost of protection: Debian's kernel (128 MiB) in Bochs, epochs of {args.epoch_ms} ms, one run")
    print(f"{'':12} {'GET small file on a new connection (ms)':42} {'1 MiB download (MB/s)':24}"
          + (" stress rounds/min" if stress else ""))
    base = statistics.median(http["standalone"]["rate"]) if http["standalone"]["rate"] else 0
    for way in ("standalone", "unprotected", "protected"):
        h = http[way]
        rate = statistics.median(h["rate"]) if h["rate"] else 0.0
        line = f"{way:12} {summary(h['latency']):42} {rate:6.3f} ({rate / base if base else 0:4.2f}x)"
        if stress:
            pace = stress[way]["pace"]
            line += f"      {pace:6.2f} ({pace / stress['standalone']['pace'] if stress['standalone']['pace'] else 0:4.2f}x)"
        print(line)
    print(f"{args.requests} GETs of /blob.bin.sha256 and {args.downloads} downloads of /blob.bin per way, every body "
          f"checked against the digest computed outside tandem")
    print("Reproduce: sudo env PYTHONPATH=tools:tests/e2e TANDEM_BUILD=build python3 tests/bench/protection_cost_bench.py "
          + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
