#!/usr/bin/env python3
"""Protected-pair benchmark (issue 6): figures, not pass/fail.

Two Bochs machines (tandem_lab.pair_lab: link through the test hub, client network in a
namespace, the counter service in the guest), `clock: sync=slowdown` so both machines and the
client share wall-clock time. Prints:
  * the failover gap: last reply from the old primary to first reply from the new one, in the
    client's clock, for several kill points (silence timeout + probe window + restore + resend),
    and the takeover's stages as the new primary timed them (its `pair: takeover stages` line);
  * request round trips unprotected (before a backup joins) and protected (output commit: a
    reply waits for the end of its epoch and the backup's acknowledgement);
  * the epochs' capture pause, dirty pages and stream bytes from the primary's epoch report.
Emulated time: Bochs' TSC runs at 50 M instructions/s, so pause microseconds are instruction
counts / 50. Wall-clock figures depend on the host's load (Bochs may fall behind real time).

Reproduce (root: network namespaces):
    cmake --build build && sudo env PYTHONPATH=tools python3 tests/bench/pair_bench.py [kills] [epoch_ms] [failover_ms]
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time

from tandem_lab.console_patterns import CONSOLE_READY, EPOCH_REPORT, PROTECTED_BACKUP, PROTECTED_PRIMARY, TOOK_OVER
from tandem_lab.pair_lab import PairLab
from tandem_lab.paths import require_built

TSC_KHZ = 50_000
STEP = 300
STAGES = re.compile(r"pair: takeover stages from the primary's last frame on the link: silence noticed at (\d+) ms, "
                    r"probe window over at (\d+) ms, guest restored and announced at (\d+) ms \(in (\d+) us\)")


def wait_count(machine, pattern: str, more_than: int) -> None:
    deadline = time.monotonic() + STEP
    while len(re.findall(pattern, machine.tandem_console(), re.M)) <= more_than:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for /{pattern}/")
        time.sleep(0.2)


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return (f"n={len(values)} min {min(values):.0f} median {statistics.median(values):.0f} "
            f"mean {statistics.mean(values):.0f} max {max(values):.0f}")


def main() -> int:
    require_built()
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    epoch_ms = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    failover_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    rng = random.Random(1)
    lab = PairLab("bench-pair", seed=1, epoch_ms=epoch_ms, failover_ms=failover_ms, extra="epoch_report=1")
    gaps: list[float] = []
    stages: list[tuple[int, ...]] = []
    epochs: list[tuple[int, ...]] = []
    try:
        a = lab.boot(0, "primary")
        a.wait_for(CONSOLE_READY, STEP)
        lab.start_client(interval=0.02, timeout=0.1)  # retries every 100 ms: the gap's resolution
        lab.wait_replies(50, STEP)
        unprotected_rtts = [r["rtt"] * 1000 for r in lab.replies()[5:]]
        machines, primary = lab.machines, 0
        lab.boot(1, "backup").wait_for(PROTECTED_BACKUP, STEP)
        a.wait_for(PROTECTED_PRIMARY, STEP)
        n = len(lab.replies())
        lab.wait_replies(n + 100, STEP)
        protected_rtts = [r["rtt"] * 1000 for r in lab.replies()[n:] if r["tries"] == 1]
        for _ in range(kills):
            backup = 1 - primary
            lab.wait_replies(len(lab.replies()) + 20, STEP)
            time.sleep(rng.uniform(0, 1))
            console = machines[primary].tandem_console()
            epochs += [tuple(int(x) for x in m) for m in EPOCH_REPORT.findall(console)]
            before = lab.replies()
            killed_at = lab.kill(primary)
            machines[backup].wait_for(TOOK_OVER, STEP)
            lab.wait_replies(len(before) + 3, STEP)
            gaps.append(lab.failover_gap(primary, backup, killed_at) * 1000)
            machines[backup].wait_for(STAGES.pattern, STEP)
            stages.append(tuple(int(x) for x in STAGES.findall(machines[backup].tandem_console())[-1]))
            protected = len(re.findall(PROTECTED_PRIMARY, machines[backup].tandem_console(), re.M))
            lab.boot(primary, "backup").wait_for(PROTECTED_BACKUP, STEP)
            wait_count(machines[backup], PROTECTED_PRIMARY, protected)
            primary = backup
        lab.stop_client()
        replies = lab.replies()
        values = [r["value"] for r in replies]
        history_ok = values == list(range(1, len(values) + 1))
    finally:
        lab.close()

    steady = [e for e in epochs if e[1] < 4096]  # the full copies are not steady-state epochs
    print(f"Protected pair in Bochs: epochs of {epoch_ms} ms, failover after {failover_ms} ms of link silence "
          f"+ a 50 ms probe window; {kills} kill points (seed 1)")
    print(f"failover gap, client clock (ms):         {summary(gaps)}")
    print(f"  silence noticed (ms after the primary's last link frame, the backup's clock): "
          f"{summary([float(x[0]) for x in stages])}")
    print(f"  probe window over (ms after it):       {summary([float(x[1]) for x in stages])}")
    print(f"  guest restored and announced (ms):     {summary([float(x[2]) for x in stages])}")
    print(f"  restore and announce alone (us):       {summary([float(x[3]) for x in stages])}")
    print(f"request round trip unprotected (ms):     {summary(unprotected_rtts)}")
    print(f"request round trip protected (ms):       {summary(protected_rtts)}")
    print(f"capture pause per epoch (emulated us):   {summary([e[2] * 1000 / TSC_KHZ for e in steady])}")
    print(f"dirty pages per epoch:                   {summary([float(e[1]) for e in steady])}")
    print(f"stream bytes per epoch:                  {summary([float(e[4]) for e in steady])}")
    print(f"client history 1..{len(values)} across {kills} failovers: {'intact' if history_ok else 'BROKEN'}")
    print("Reproduce: cmake --build build && sudo env PYTHONPATH=tools python3 tests/bench/pair_bench.py "
          f"{kills} {epoch_ms} {failover_ms}")
    return 0 if history_ok else 1


if __name__ == "__main__":
    sys.exit(main())
