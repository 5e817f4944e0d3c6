"""The fake tandem console that tools/test_tandemctl.py runs tools/tandemctl against: the console
multiplexer's Ctrl-A c toggle and its two "console: ..." lines, the shell's echo, Ctrl-U and
prompt, canned answers (the JSON ones valid against docs/console-schema.json), a switchover that
completes or is called off, and tandem's own lines in the middle of answers; behind a
pseudo-terminal or tandem_lab's ConsoleRelay. Also the tests' base class and helpers.

It speaks the raw guest console view (tandem_lab/console_view.py): in the guest's view the
guest's output passes raw (its line that begins with "|" escaped with a space, its prompt left
unfinished) and tandem's lines are marked "|tandem| ", the switch lines among them; in the shell
tandem's lines are not marked and the guest's output is held back until the switch back."""

from __future__ import annotations

import json
import os
import pathlib
import select
import socket
import subprocess
import sys
import threading
import time
import tty
import unittest

TOOLS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
from tandem_lab.console_relay import ConsoleRelay  # noqa: E402

TANDEMCTL = TOOLS / "tandemctl"
CONSOLE_SCHEMA_JSON = TOOLS.parent / "docs" / "console-schema.json"
DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"

SHELL_LINE = "console: tandem's shell (Ctrl-A c: back to the guest's console)"
GUEST_LINE = "console: the guest's console (Ctrl-A c: tandem's shell)"
MARKER = "|tandem|"
# What the guest writes between two switches, as it reaches the line: whole lines (the second
# began "|" and goes out with a space before it: it reads like tandem's marked prompt; the third
# has the words of the switch into the shell, unmarked: a guest's forgery), tandem's marked log
# line, and the guest's prompt, unfinished until tandem ends its row.
GUEST_LINES = ("[   12.345678] e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex\n |tandem| tandem> status\n"
               f"{SHELL_LINE}\n")
GUEST_VIEW_LOG = "pair: epoch 811 committed by the backup"
GUEST_PROMPT = "debian login: "
HYPERCALL_NOISE = "guest (hypercall): counter 4711"  # for the guest, written by tandem: in the shell too
PAIR_NOISE = "pair: epoch 812 committed by the backup"
ECHO_NOISE = "pair: a log line in the middle of the echo"
RELEASE = "0.9.0-fake"
SWITCHING_FOR = 0.3  # seconds the fake's switchover spends in phase "switching"
SWITCHOVER_STARTED = ("switchover: stopping the guest here; it goes on at the backup once the backup holds its "
                      "last epoch")
SWITCHOVER_DONE = ["switchover: the backup holds epoch 813, all of the guest (300 ms after the stop); handing it over",
                   "switchover: the backup has the notice and takes over; this machine becomes its backup"]
MIGRATE_STARTED = ("migrate: the backup holds the guest: the guest moves to it now, and this machine then runs "
                   "nothing")
MIGRATE_DONE = ["migrate: done: the target has the notice and takes over; 1200 ms in all, the guest stopped here 40 ms "
                "before the notice was acknowledged, 108.1 KiB sent for 16 MiB of guest memory (zero pages and unchanged "
                "bytes are sent compactly), 2 pre-copy rounds, no throttling", "migrate: this machine now runs nothing and stays silent ('reprotect' makes "
                "it the target's backup)"]
MIGRATE_GAVE_UP = "migrate: gave up: the target was lost before it held the guest; the guest runs on here (migrate again to retry)"
SWITCHOVER_CALLED_OFF = ("switchover: called off: the backup did not acknowledge the guest's last epoch in time; "
                         "the guest resumes here (nothing was handed over)")


def marked(line: str) -> str:
    """A line of tandem's as it goes out in the guest's view."""
    return f"{MARKER} {line}" if line else MARKER


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
        self.migrating = False
        self.switching_until: float | None = None
        self.phase = "protecting" if role == "primary" else "following"
        self.guest = "running" if role == "primary" else "not_here"
        self.epoch_ms = 20
        self.escaped = self.after_cr = False
        self.guest_row_open = False  # the guest's last row is unfinished (its prompt)
        self.lines: list[str] = []  # the shell lines run

    def feed(self, data: bytes) -> bytes:
        if self.silent:
            return b""
        return self._wire("".join(self._char(chr(b)) for b in data))

    def tick(self) -> bytes:
        """tandem's lines that come on their own (a switchover's end), and the state they tell of."""
        if self.silent or self.switching_until is None or time.monotonic() < self.switching_until:
            return b""
        return self._wire(self._tandem_lines(self.end_switchover()))

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
            out = self._guest_output() + self._tandem_lines([SHELL_LINE])
            self.view = "shell"
            return f"{out}tandem> {self.line}"
        self.view = "guest"  # "\n" ends the prompt's row, then the guest's output held back comes
        return "\n" + self._tandem_lines([GUEST_LINE]) + self._guest_output()

    def _tandem_lines(self, lines: list[str]) -> str:
        """tandem's lines as it writes them in the view shown: in the guest's marked, after ending
        the guest's unfinished row."""
        if self.view == "shell":
            return "".join(line + "\n" for line in lines)
        if not lines:
            return ""
        out = "\n" if self.guest_row_open else ""
        self.guest_row_open = False
        return out + "".join(marked(line) + "\n" for line in lines)

    def _guest_output(self) -> str:
        """What the guest's view shows of the guest: GUEST_LINES, tandem's GUEST_VIEW_LOG, GUEST_PROMPT."""
        self.guest_row_open = False  # the guest's own output goes on on its prompt's row
        out = GUEST_LINES + self._tandem_lines([GUEST_VIEW_LOG]) + GUEST_PROMPT
        self.guest_row_open = True
        return out

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
            # A log line while the line is typed: a row of its own, then the prompt and the line again.
            return c + (f"\n{ECHO_NOISE}\ntandem> {self.line}" if self.split_echo and len(self.line) == 3 else "")
        return ""

    def _run(self, line: str) -> list[str]:
        if not line:
            return []
        self.lines.append(line)
        self.silent = len(self.lines) == self.silent_after  # this answer is its last word
        name, _, args = line.partition(" ")
        handlers = {"version": self._show, "status": self._show, "stats": self._show, "link": self._show,
                    "epoch": self._epoch, "failover": self._failover, "switchover": self._switchover,
                    "migrate": self._migrate,
                    "log": self._log}
        if name not in handlers:
            return [f"shell: unknown command '{name}'; commands: {' '.join(handlers)} help"]
        return handlers[name](name, args.strip())

    def _show(self, kind: str, args: str) -> list[str]:
        if args == "--json":
            return [HYPERCALL_NOISE, json.dumps(self.objects()[kind], separators=(",", ":")), PAIR_NOISE]
        if args:
            return [f"{kind}: the only option is --json, for one line of JSON (not '{args}')"]
        return [f"{kind}: {self.role}, {self.phase}", HYPERCALL_NOISE, f"{kind}: epoch 812, {self.epoch_ms} ms"]

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
                "(epoch 811 or later)", HYPERCALL_NOISE]

    def _switchover(self, _: str, args: str) -> list[str]:
        if self.role != "primary":
            return ["switchover: this machine is the backup: run switchover on the primary (taking over while "
                    "the primary runs would run the guest twice)"]
        if self.guest != "running":
            return ["switchover: the guest does not run here (nothing to hand over)"]
        self.phase, self.guest = "switching", "stopped"
        self.switching_until = time.monotonic() + SWITCHING_FOR
        return [SWITCHOVER_STARTED, HYPERCALL_NOISE]

    def _migrate(self, _: str, args: str) -> list[str]:
        """A migration to the protected backup, ending as self.switchover says (the same machinery)."""
        if args == "cancel":
            if not self.migrating:
                return ["migrate: no migration is under way"]
            self.migrating, self.switching_until = False, None
            self.phase, self.guest = "protecting", "running"
            return ["migrate: called off on the console; the guest runs on here (the target stays joined, as a backup)"]
        if args:
            return ["migrate: the only option is cancel (migrate alone moves the guest to the machine that joins as "
                    "its target)"]
        if self.role != "primary":
            return ["migrate: this machine does not run the guest: run migrate on the machine that does"]
        self.migrating = True
        self.phase, self.guest = "switching", "stopped"
        self.switching_until = time.monotonic() + SWITCHING_FOR
        return [MIGRATE_STARTED]

    def end_switchover(self) -> list[str]:
        """The switchover's (or migration's) end as self.switchover says, and tandem's lines about it."""
        if self.switchover == "stalls":
            return []
        self.switching_until = None
        if self.migrating:
            self.migrating = False
            if self.switchover == "completes":
                self.phase = "handed_over"
                return MIGRATE_DONE
            self.phase, self.guest = "protecting", "running"
            return [MIGRATE_GAVE_UP]
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


class BytesPort:
    """A port with `data` waiting and nothing more, for a ConsoleStream without a console."""

    def __init__(self, data: bytes):
        self.data = data

    @property
    def in_waiting(self) -> int:
        return len(self.data)

    def read(self, count: int) -> bytes:
        chunk, self.data = self.data[:count], self.data[count:]
        return chunk


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
