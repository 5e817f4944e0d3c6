#!/usr/bin/env python3
"""Soak benchmark (issue 19): figures, not pass/fail beyond the soak's own checks.

A protected pair of Bochs machines (tandem_lab.pair_lab) under a guest that writes memory as
fast as it can, for each CPU model and capture mode: the scribble test guest (tests/guests/
scribble.cpp, `mib=` MiB rewritten over and over) and Debian's kernel looping 4 MiB of
/dev/urandom into tmpfs and hashing it (`tandem.stress=1`). Each run is the e2e soak
(tests/e2e/test_soak_bochs.py: no takeover, no lost backup, the guest's progress to the end)
held protected for --minutes, and prints the guest's pace protected against unprotected, in the
guest's own terms (scribble: MiB per million guest TSC cycles; Linux: rounds per guest minute).

Reproduce (root: network namespaces; about (minutes + 3) per run, 5 runs by default):
  cmake --build build && sudo env PYTHONPATH=tools:tests/e2e python3 tests/bench/soak_bench.py [--minutes 10]
      [--only scribble|linux] [--cpu tigerlake|corei7_skylake_x] [--mib 1]
"""

from __future__ import annotations

import argparse
import sys

import test_soak_bochs as soak

CPUS = ("tigerlake", "corei7_skylake_x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes protected per run")
    parser.add_argument("--mib", type=int, default=1, help="MiB the scribble guest rewrites")
    parser.add_argument("--only", choices=("scribble", "linux"), help="one guest only")
    parser.add_argument("--cpu", choices=CPUS, help="one CPU model only for the scribble runs")
    args = parser.parse_args()
    soak.SoakCase.protected_seconds = int(args.minutes * 60)
    runs = []
    if args.only != "linux":
        for cpu in [args.cpu] if args.cpu else CPUS:
            for capture in ("cow", "copy"):
                runs.append((f"bench-scribble-{cpu}-{capture}", "scribble", cpu, capture,
                             f"mib={args.mib} report=64", soak.scribble_pace))
    if args.only != "scribble":
        runs.append(("bench-linux-stress", "linux", "tigerlake", "cow", "tandem.stress=1", soak.stress_pace))
    soak.SoakCase.setUpClass()
    figures, failed = [], 0
    for name, guest, cpu, capture, guest_args, pace in runs:
        case = soak.SoakCase()
        try:
            case.soak(name, guest, cpu, capture, guest_args, pace)
            figures.append(f"{guest:8} {soak.SoakCase.last_figures}")
        except Exception as error:  # the run's own checks failed (AssertionError) or it broke: say which
            failed += 1
            figures.append(f"{guest:8} {cpu:17} {capture:4} FAILED: {str(error).splitlines()[0]}")
        finally:
            case.tearDown()
    print(f"\nsoak benchmark, {args.minutes:g} min protected per run (pace: scribble MiB per million guest TSC "
          f"cycles, Linux rounds per guest minute; unprotected -> protected):")
    for line in figures:
        print("  " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
