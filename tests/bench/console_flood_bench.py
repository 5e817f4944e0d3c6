#!/usr/bin/env python3
"""Console-flood benchmark (issue 16): figures, not pass/fail, with the facts that must hold
stated beside them.

A protected pair of Bochs machines runs the Linux test guest with `tandem.console_flood=1`
(`cat /dev/urandom | base64 > /dev/console` in the background, forever: the serial line never
keeps up) while the counter client sends a request every 50 ms. After protection it runs for
--seconds, then prints:
  * the client's history (replies 1..N, no gap, no repeat) and whether the backup ever found the
    primary silent, took over, or the primary lost its backup (a flood that delayed heartbeats);
  * the longest exit-to-resume time tandem measured on the primary (`status` on its console,
    asked with tools/tandemctl through the console relay), with its exit reason;
  * what reached the primary's serial line: the guest's lines, tandem's reports of guest output
    it dropped, and the longest gap between two acknowledgements of epochs (from `stats --json`
    every second: the epoch acknowledged must keep advancing).

The machines run with `clock: sync=slowdown` (the pair lab's setting: the link's timers follow
the host clock), so figures vary with the host's load; compare runs on the same idle machine.

Reproduce:
  cmake --build build && sudo PYTHONPATH=tools:tests/e2e TANDEM_BUILD=build \\
      python3 tests/bench/console_flood_bench.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from tandem_lab.console_patterns import CONSOLE_READY
from tandem_lab.pair_lab import PairLab
from tandem_lab.paths import require_built
from test_pair_bochs import STEP, wait_joined

SOURCE = Path(__file__).resolve().parents[2]
TANDEMCTL = SOURCE / "tools" / "tandemctl"
SILENCE = r"(?m)^pair: (the primary is silent|no answer from the primary|the guest resumes here)"
BACKUP_LOST = "pair: backup lost"
DROPPED = re.compile(r"(?m)^tandem: console: (\d+) bytes \((\d+) lines\) of guest output dropped")
LONGEST = re.compile(r"status: guest running here, (\d+) exits so far, the longest (\d+) us \(([^)]*)\)")
BASE64_LINE = re.compile(r"(?m)^guest: [A-Za-z0-9+/=]{76}$")


def tandemctl(port: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(TANDEMCTL), "--port", port, "--timeout", "30", *args],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"tandemctl {' '.join(args)} failed: {done.stderr}{done.stdout}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="protected time under the flood")
    args = parser.parse_args()
    require_built()
    lab = PairLab("bench-console-flood", guest="linux", guest_args="tandem.console_flood=1", console_relay=True)
    try:
        a = lab.boot(0, "primary")
        a.wait_for(CONSOLE_READY, STEP)
        a.wait_for(r"^guest: tandem-guest: console flood", STEP)
        lab.start_client()
        lab.wait_replies(3, STEP)
        b = lab.boot(1, "backup")
        wait_joined(a, b)
        print(f"console-flood: protected; flooding for {args.seconds} s", flush=True)
        acked, longest_ack_gap, last_change = None, 0.0, time.monotonic()
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            stats = json.loads(tandemctl(a.console_url, "status", "--json"))
            now = time.monotonic()
            if stats["epoch"]["acknowledged"] != acked:
                acked, last_change = stats["epoch"]["acknowledged"], now
            longest_ack_gap = max(longest_ack_gap, now - last_change)
            time.sleep(1)
        status = tandemctl(a.console_url, "status")
        lab.stop_client()
        replies = [r["value"] for r in lab.replies()]
        primary, backup = a.tandem_console(), b.tandem_console()
        longest = LONGEST.search(status)
        dropped = [(int(m.group(1)), int(m.group(2))) for m in DROPPED.finditer(primary)]
        print(f"console-flood: {args.seconds} s protected under `cat /dev/urandom | base64 > /dev/console`")
        print(f"  client: {len(replies)} replies, history 1..N intact: {replies == list(range(1, len(replies) + 1))}")
        print(f"  backup found the primary silent or took over: {bool(re.search(SILENCE, backup))}; "
              f"primary lost its backup: {BACKUP_LOST in primary}")
        if longest:
            print(f"  longest exit-to-resume on the primary: {longest.group(2)} us ({longest.group(3)}), "
                  f"{longest.group(1)} exits")
        else:
            print(f"  longest exit-to-resume: not found in the status answer: {status!r}")
        print(f"  longest time the acknowledged epoch stood still (asked every ~1 s): {longest_ack_gap:.1f} s")
        print(f"  guest base64 lines on the primary's serial line: {len(BASE64_LINE.findall(primary))}; "
              f"tandem's drop reports: {len(dropped)} ({sum(d[0] for d in dropped)} bytes, "
              f"{sum(d[1] for d in dropped)} lines)")
        return 0
    finally:
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
