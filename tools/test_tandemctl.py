#!/usr/bin/env python3
"""tools/tandemctl against a fake tandem console: the console multiplexer's Ctrl-A c toggle and
its two "console: ..." lines, the shell's echo, Ctrl-U and prompt, canned answers (the JSON ones
valid against docs/console-schema.json, checked here with jsonschema), and the guest's and
tandem's own lines in the middle of answers. The fake sits behind a pseudo-terminal that tandemctl
opens as a device, or behind tandem_lab's ConsoleRelay (socket://) as Bochs' COM1 is in the lab.

Run: python3 tools/test_tandemctl.py (CTest: tools.tandemctl)."""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tty
import unittest

TOOLS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
from tandem_lab.bochs import Bochs  # noqa: E402
from tandem_lab.console_relay import BUSY, ConsoleRelay  # noqa: E402
from tandemctl_lib.answers import answer_rows  # noqa: E402
from tandemctl_lib.commands import RowTap  # noqa: E402
from tandemctl_lib.stream import render  # noqa: E402

TANDEMCTL = TOOLS / "tandemctl"
CONSOLE_SCHEMA_JSON = TOOLS.parent / "docs" / "console-schema.json"
DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"

SHELL_LINE = "console: tandem's shell (Ctrl-A c: back to the guest's console)"
GUEST_LINE = "console: the guest's console (Ctrl-A c: tandem's shell)"
GUEST_NOISE = "guest: [   12.345678] e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex"
PAIR_NOISE = "pair: epoch 812 committed by the backup"
ECHO_NOISE = "pair: a log line in the middle of the echo"
RELEASE = "0.9.0-fake"
SWITCHING_FOR = 0.3  # seconds the fake's switchover spends in phase "switching"
SWITCHOVER_STARTED = ("switchover: stopping the guest here; it goes on at the backup once the backup holds its "
                      "last epoch")
SWITCHOVER_DONE = ["switchover: the backup holds epoch 813, all of the guest (300 ms after the stop); handing it over",
                   "switchover: the backup has the notice and takes over; this machine becomes its backup"]
SWITCHOVER_CALLED_OFF = ("switchover: called off: the backup did not acknowledge the guest's last epoch in time; "
                         "the guest resumes here (nothing was handed over)")


def import_jsonschema():
    """python3-jsonschema, from this Python's packages or Debian's (a pyenv Python lacks them)."""
    try:
        import jsonschema
    except ImportError:
        sys.path.append(DEBIAN_DIST_PACKAGES)
        import jsonschema
    return jsonschema


def link_json(role: str) -> dict:
    counters = ["frames_sent", "frames_received", "messages_sent", "messages_delivered", "in_flight",
                "retransmissions", "fast_retransmissions", "timeouts", "probes", "duplicates", "acks_sent",
                "nacks_sent", "heartbeats_sent", "rtt_us", "rtt_variation_us", "rto_us", "congestion_window",
                "ignored", "peer_restarts"]
    value = {"schema": 1, "kind": "link", "state": "established", "role": role, "authenticated": True,
             "mtu": 1500, "window": 64, "peer_last_heard_us": 800,
             "rejected": {"bad_tag": 0, "replay": 1, "malformed": 0, "session": 0, "source": 0}}
    value.update({name: 10 + i for i, name in enumerate(counters)})
    return value


class FakeTandem:
    """tandem's console multiplexer, shell and line editor, as far as tandemctl uses them
    (hypervisor/console/console_mux.cpp, shell.cpp, line_editor.cpp), and a pair's commands."""

    def __init__(self, role: str = "primary", schema: int = 1, view: str = "guest", typed: str = "",
                 crlf: bool = True, silent: bool = False, split_echo: bool = False, silent_after: int = 0,
                 switchover: str = "completes"):
        self.role, self.schema, self.view, self.line = role, schema, view, typed
        self.crlf, self.silent, self.split_echo = crlf, silent, split_echo
        self.silent_after = silent_after  # lines run before the machine goes silent (0: never)
        # How a switchover ends: "completes" (this machine becomes the backup), "called_off" (with
        # tandem's line), "resumes" (called off, its line not seen), "stalls" (stays switching).
        self.switchover = switchover
        self.switching_until: float | None = None
        self.phase = "protecting" if role == "primary" else "following"
        self.guest = "running" if role == "primary" else "not_here"
        self.epoch_ms = 20
        self.escaped = self.after_cr = False
        self.lines: list[str] = []  # the shell lines run

    def feed(self, data: bytes) -> bytes:
        if self.silent:
            return b""
        return self._wire("".join(self._char(chr(b)) for b in data))

    def tick(self) -> bytes:
        """tandem's lines that come on their own (a switchover's end), and the state they tell of."""
        if self.silent or self.switching_until is None or time.monotonic() < self.switching_until:
            return b""
        lines = self.end_switchover()
        return self._wire("".join(line + "\n" for line in lines))

    def _wire(self, out: str) -> bytes:
        return (out.replace("\n", "\r\n") if self.crlf else out).encode()

    def _char(self, c: str) -> str:
        if self.escaped:
            self.escaped = False
            return self._toggle() if c in "cC" else ""
        if c == "\x01":
            self.escaped = True
            return ""
        return self._edit(c) if self.view == "shell" else ""

    def _toggle(self) -> str:
        if self.view == "guest":
            self.view = "shell"
            return f"\n{SHELL_LINE}\ntandem> {self.line}"
        self.view = "guest"
        return f"\n{GUEST_LINE}\n"

    def _edit(self, c: str) -> str:
        after_cr, self.after_cr = self.after_cr, c == "\r"
        if c == "\n" and after_cr:
            return ""
        if c in "\r\n":
            line, self.line = self.line, ""
            return "\n" + "".join(row + "\n" for row in self._run(line.strip())) + "tandem> "
        if c == "\x15":
            n, self.line = len(self.line), ""
            return "\b" * n + " " * n + "\b" * n
        if " " <= c <= "~":
            self.line += c
            return c + (ECHO_NOISE + "\n" if self.split_echo and len(self.line) == 3 else "")
        return ""

    def _run(self, line: str) -> list[str]:
        if not line:
            return []
        self.lines.append(line)
        self.silent = len(self.lines) == self.silent_after  # this answer is its last word
        name, _, args = line.partition(" ")
        handlers = {"version": self._show, "status": self._show, "stats": self._show, "link": self._show,
                    "epoch": self._epoch, "failover": self._failover, "switchover": self._switchover,
                    "log": self._log}
        if name not in handlers:
            return [f"shell: unknown command '{name}'; commands: {' '.join(handlers)} help"]
        return handlers[name](name, args.strip())

    def _show(self, kind: str, args: str) -> list[str]:
        if args == "--json":
            return [GUEST_NOISE, json.dumps(self.objects()[kind], separators=(",", ":")), PAIR_NOISE]
        if args:
            return [f"{kind}: the only option is --json, for one line of JSON (not '{args}')"]
        return [f"{kind}: {self.role}, {self.phase}", GUEST_NOISE, f"{kind}: epoch 812, {self.epoch_ms} ms"]

    def _epoch(self, _: str, args: str) -> list[str]:
        if self.role != "primary":
            return ["epoch: this machine is the backup: the primary sets the epoch"]
        if not args:
            return [f"epoch: {self.epoch_ms} ms"]
        if not args.isdigit() or not 1 <= int(args) <= 1000:
            return [f"epoch: the length is a whole number of milliseconds from 1 to 1000 (not '{args}')"]
        was, self.epoch_ms = self.epoch_ms, int(args)
        return [f"epoch: {args} ms from the next epoch boundary on (was {was} ms)"]

    def _failover(self, _: str, args: str) -> list[str]:
        if self.role != "primary":
            return ["failover: this machine is the backup: run failover on the primary (taking over while "
                    "the primary runs would run the guest twice)"]
        self.phase, self.guest = "handed_over", "stopped"
        return ["failover: stopping the guest here; the backup takes it over from its committed epoch "
                "(epoch 811 or later)", GUEST_NOISE]

    def _switchover(self, _: str, args: str) -> list[str]:
        if self.role != "primary":
            return ["switchover: this machine is the backup: run switchover on the primary (taking over while "
                    "the primary runs would run the guest twice)"]
        if self.guest != "running":
            return ["switchover: the guest does not run here (nothing to hand over)"]
        self.phase, self.guest = "switching", "stopped"
        self.switching_until = time.monotonic() + SWITCHING_FOR
        return [SWITCHOVER_STARTED, GUEST_NOISE]

    def end_switchover(self) -> list[str]:
        """The switchover's end as self.switchover says, and tandem's lines about it."""
        if self.switchover == "stalls":
            return []
        self.switching_until = None
        if self.switchover == "completes":
            self.role, self.phase, self.guest = "backup", "following", "not_here"
            return SWITCHOVER_DONE
        self.phase, self.guest = "protecting", "running"
        return [SWITCHOVER_CALLED_OFF] if self.switchover == "called_off" else []

    def _log(self, _: str, args: str) -> list[str]:
        if args and not args.isdigit():
            return [f"log: N is a number of lines from 1 to 1000 (not '{args}')"]
        return [f"tandem: message {i}" for i in range(int(args or 3))]

    def objects(self) -> dict[str, dict]:
        primary = self.role == "primary"
        handed = self.phase == "handed_over"
        status = {"schema": self.schema, "kind": "status", "role": self.role, "mode": "checkpoint",
                  "protection": "unprotected" if handed else "protected", "phase": self.phase, "guest": self.guest,
                  "uptime_ms": 83_250,
                  "epoch": {"length_ms": self.epoch_ms if primary else None, "current": 812 if primary else None,
                            "acknowledged": 811 if primary else None, "committed": None if primary else 811,
                            "protected_from": 5 if primary else None},
                  "output_held_frames": 2 if primary else 0, "last_failover": None,
                  "backups": {"joined": 1 if primary else 0, "lost": 0}}
        last = {"epoch": 812, "dirty_pages": 37, "pause_us": 410, "bytes": 151_552} if primary else None
        stats = {"schema": self.schema, "kind": "stats", "role": self.role, "uptime_ms": 83_250,
                 "epochs": {"completed": 812, "last": last, "dirty_pages_mean": 40 if primary else None,
                            "pause_us_mean": 380 if primary else None, "pause_us_max": 1200 if primary else None,
                            "stretched": 0},
                 "link": {"state": "established", "stream_bytes": 123_456_789, "throughput_bytes_per_s": 1_843_200,
                          "frames_sent": 1000, "frames_received": 990, "retransmissions": 3, "timeouts": 0,
                          "rtt_us": 180, "rejected": 0},
                 "output": {"held_frames": 2 if primary else 0}}
        version = {"schema": self.schema, "kind": "version", "tandem": RELEASE, "build": "de:ad:be:ef:00:11:22:33"}
        return {"version": version, "status": status, "stats": stats, "link": dict(link_json(self.role),
                                                                                   schema=self.schema)}


def serve(fd: int, fake: FakeTandem, stop: threading.Event) -> None:
    """The fake's side of a terminal: what arrives on fd is fed to it, its output written back."""
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            out = fake.tick()
        else:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            out = fake.feed(data)
        if out:
            os.write(fd, out)


def copy_to_relay(fd: int, relay: ConsoleRelay, stop: threading.Event) -> None:
    """What Bochs' copy thread does with the console's output: hands it to the relay."""
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                relay.forward(os.read(fd, 4096))
            except OSError:
                return


def raw_pty() -> tuple[int, int]:
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave


class Console:
    """A fake tandem and its threads: behind a pseudo-terminal (`port` is the device tandemctl
    opens), or, relayed=True, on a terminal's slave side as Bochs' COM1 with a ConsoleRelay on the
    master side (`port` is its socket:// URL)."""

    def __init__(self, fake: FakeTandem, relayed: bool = False):
        self.fake = fake
        self.master, self.slave = raw_pty()
        self.stop = threading.Event()
        self.relay: ConsoleRelay | None = None
        if relayed:
            self.relay = ConsoleRelay(self.master, pace=0.0005).start()
            self.port = self.relay.url
            self.threads = [self._thread(serve, self.slave, fake), self._thread(copy_to_relay, self.master, self.relay)]
        else:
            self.port = os.ttyname(self.slave)
            self.threads = [self._thread(serve, self.master, fake)]

    def _thread(self, target, fd, other) -> threading.Thread:
        thread = threading.Thread(target=target, args=(fd, other, self.stop), daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.stop.set()
        if self.relay is not None:
            self.relay.stop()
        for thread in self.threads:
            thread.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)


def tandemctl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TANDEMCTL), *args], capture_output=True, text=True, timeout=timeout)


def wait_until(condition, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def unused_tcp_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


class StubStream:
    """A console's rows already received, for RowTap."""

    def __init__(self, rows: list[str]):
        self.rows = list(enumerate(rows))

    def pending_row(self) -> tuple[int, str] | None:
        return self.rows.pop(0) if self.rows else None


class TandemctlTest(unittest.TestCase):
    def setUp(self):
        threads_before = set(threading.enumerate())
        self.addCleanup(self._no_threads_left, threads_before)

    def _no_threads_left(self, before: set) -> None:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        self.assertEqual(left, [], "threads the test started are still running")

    def console(self, relayed: bool = False, **fake_options) -> Console:
        console = Console(FakeTandem(**fake_options), relayed)
        self.addCleanup(console.close)
        return console

    def assert_ok(self, result: subprocess.CompletedProcess) -> None:
        self.assertEqual(result.returncode, 0, f"stdout: {result.stdout!r} stderr: {result.stderr!r}")

    def assert_fails(self, result: subprocess.CompletedProcess, status: int, *words: str) -> None:
        self.assertEqual(result.returncode, status, f"stdout: {result.stdout!r} stderr: {result.stderr!r}")
        self.assertTrue(result.stderr.startswith("tandemctl: "), result.stderr)
        for word in words:
            self.assertIn(word, result.stderr)


class Rows(unittest.TestCase):
    """How an answer is found among the rows (no console needed)."""

    def test_ctrl_u_over_text_left_on_the_line_renders_away(self):
        self.assertEqual(render(b"tandem> half\b\b\b\b    \b\b\b\blog 5\r"), "tandem> log 5")

    def test_the_echo_on_its_own_row(self):
        self.assertEqual(answer_rows(["tandem> log 5", "a", "b"], "log 5"), ["a", "b"])

    def test_a_log_line_in_the_middle_of_the_echo(self):
        self.assertEqual(answer_rows(["tandem> lopair: x", "g 5", "a"], "log 5"), ["a"])

    def test_log_lines_before_the_echo_that_start_like_the_command(self):
        self.assertEqual(answer_rows(["tandem> link: y", "log: z", "log 5", "a"], "log 5"), ["a"])

    def test_a_log_line_between_the_echo_and_enter(self):
        self.assertEqual(answer_rows(["tandem> log 5pair: x", "", "a"], "log 5"), ["a"])

    def test_switchover_lines_are_found_wherever_they_came(self):
        rows = ["tandem> switchover: a", "tandem> guest: switchover: b", "tandem> staswitchover: c", "tus --json",
                "{}"]
        tap = RowTap(StubStream(rows))
        tap.drop_rows()  # what a command does before it is typed
        self.assertEqual(tap.lines("switchover: "), ["switchover: a", "switchover: c"])
        self.assertEqual(tap.lines("switchover: "), [])


class CannedAnswers(TandemctlTest):
    def test_the_fake_json_is_valid_against_the_console_schema(self):
        jsonschema = import_jsonschema()
        schema = json.loads(CONSOLE_SCHEMA_JSON.read_text())
        validator = jsonschema.Draft202012Validator(schema)
        for role in ("primary", "backup"):
            fake = FakeTandem(role=role)
            for kind, value in fake.objects().items():
                with self.subTest(role=role, kind=kind):
                    validator.validate(value)
            fake._failover("failover", "")
            for kind, value in fake.objects().items():
                with self.subTest(role=role, kind=kind, after="failover"):
                    validator.validate(value)
        for step in ("switching", "switched over"):
            fake = FakeTandem()
            fake._switchover("switchover", "")
            if step == "switched over":
                fake.end_switchover()
            for kind, value in fake.objects().items():
                with self.subTest(kind=kind, step=step):
                    validator.validate(value)
        self.assertFalse(validator.is_valid(FakeTandem(schema=2).objects()["version"]))


class JsonAnswers(TandemctlTest):
    def test_status_json_through_the_relay(self):
        c = self.console(relayed=True)
        result = tandemctl("--port", c.port, "status", "--json")
        self.assert_ok(result)
        self.assertEqual(result.stdout.count("\n"), 1)
        self.assertEqual(json.loads(result.stdout), c.fake.objects()["status"])
        self.assertEqual(c.fake.lines, ["version --json", "status --json"])
        self.assertEqual(c.fake.view, "guest")

    def test_status_json_through_a_pseudo_terminal(self):
        c = self.console()
        result = tandemctl("--port", c.port, "--timeout", "5", "status", "--json", "--pretty")
        self.assert_ok(result)
        self.assertIn('\n  "role": "primary"', result.stdout)
        self.assertEqual(json.loads(result.stdout), c.fake.objects()["status"])
        self.assertEqual(c.fake.view, "guest")

    def test_every_json_command(self):
        c = self.console(role="backup", crlf=False)
        for kind in ("version", "stats", "link"):
            with self.subTest(kind=kind):
                result = tandemctl("--port", c.port, kind, "--json")
                self.assert_ok(result)
                self.assertEqual(json.loads(result.stdout), c.fake.objects()[kind])


class Views(TandemctlTest):
    def test_starting_in_the_guests_console_it_returns_there(self):
        c = self.console(view="guest")
        self.assert_ok(tandemctl("--port", c.port, "epoch"))
        self.assertEqual(c.fake.view, "guest")

    def test_starting_in_the_shell_with_text_left_on_the_line(self):
        c = self.console(view="shell", typed="half-typed")
        result = tandemctl("--port", c.port, "epoch")
        self.assert_ok(result)
        self.assertEqual(result.stdout, "epoch: 20 ms\n")
        self.assertEqual(c.fake.lines, ["version --json", "epoch"])  # Ctrl-U cleared "half-typed"
        self.assertEqual(c.fake.view, "shell")

    def test_the_view_is_restored_after_a_refusal(self):
        c = self.console(view="guest")
        self.assert_fails(tandemctl("--port", c.port, "run", "bogus"), 1)
        self.assertEqual(c.fake.view, "guest")


class Interleaving(TandemctlTest):
    def test_guest_and_log_lines_within_an_answer_and_the_echo(self):
        c = self.console(relayed=True, split_echo=True, crlf=False)
        result = tandemctl("--port", c.port, "status")
        self.assert_ok(result)
        self.assertEqual(result.stdout.splitlines(), ["status: primary, protecting", "status: epoch 812, 20 ms"])
        result = tandemctl("--port", c.port, "stats", "--json")
        self.assert_ok(result)
        self.assertEqual(json.loads(result.stdout), c.fake.objects()["stats"])

    def test_commands_with_arguments(self):
        c = self.console(split_echo=True)
        result = tandemctl("--port", c.port, "epoch", "50")
        self.assert_ok(result)
        self.assertEqual(result.stdout, "epoch: 50 ms from the next epoch boundary on (was 20 ms)\n")
        result = tandemctl("--port", c.port, "log", "2")
        self.assert_ok(result)
        self.assertEqual(result.stdout.splitlines(), ["tandem: message 0", "tandem: message 1"])


class Failures(TandemctlTest):
    def test_schema_mismatch_exits_3(self):
        c = self.console(schema=2)
        result = tandemctl("--port", c.port, "status", "--json")
        self.assert_fails(result, 3, RELEASE, "console schema 2", "console schema 1")
        self.assertEqual(result.stdout, "")
        self.assertEqual(c.fake.view, "guest")

    def test_no_answer_exits_2_within_the_timeout(self):
        c = self.console(silent=True)
        started = time.monotonic()
        result = tandemctl("--port", c.port, "--timeout", "1", "status")
        self.assertLess(time.monotonic() - started, 5)
        self.assert_fails(result, 2, f"no answer from tandem on {c.port} within 1s: is this a tandem console, "
                                     f"at the right baud rate?")

    def test_nonexistent_port_exits_2(self):
        self.assert_fails(tandemctl("--port", "/dev/ttyNONE-tandemctl", "status"), 2, "does not exist")

    def test_no_console_server_exits_2(self):
        result = tandemctl("--port", f"socket://127.0.0.1:{unused_tcp_port()}", "status")
        self.assert_fails(result, 2, "connection refused")

    def test_a_locked_device_is_busy(self):
        c = self.console()
        fd = os.open(c.port, os.O_RDWR | os.O_NOCTTY)
        self.addCleanup(os.close, fd)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another pyserial program holds it
        self.assert_fails(tandemctl("--port", c.port, "status"), 2, "busy")
        self.assertEqual(c.fake.lines, [])

    def test_a_relay_with_a_client_is_busy(self):
        c = self.console(relayed=True)
        first = socket.create_connection(("127.0.0.1", int(c.port.rsplit(":", 1)[1])))
        self.addCleanup(first.close)
        self.assertTrue(wait_until(lambda: c.relay.has_client))
        self.assert_fails(tandemctl("--port", c.port, "status"), 2, "busy")
        first.close()
        self.assertTrue(wait_until(lambda: not c.relay.has_client))
        self.assert_ok(tandemctl("--port", c.port, "status", "--json"))

    def test_refused_commands_exit_1_with_tandems_line(self):
        c = self.console()
        self.assert_fails(tandemctl("--port", c.port, "run", "bogus"), 1, "shell: unknown command 'bogus'")
        self.assert_fails(tandemctl("--port", c.port, "epoch", "abc"), 1, "epoch: the length is a whole number")
        self.assert_fails(tandemctl("--port", c.port, "log", "x"), 1, "log: N is a number")

    def test_failover_on_the_backup_is_refused(self):
        c = self.console(role="backup")
        self.assert_fails(tandemctl("--port", c.port, "failover"), 1, "failover: this machine is the backup")

    def test_failover_on_the_primary(self):
        c = self.console()
        result = tandemctl("--port", c.port, "failover")
        self.assert_ok(result)
        self.assertTrue(result.stdout.startswith("failover: stopping the guest here"), result.stdout)
        self.assertEqual(c.fake.phase, "handed_over")


class Switchover(TandemctlTest):
    def test_on_the_primary_it_becomes_the_backup(self):
        c = self.console()
        result = tandemctl("--port", c.port, "switchover")
        self.assert_ok(result)
        self.assertEqual(result.stdout.splitlines(), [SWITCHOVER_STARTED, *SWITCHOVER_DONE])
        self.assertEqual((c.fake.role, c.fake.phase), ("backup", "following"))
        self.assertGreaterEqual(c.fake.lines.count("status --json"), 2)  # switching, then the backup
        self.assertEqual(c.fake.view, "guest")

    def test_on_the_backup_it_is_refused(self):
        c = self.console(role="backup")
        result = tandemctl("--port", c.port, "switchover")
        self.assert_fails(result, 1, "refused 'switchover'", "switchover: this machine is the backup",
                          "role backup", "phase following")
        self.assertEqual(c.fake.lines, ["version --json", "switchover", "status --json"])

    def test_called_off_exits_1_with_tandems_line(self):
        c = self.console(switchover="called_off")
        result = tandemctl("--port", c.port, "switchover")
        self.assert_fails(result, 1, "called the switchover off", SWITCHOVER_CALLED_OFF,
                          "role primary, guest running, phase protecting")
        self.assertEqual(result.stdout, "")
        self.assertEqual(c.fake.role, "primary")

    def test_called_off_is_seen_in_the_status_without_its_line(self):
        result = tandemctl("--port", self.console(switchover="resumes").port, "switchover")
        self.assert_fails(result, 1, "called the switchover off", SWITCHOVER_STARTED, "role primary, guest running")

    def test_not_done_within_the_timeout(self):
        started = time.monotonic()
        result = tandemctl("--port", self.console(switchover="stalls").port, "--timeout", "1", "switchover")
        self.assertLess(time.monotonic() - started, 5)
        self.assert_fails(result, 1, "did not finish the switchover within 1s", "guest stopped, phase switching")


class Watch(TandemctlTest):
    def test_two_rounds_of_two_machines(self):
        primary, backup = self.console(), self.console(relayed=True, role="backup", view="shell")
        result = tandemctl("watch", "--port", primary.port, "--port", backup.port, "--count", "2",
                           "--interval", "0.1")
        self.assert_ok(result)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 1 + 2 * 2, result.stdout)
        self.assertTrue(lines[0].startswith("time"))
        for row in (lines[1], lines[3]):
            self.assertIn(primary.port, row)
            self.assertRegex(row, r"primary +protected +protecting +812/811/- +20ms +37 +410 +1\.8 MiB/s +3 +180 +2 +1m23s")
        for row in (lines[2], lines[4]):
            self.assertIn(backup.port.split("://")[1], row)
            self.assertRegex(row, r"backup +protected +following +-/-/811")
        self.assertEqual((primary.fake.view, backup.fake.view), ("guest", "shell"))
        self.assertEqual(primary.fake.lines.count("stats --json"), 2)

    def test_a_machine_that_stops_answering_gets_a_row_saying_so(self):
        # version, then status and stats in the first round: silent from the second on.
        primary, backup = self.console(silent_after=3), self.console(role="backup")
        result = tandemctl("--timeout", "1", "watch", "--port", primary.port, "--port", backup.port,
                           "--count", "2", "--interval", "0.1")
        self.assert_ok(result)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 5, result.stdout)
        self.assertIn("primary", lines[1])
        self.assertIn(f"(no prompt from tandem on {primary.port} within 1s after 'status --json'", lines[3])
        self.assertIn("backup", lines[4])
        self.assertIn("warning: could not restore the view", result.stderr)
        self.assertEqual(backup.fake.view, "guest")

    def test_ctrl_c_ends_it_and_restores_the_views(self):
        primary, backup = self.console(), self.console(relayed=True, role="backup")
        watch = subprocess.Popen([sys.executable, str(TANDEMCTL), "watch", "--port", primary.port, "--port",
                                  backup.port, "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        try:
            self.assertTrue(watch.stdout.readline().startswith("time"))
            self.assertIn("primary", watch.stdout.readline())
            watch.send_signal(signal.SIGINT)
            out, err = watch.communicate(timeout=20)
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.wait()
        self.assertEqual(watch.returncode, 0, err)
        self.assertEqual((primary.fake.view, backup.fake.view), ("guest", "guest"))


class Relay(TandemctlTest):
    def test_one_client_the_second_is_told_busy(self):
        master, slave = raw_pty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        relay = ConsoleRelay(master, pace=0.001).start()
        self.addCleanup(relay.stop)
        address = ("127.0.0.1", int(relay.url.rsplit(":", 1)[1]))
        with socket.create_connection(address, timeout=5) as first:
            self.assertTrue(wait_until(lambda: relay.has_client))
            first.sendall(b"\x01c")
            self.assertEqual(read_exactly(slave, 2), b"\x01c")  # typed into the terminal
            relay.forward(b"tandem> ")
            self.assertEqual(first.recv(100), b"tandem> ")
            with socket.create_connection(address, timeout=5) as second:
                self.assertEqual(read_all(second), BUSY)
            relay.forward(b"still here\n")
            self.assertEqual(first.recv(100), b"still here\n")
        relay.stop()
        self.assertFalse(relay.has_client)

    def test_bochs_serves_its_console_through_the_relay(self):
        with tempfile.TemporaryDirectory() as work:
            bochs = Bochs(pathlib.Path(work), pathlib.Path(work) / "none.iso", console_relay=True)
            self.assertTrue(bochs.interactive)
            self.assertIsNone(bochs.console_url)
            bochs._open_console()  # what start() does around starting Bochs itself
            bochs._start_console_copy()
            tty.setraw(bochs._pty_slave)
            stop = threading.Event()
            fake = FakeTandem()
            tandem = threading.Thread(target=serve, args=(bochs._pty_slave, fake, stop), daemon=True)
            tandem.start()
            try:
                result = tandemctl("--port", bochs.console_url, "status", "--json")
                self.assert_ok(result)
                self.assertEqual(json.loads(result.stdout)["kind"], "status")
                bochs.send("\x01c")  # send() shares the console with the relay
                self.assertTrue(wait_until(lambda: SHELL_LINE in bochs.console()))
            finally:
                stop.set()
                tandem.join(timeout=5)
                bochs.stop()
            self.assertIsNone(bochs.console_url)
            bochs._reader.join(timeout=5)
            self.assertFalse(bochs._reader.is_alive())


def read_exactly(fd: int, count: int, timeout: float = 5) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < count and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.05)[0]:
            data += os.read(fd, count - len(data))
    return data


def read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
    return data


if __name__ == "__main__":
    unittest.main()
