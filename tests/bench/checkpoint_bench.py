#!/usr/bin/env python3
"""Checkpoint benchmark (issue 4): figures, not pass/fail.

Runs memwalk under local loopback checkpointing in Bochs with `clock: sync=none` (deterministic:
the same figures every run on any host) and 10 ms epochs, for capture=copy and capture=cow, over
several working-set sizes, with tandem's per-epoch report (epoch_report=1). Prints:
  * the capture pause per epoch against the epoch's dirty pages, for copy and copy-on-write;
  * checkpoint stream bytes per dirty byte (delta and zero-page encoding at work).
Times are emulated: Bochs' TSC advances once per instruction at ips=50M, so microseconds here
are instruction counts / 50, not the speed of a real CPU; compare copy and cow with each other.

Reproduce: cmake --build build && PYTHONPATH=tools python3 tests/bench/checkpoint_bench.py
"""

from __future__ import annotations

import statistics
import sys

from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import EPOCH_REPORT, HALTED
from tandem_lab.media import make_iso
from tandem_lab.paths import guests_dir, require_built, workdir

TSC_KHZ = 50_000  # Bochs ips=50M: the TSC advances 50,000 times per emulated millisecond
BUCKETS = [(1, 31), (32, 127), (128, 511), (512, 4096)]


def run(capture: str, pages: int, passes: int) -> list[tuple[int, ...]]:
    name = f"bench-ckpt-{capture}-{pages}"
    wd = workdir(name)
    iso = make_iso(wd / "tandem.iso", modules=[(guests_dir() / "memwalk.elf", "memwalk")],
                   cmdline=f"guest_kernel=memwalk guest_mem=16M mode=checkpoint peer=local epoch_ms=10 "
                           f"capture={capture} epoch_report=1 \"guest_cmdline=pages={pages} passes={passes}\"")
    console = Bochs(wd, iso, megs=512, hard_timeout=600).run_until(HALTED, 580)
    return [tuple(int(x) for x in m) for m in EPOCH_REPORT.findall(console)][1:]  # epoch 0 is the full copy


def main() -> int:
    require_built()
    figures: dict[str, list[tuple[int, ...]]] = {"copy": [], "cow": []}
    for capture in figures:
        for pages, passes in ((32, 40), (128, 12), (512, 4), (1536, 2)):
            figures[capture] += run(capture, pages, passes)

    print("Capture pause per epoch (emulated microseconds at 50 M instructions/s) by dirty pages per epoch")
    print(f"{'dirty pages':>12} | {'copy: epochs':>12} {'mean':>8} {'max':>8} | {'cow: epochs':>11} {'mean':>8} {'max':>8}")
    for low, high in BUCKETS:
        row = [f"{low}-{high}".rjust(12)]
        for capture in ("copy", "cow"):
            pauses = [e[2] * 1000 // TSC_KHZ for e in figures[capture] if low <= e[1] <= high]
            if pauses:
                row.append(f"{len(pauses):>12} {int(statistics.mean(pauses)):>8} {max(pauses):>8}")
            else:
                row.append(f"{0:>12} {'-':>8} {'-':>8}")
        print(" | ".join(row))
    for capture in ("copy", "cow"):
        dirty = sum(e[1] for e in figures[capture])
        stream = sum(e[4] for e in figures[capture])
        kinds = [sum(e[i] for e in figures[capture]) for i in (5, 6, 7)]
        cow = sum(e[8] for e in figures[capture])
        print(f"{capture}: {len(figures[capture])} epochs, {dirty} dirty pages, {stream} stream bytes = "
              f"{stream / max(1, dirty * 4096):.3f} bytes per dirty byte (full {kinds[0]}, delta {kinds[1]}, "
              f"zero {kinds[2]}; copy-on-write copies {cow})")
    print("Reproduce: cmake --build build && PYTHONPATH=tools python3 tests/bench/checkpoint_bench.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
