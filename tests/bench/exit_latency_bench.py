#!/usr/bin/env python3
"""Exit-latency benchmark (issue 14, defect 2): figures, not pass/fail.

Runs tests/guests/flood.cpp standalone in Bochs with `clock: sync=none` (deterministic: the same
figures every run on any host): 4096-byte print hypercalls, UART lines written without waiting
for the transmitter, storms of port I/O, CPUID and MSR exits, for a given time of guest TSC.
Prints the longest exit-to-resume time, as tandem measures it in its run loop (VM exit to the
next VM entry, with the exit reason) and as the guest sees it around each exiting instruction,
and how much guest output the console dropped. With --before, the same guest also runs under
another tandem image (the code before the buffered console and the host-clock ticks), which
does not measure itself: the guest's view is the figure to compare.

Times are emulated: Bochs' TSC advances once per instruction at ips=50M (50 TSC cycles per
microsecond); COM1 takes ~87 emulated microseconds per character at 115200 baud.

Reproduce:
  cmake --build build && PYTHONPATH=tools python3 tests/bench/exit_latency_bench.py [--seconds 10]
  the code before the fix (COMMIT: the parent of the buffered console's commit):
    mkdir -p /tmp/before && git archive COMMIT | tar -x -C /tmp/before
    cmake -S /tmp/before -B /tmp/before/build -G Ninja && cmake --build /tmp/before/build --target tandem_image
    PYTHONPATH=tools python3 tests/bench/exit_latency_bench.py --before /tmp/before/build/tandem.elf
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import HALTED
from tandem_lab.media import make_iso
from tandem_lab.paths import guests_dir, image, require_built, workdir

TSC_PER_US = 50  # Bochs ips=50M
TANDEM_LONGEST = re.compile(r"^vm: longest exit-to-resume (\d+) us \((\d+) TSC cycles\) at exit reason \d+ \(([^)]*)\); "
                            r"(\d+) of (\d+) exits measured$", re.M)
GUEST_LONGEST = re.compile(r"^guest: flood: the longest exit the guest saw: (\d+) TSC cycles = (\d+) us \(([^)]*)\)", re.M)
GUEST_DONE = re.compile(r"^guest: flood: done after (\d+) rounds in (\d+) ms: (\d+) print hypercall, (\d+) UART write, "
                        r"(\d+) port I/O, (\d+) CPUID, (\d+) RDMSR/WRMSR exits$", re.M)
DROPPED = re.compile(r"^console: (\d+) bytes \((\d+) lines\) of guest output dropped in all", re.M)


def run(label: str, tandem: Path, seconds: int) -> dict:
    wd = workdir(f"bench-exits-{label}")
    iso = make_iso(wd / "tandem.iso", image=tandem, modules=[(guests_dir() / "flood.elf", "flood")],
                   cmdline=f'guest_kernel=flood guest_mem=16M "guest_cmdline=seconds={seconds}"')
    console = Bochs(wd, iso, hard_timeout=300 + 30 * seconds).run_until(HALTED, 280 + 30 * seconds)
    figures = {"label": label, "image": tandem, "log": wd / "serial.log"}
    if m := TANDEM_LONGEST.search(console):
        figures["tandem"] = (int(m.group(1)), m.group(3), int(m.group(4)))
    if m := GUEST_LONGEST.search(console):
        figures["guest"] = (int(m.group(2)), m.group(3))
    if m := GUEST_DONE.search(console):
        figures["rounds"], figures["prints"] = int(m.group(1)), int(m.group(3))
        figures["exits"] = sum(int(m.group(i)) for i in range(3, 8))
    if m := DROPPED.search(console):
        figures["dropped"] = (int(m.group(1)), int(m.group(2)))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="guest time to flood (default 10)")
    parser.add_argument("--before", type=Path, help="another tandem.elf (the code before the fix) to run too")
    args = parser.parse_args()
    require_built()
    runs = [run("this", image(), args.seconds)]
    if args.before:
        runs.append(run("before", args.before.resolve(), args.seconds))

    print(f"tests/guests/flood.cpp for {args.seconds} s of guest time in deterministic Bochs (emulated time: "
          f"{TSC_PER_US} TSC cycles per us)")
    print(f"{'tandem':<10} {'longest exit (tandem)':<34} {'longest exit (guest)':<30} {'rounds':>7} {'prints':>7} "
          f"{'exits':>9}  guest output dropped")
    for r in runs:
        t = r.get("tandem")
        g = r.get("guest")
        d = r.get("dropped")
        tandem_col = f"{t[0]} us, {t[1]}" if t else "- (not measured)"
        guest_col = f"{g[0]} us, {g[1]}" if g else "- (no summary)"
        dropped_col = f"{d[0]} bytes in {d[1]} lines" if d else "none reported"
        print(f"{r['label']:<10} {tandem_col:<34} {guest_col:<30} {r.get('rounds', '-'):>7} {r.get('prints', '-'):>7} "
              f"{r.get('exits', '-'):>9}  {dropped_col}")
    for r in runs:
        print(f"{r['label']}: {r['image']} (console: {r['log']})")
    print("\nReproduce: cmake --build build && PYTHONPATH=tools python3 tests/bench/exit_latency_bench.py "
          f"--seconds {args.seconds}" + (" --before OLD/tandem.elf (see the docstring)" if args.before else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
