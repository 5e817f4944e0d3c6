"""One emulator run of tandem and its serial console: EmulatorRun, the base of Bochs (bochs.py) and
Qemu (qemu.py).

Every run has a hard deadline (the emulator runs under `timeout -s KILL`, and stop() kills the
process group the run started, by its PID) and its own work directory, so runs can go in parallel
and a failing test leaves the serial log and the emulator's log behind for inspection. Runs still
going when the process exits (or is sent SIGTERM) are stopped.
"""

from __future__ import annotations

import atexit
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

from tandem_lab import proctree
from tandem_lab.console_patterns import BANNER_START
from tandem_lab.console_view import clean_console  # the serial log as the e2e patterns read it

_live_runs: list["EmulatorRun"] = []


def _stop_all_at_exit() -> None:
    for run in list(_live_runs):
        run.stop()


atexit.register(_stop_all_at_exit)


def _exit_on_sigterm(signum, frame):  # noqa: ARG001
    # A terminated test (CTest timeout, Ctrl-C upstream) still ends its emulators: exiting runs
    # the atexit hook above. Emulators also die by their own hard deadline (`timeout -s KILL`).
    raise SystemExit(128 + signum)


if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


class EmulatorTimeout(AssertionError):
    """The expected console output did not appear before the deadline."""


class EmulatorRun:
    """A started emulator whose COM1 goes to `serial_path`."""

    name = "emulator"

    def __init__(self, workdir: Path, hard_timeout: float):
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.serial_path = self.workdir / "serial.log"
        self.hard_timeout = hard_timeout
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    # Subclasses provide the command line.
    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> "EmulatorRun":
        if self.serial_path.exists():
            self.serial_path.unlink()
        self.serial_path.touch()
        cmd = ["timeout", "-s", "KILL", str(int(self.hard_timeout))] + self.command()
        (self.workdir / "command.txt").write_text(shlex.join(cmd) + "\n")
        out = open(self.workdir / "emulator-output.log", "wb")
        env = dict(os.environ, TERM="xterm")
        # A new session: the run's processes form one group we can end by the leader's PID.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     cwd=self.workdir, env=env, start_new_session=True)
        out.close()
        self.started_at = time.monotonic()
        _live_runs.append(self)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        descendants = proctree.descendants(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=3)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        proctree.kill_and_wait(descendants)
        if self in _live_runs:
            _live_runs.remove(self)

    def kill(self) -> None:
        """Pulls the plug: SIGKILL to the emulator's whole process group at once (no shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            descendants = proctree.descendants(self.proc.pid)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            # `script` runs Bochs in a session of its own, outside the process group: end it too
            # and wait until it is gone, or a machine booted next in its place may find the old
            # one still holding its NIC's socket ("could not bind ... Address already in use").
            proctree.kill_and_wait(descendants)

    def send(self, text: str) -> None:
        """Types text on the machine's console (only for runs with an interactive console)."""
        raise NotImplementedError(f"{self.name} has no interactive console in this configuration")

    def raw_serial(self) -> bytes:
        try:
            return self.serial_path.read_bytes()
        except FileNotFoundError:
            return b""

    def console(self) -> str:
        return clean_console(self.raw_serial())

    def tandem_console(self) -> str:
        """The console from tandem's banner on (the boot loader's screen cut off)."""
        text = self.console()
        at = text.find(BANNER_START)
        return text[at + 1:] if at >= 0 else ""

    def wait_for(self, pattern: str, timeout: float, since: int = 0) -> re.Match:
        """Waits until `pattern` (a regex, multiline) matches the console from offset `since` on
        (a len(console()) taken earlier: only what came after); returns the match."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.console(), since)
            if match:
                return match
            if not self.running():
                time.sleep(0.2)  # let the last bytes reach the file
                match = regex.search(self.console(), since)
                if match:
                    return match
                raise EmulatorTimeout(f"{self.name} ended before /{pattern}/ appeared; console tail:\n"
                                      + self.console()[-3000:])
            if time.monotonic() > deadline:
                raise EmulatorTimeout(f"/{pattern}/ did not appear within {timeout:.0f} s on {self.name}; "
                                      f"console tail:\n" + self.console()[-3000:])
            time.sleep(0.1)

    def wait_with_progress(self, pattern: str, progress: str, idle: float, cap: float) -> re.Match:
        """Waits for `pattern` like wait_for, for as long as the console shows more and more lines
        matching `progress`: fails after `idle` seconds without a new one, or after `cap` in all.
        For steps whose length depends on how fast a loaded machine emulates (a join copying the
        guest), where a fixed bound fails a machine that is merely slow, not stuck."""
        progress_regex = re.compile(progress, re.MULTILINE)
        start = time.monotonic()
        seen, last_progress = -1, start
        while True:
            try:
                return self.wait_for(pattern, 1.0)
            except EmulatorTimeout as timeout:
                if not self.running():
                    raise
                tail = str(timeout).split("console tail:", 1)[-1]
            now = time.monotonic()
            lines = len(progress_regex.findall(self.console()))
            if lines > seen:
                seen, last_progress = lines, now
            if now >= min(last_progress + idle, start + cap):
                raise EmulatorTimeout(
                    f"/{pattern}/ did not appear on {self.name} within {now - start:.0f} s ({seen} lines of "
                    f"/{progress}/, the last {now - last_progress:.0f} s ago; bounds: {idle:.0f} s without one, "
                    f"{cap:.0f} s in all); console tail:{tail}")

    def run_until(self, pattern: str, timeout: float) -> str:
        """start(), wait for pattern, stop(); returns tandem's console."""
        self.start()
        try:
            self.wait_for(pattern, timeout)
        finally:
            self.stop()
        return self.tandem_console()

    def __enter__(self) -> "EmulatorRun":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
