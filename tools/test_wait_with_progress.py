#!/usr/bin/env python3
"""tandem_lab's EmulatorRun.wait_with_progress, over a console that grows with the wall clock: a
slow step that keeps printing progress is waited for past the idle bound, a stalled one fails
after the idle bound, a progressing one fails at the overall cap, and the failure says which."""

from __future__ import annotations

import pathlib
import sys
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from tandem_lab.emulator import EmulatorRun, EmulatorTimeout  # noqa: E402

DONE = r"^pair: PROTECTED: epoch \d+ committed"
PROGRESS = r"^pair: full copy from the primary: \d+ of \d+ guest pages received"


class GrowingConsole:
    """A progress line every `every` seconds (never if 0); the done line after `done_after`."""
    name = "stub"
    wait_for = EmulatorRun.wait_for
    wait_with_progress = EmulatorRun.wait_with_progress

    def __init__(self, every: float, done_after: float, running: bool = True):
        self.start, self.every, self.done_after, self.alive = time.monotonic(), every, done_after, running

    def console(self) -> str:
        elapsed = time.monotonic() - self.start
        lines = int(elapsed / self.every) if self.every else 0
        text = "".join(f"pair: full copy from the primary: {i} of 99 guest pages received\n" for i in range(lines))
        return text + ("pair: PROTECTED: epoch 3 committed\n" if elapsed > self.done_after else "")

    def running(self) -> bool:
        return self.alive


class WaitWithProgress(unittest.TestCase):
    def test_a_slow_step_that_progresses_is_waited_for(self):
        started = time.monotonic()
        match = GrowingConsole(every=1.0, done_after=6.0).wait_with_progress(DONE, PROGRESS, idle=2.5, cap=30)
        self.assertEqual(match.group(0), "pair: PROTECTED: epoch 3 committed")
        self.assertGreater(time.monotonic() - started, 5.5)  # past the idle bound

    def test_a_stalled_step_fails_after_the_idle_bound(self):
        started = time.monotonic()
        with self.assertRaisesRegex(EmulatorTimeout, r"bounds: 2 s without one, 30 s in all"):
            GrowingConsole(every=0, done_after=99).wait_with_progress(DONE, PROGRESS, idle=2, cap=30)
        self.assertLess(time.monotonic() - started, 5)

    def test_progress_does_not_extend_past_the_cap(self):
        started = time.monotonic()
        with self.assertRaisesRegex(EmulatorTimeout, r"lines of .*bounds: 3 s without one, 5 s in all"):
            GrowingConsole(every=0.5, done_after=99).wait_with_progress(DONE, PROGRESS, idle=3, cap=5)
        self.assertLess(time.monotonic() - started, 8)

    def test_an_emulator_that_ended_fails_at_once(self):
        with self.assertRaisesRegex(EmulatorTimeout, r"ended before"):
            GrowingConsole(every=1, done_after=99, running=False).wait_with_progress(DONE, PROGRESS, idle=30, cap=60)


if __name__ == "__main__":
    unittest.main()
