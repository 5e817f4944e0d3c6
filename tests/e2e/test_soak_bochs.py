"""A protected pair under a guest that writes memory as fast as it can (issue 19), for longer than
the 7.5 minutes after which every Bochs run used to freeze (its screen terminal, unread, filled up:
tandem_lab.bochs). Judged by what the guest did, not by what tandem announced: its progress lines
(each carries its own pace, in the guest's TSC) must keep coming on the primary to the end, the
backup must never take over or be lost, and the pace protected against unprotected is printed.

  ScribbleCow   the scribble test guest (1 MiB rewritten over and over), capture=cow, tigerlake
  ScribbleCopy  the same with capture=copy on corei7_skylake_x
  LinuxStress   Debian's kernel looping 4 MiB of /dev/urandom into tmpfs and hashing it (the
                issue's own workload), capture=cow, tigerlake

ScribbleCow goes on until TANDEM_SOAK_MINUTES (default 8.5) after the primary's start, past the
freeze point; the other two are held protected for 3 minutes (their own minutes would cost the
suite ~9 minutes of a core and prove nothing ScribbleCow does not). TANDEM_SOAK_MINUTES set in the
environment applies to all three; the long soak (10 minutes protected, every combination) is
tests/bench/soak_bench.py."""

from __future__ import annotations

import os
import re
import time

from tandem_lab.console_patterns import CONSOLE_READY, TOOK_OVER
from tandem_lab.pair_lab import PairLab
from test_pair_bochs import STEP, PairCase, seed_for, wait_joined

MINUTES = float(os.environ.get("TANDEM_SOAK_MINUTES", "8.5"))
MINUTES_ASKED = "TANDEM_SOAK_MINUTES" in os.environ
SCRIBBLE_PASS = re.compile(r"scribble: pass (\d+) \((\d+) MiB in (\d+) k TSC cycles\)")
STRESS_ROUND = re.compile(r"stress round (\d+) at ([\d.]+) s")


def scribble_pace(console: str, since: int = 0) -> tuple[int, float]:
    """(reports seen, MiB per million guest TSC cycles over the reports after the first `since`)."""
    reports = SCRIBBLE_PASS.findall(console)
    mib = sum(int(m) for _, m, _ in reports[since:])
    kcycles = sum(int(c) for _, _, c in reports[since:])
    return len(reports), (mib * 1000 / kcycles if kcycles else 0.0)


def stress_pace(console: str, since: int = 0) -> tuple[int, float]:
    """(rounds seen, rounds per minute of guest time after the first `since`)."""
    rounds = [(int(n), float(t)) for n, t in STRESS_ROUND.findall(console)]
    span = rounds[since:]
    if len(span) < 2:
        return len(rounds), 0.0
    return len(rounds), (len(span) - 1) * 60 / (span[-1][1] - span[0][1])


class SoakCase(PairCase):
    protected_seconds = 180  # at least this long protected (tests/bench/soak_bench.py: 600)
    last_figures = ""        # the figures line of the last soak (the benchmark collects them)
    past_freeze = False      # goes on until MINUTES after the primary's start

    def soak(self, name: str, guest: str, cpu: str, capture: str, guest_args: str, pace) -> None:
        seed = seed_for(name)
        self.lab = lab = PairLab(name, seed=seed, guest=guest, cpu=cpu, extra=f"capture={capture}",
                                 guest_args=guest_args, hard_timeout=MINUTES * 60 + self.protected_seconds + 3 * STEP)
        started = time.monotonic()
        a = lab.boot(0, "primary")
        a.wait_for(CONSOLE_READY, STEP)
        # The guest's pace alone, unprotected.
        self.wait_progress(a, pace, 0, 4)
        seen, unprotected = pace(a.console())
        b = lab.boot(1, "backup")
        wait_joined(a, b)
        protected_at = time.monotonic()
        at_protection = pace(a.console())[0]
        # Minutes protected in any case, and on past the point where Bochs used to freeze.
        end = protected_at + self.protected_seconds
        if self.past_freeze or MINUTES_ASKED:
            end = max(end, started + MINUTES * 60)
        while time.monotonic() < end:
            self.check_no_failover(a.tandem_console(), b.tandem_console())
            time.sleep(5)
        # Still running on the primary: new progress after the end, from the guest itself.
        before_end = pace(a.console())[0]
        self.wait_progress(a, pace, before_end, 2)
        self.check_no_failover(a.tandem_console(), b.tandem_console())
        reports, protected = pace(a.console(), since=at_protection)
        ratio = protected / unprotected if unprotected else 0.0
        print(f"{name}: {cpu}, capture={capture}: {reports} progress reports, "
              f"{(time.monotonic() - protected_at) / 60:.1f} min protected, "
              f"{(time.monotonic() - started) / 60:.1f} min since the primary started; pace unprotected "
              f"{unprotected:.3f}, protected {protected:.3f} ({ratio:.2f} of unprotected)", flush=True)
        SoakCase.last_figures = (f"{cpu:17} {capture:4} {reports:5} reports, {(time.monotonic() - protected_at) / 60:5.1f} "
                                 f"min protected, pace {unprotected:.3f} -> {protected:.3f} ({ratio:.2f}x)")
        self.assertGreater(reports, at_protection, "no progress while protected")

    def wait_progress(self, machine, pace, after: int, more: int) -> None:
        deadline = time.monotonic() + STEP
        while pace(machine.console())[0] < after + more:
            self.assertLess(time.monotonic(), deadline, f"the guest made no progress: {machine.console()[-1500:]}")
            time.sleep(1)

    def check_no_failover(self, primary: str, backup: str) -> None:
        self.assertNotRegex(backup, r"asking for it on the client network|" + TOOK_OVER)
        self.assertNotIn("pair: backup lost", primary)
        self.assertNotIn("checkpointing failed", primary)


class ScribbleCow(SoakCase):
    past_freeze = True

    def test_scribbling_guest_protected_for_minutes_with_copy_on_write(self):
        self.soak("soak-scribble-cow", "scribble", "tigerlake", "cow", "mib=1 report=64", scribble_pace)


class ScribbleCopy(SoakCase):
    def test_scribbling_guest_protected_for_minutes_with_copy(self):
        self.soak("soak-scribble-copy", "scribble", "corei7_skylake_x", "copy", "mib=1 report=64", scribble_pace)


class LinuxStress(SoakCase):
    def test_linux_writing_tmpfs_protected_for_minutes(self):
        self.soak("soak-linux-stress", "linux", "tigerlake", "cow", "tandem.stress=1", stress_pace)


if __name__ == "__main__":
    import unittest

    unittest.main()
