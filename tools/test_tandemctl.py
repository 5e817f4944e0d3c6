#!/usr/bin/env python3
"""tools/tandemctl against a fake tandem console: the console multiplexer's Ctrl-A c toggle and
its two "console: ..." lines, the shell's echo, Ctrl-U and prompt, canned answers (the JSON ones
valid against docs/console-schema.json, checked here with jsonschema), tandem's own lines and the
print hypercall's in the middle of answers, and the guest's view between two toggles (the guest's
raw output, tandem's lines marked "|tandem| "). The fake sits behind a pseudo-terminal that
tandemctl opens as a device, or behind tandem_lab's ConsoleRelay (socket://) as Bochs' COM1 is in
the lab.

Run: python3 tools/test_tandemctl.py (CTest: tools.tandemctl)."""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
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
from tandemctl_lib.answers import answer_rows, echo_seen, ends_answer  # noqa: E402
from tandemctl_lib.commands import RowTap  # noqa: E402
from tandemctl_lib.session import ShellSession  # noqa: E402
from tandemctl_lib.stream import ConsoleStream, render  # noqa: E402
from tandemctl_fake_console import (  # noqa: E402
    BytesPort,
    CONSOLE_SCHEMA_JSON,
    FakeTandem,
    GUEST_LINE,
    GUEST_LINES,
    GUEST_PROMPT,
    GUEST_VIEW_LOG,
    MIGRATE_DONE,
    MIGRATE_GAVE_UP,
    MIGRATE_STARTED,
    RELEASE,
    SHELL_LINE,
    SWITCHOVER_CALLED_OFF,
    SWITCHOVER_DONE,
    SWITCHOVER_STARTED,
    StubStream,
    TANDEMCTL,
    TandemctlTest,
    import_jsonschema,
    raw_pty,
    read_all,
    read_exactly,
    serve,
    tandemctl,
    unused_tcp_port,
    wait_until)


class TimedPort:
    """A port whose data arrives in pieces, each at its time (seconds after the first read)."""

    def __init__(self, pieces: list[tuple[float, bytes]]):
        self.pieces, self.data, self.start = list(pieces), b"", None

    def _arrived(self) -> None:
        if self.start is None:
            self.start = time.monotonic()
        while self.pieces and time.monotonic() - self.start >= self.pieces[0][0]:
            self.data += self.pieces.pop(0)[1]

    @property
    def in_waiting(self) -> int:
        self._arrived()
        return len(self.data)

    def read(self, count: int) -> bytes:
        self._arrived()
        if not self.data:
            time.sleep(0.01)
            self._arrived()
        chunk, self.data = self.data[:count], self.data[count:]
        return chunk

    def write(self, data: bytes) -> int:
        return len(data)


def stream_of(wire: bytes) -> ConsoleStream:
    """A ConsoleStream that has received `wire` (and nothing more)."""
    port = BytesPort(wire)
    stream = ConsoleStream(port, "stub")
    while port.in_waiting:
        stream.receive()
    return stream


def whole_rows(stream: ConsoleStream) -> list[str]:
    rows = []
    while (item := stream.pending_row()) is not None:
        rows.append(item[1])
    return rows


class Rows(unittest.TestCase):
    """How an answer is found among the rows (no console needed)."""

    def test_tandems_marker_comes_off_its_rows_and_the_row_being_received(self):
        stream = stream_of(b"|tandem| pair: x\r\n|tandem|\r\n |tandem| guest\r\n|tandem|x\n|tandem| pair: PROT")
        self.assertEqual(whole_rows(stream), ["pair: x", "", " |tandem| guest", "|tandem|x"])
        self.assertEqual(stream.partial(), "pair: PROT")

    def test_the_fakes_guest_view_as_tandemctl_reads_it(self):
        fake = FakeTandem()
        stream = stream_of(fake.feed(b"\x01c"))  # into the shell: the guest's view first, then the switch
        guest_rows = GUEST_LINES.splitlines()  # the second begins " |tandem| ": the guest's, kept so
        self.assertEqual(whole_rows(stream), [*guest_rows, GUEST_VIEW_LOG, GUEST_PROMPT, SHELL_LINE])
        self.assertEqual(stream.partial(), "tandem> ")
        stream = stream_of(b"tandem> " + fake.feed(b"\x01c"))  # and back: the guest's output held comes
        self.assertEqual(whole_rows(stream), ["tandem> ", GUEST_LINE, *guest_rows, GUEST_VIEW_LOG])
        self.assertEqual(stream.partial(), GUEST_PROMPT)

    def test_ctrl_u_over_text_left_on_the_line_renders_away(self):
        self.assertEqual(render(b"tandem> half\b\b\b\b    \b\b\b\blog 5\r"), "tandem> log 5")

    def test_the_echo_on_its_own_row(self):
        self.assertEqual(answer_rows(["tandem> log 5", "a", "b"], "log 5"), ["a", "b"])

    def test_a_log_line_in_the_middle_of_the_echo(self):
        self.assertEqual(answer_rows(["tandem> lopair: x", "g 5", "a"], "log 5"), ["a"])

    def test_log_lines_before_the_echo_that_start_like_the_command(self):
        self.assertEqual(answer_rows(["tandem> link: y", "log: z", "log 5", "a"], "log 5"), ["a"])

    def test_a_log_line_on_its_own_row_and_the_line_drawn_again(self):
        rows = ["tandem> lo", "pair: x", "tandem> log", "pair: y", "tandem> log 5", "a"]
        self.assertEqual(answer_rows(rows, "log 5"), ["a"])
        self.assertFalse(echo_seen(rows[:4], "log 5"))  # the prompt rows so far are the line drawn again
        self.assertTrue(echo_seen(rows[:5], "log 5"))

    def test_a_log_line_after_the_whole_line_was_typed_before_enter(self):
        # The CI failure: the whole line drawn again after the log line is not the next prompt,
        # and it is not part of the answer.
        rows = ["tandem> status --json", "pair: following the primary (session 0x88d4)"]
        self.assertFalse(ends_answer("tandem> status --json", rows, "status --json"))
        self.assertFalse(ends_answer("tandem> status", rows, "status --json"))
        self.assertTrue(ends_answer("tandem> ", rows + ["tandem> status --json", '{"kind":"status"}'], "status --json"))
        self.assertEqual(answer_rows(rows + ["tandem> status --json", '{"kind":"status"}'], "status --json"),
                         ["pair: following the primary (session 0x88d4)", '{"kind":"status"}'])

    def test_the_line_drawn_again_arriving_after_its_prompt(self):
        # The clean-clone CI failure: the prompt of the line drawn again after a log line came in
        # one read, the line behind it in the next; the bare prompt was taken for the answer's end.
        port = TimedPort([(0.0, b"tandem> status --json\r\npair: handing it over\r\ntandem> "),
                          (0.1, b"status --json\r\n{\"schema\":1,\"kind\":\"status\"}\r\ntandem> ")])
        session = ShellSession(ConsoleStream(port, "timed"), timeout=5)
        text, status = session.json("status")
        self.assertEqual((text, status), ('{"schema":1,"kind":"status"}', {"schema": 1, "kind": "status"}))

    def test_the_line_drawn_again_after_each_of_several_log_lines(self):
        # The e2e failure of 3bffc42: a migration's last copy printed eight lines while 'status
        # --json' was being typed; each bare prompt of the line drawn again came apart from its line.
        chunks = [(0.0, b"tandem> status --json\r\n")]
        for i in range(8):
            chunks += [(0.05 + 0.1 * i, b"migrate: step %d\r\ntandem> " % i), (0.1 + 0.1 * i, b"status --json\r\n")]
        chunks.append((0.95, b"{\"schema\":1,\"kind\":\"status\"}\r\ntandem> "))
        session = ShellSession(ConsoleStream(TimedPort(chunks), "timed"), timeout=5)
        text, status = session.json("status")
        self.assertEqual((text, status), ('{"schema":1,"kind":"status"}', {"schema": 1, "kind": "status"}))

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

    def test_the_guests_view_between_two_toggles_marked_and_escaped_lines_among_it(self):
        # Started in the shell: tandemctl reads the guest's view (a marked log line, a guest line
        # that begins " |tandem| tandem> ", the guest's unfinished prompt) until the marked switch.
        for crlf in (True, False):
            with self.subTest(crlf=crlf):
                c = self.console(relayed=True, view="shell", crlf=crlf)
                result = tandemctl("--port", c.port, "status")
                self.assert_ok(result)
                self.assertEqual(result.stdout.splitlines(),
                                 ["status: primary, protecting", "status: epoch 812, 20 ms"])
                self.assertEqual((c.fake.view, c.fake.lines), ("shell", ["version --json", "status"]))

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


class Migrate(TandemctlTest):
    def test_on_the_primary_it_waits_until_the_guest_was_handed_over(self):
        c = self.console()
        result = tandemctl("--port", c.port, "migrate")
        self.assert_ok(result)
        self.assertEqual(result.stdout.splitlines(), [MIGRATE_STARTED, *MIGRATE_DONE])
        self.assertEqual(c.fake.phase, "handed_over")
        self.assertEqual(c.fake.view, "guest")

    def test_refused_on_the_backup_and_given_up_exit_1(self):
        result = tandemctl("--port", self.console(role="backup").port, "migrate")
        self.assert_fails(result, 1, "refused 'migrate'", "migrate: this machine does not run the guest")
        c = self.console(switchover="called_off")
        result = tandemctl("--port", c.port, "migrate")
        self.assert_fails(result, 1, "did not migrate the guest", MIGRATE_GAVE_UP)
        self.assertEqual(c.fake.guest, "running")

    def test_not_done_within_the_timeout_it_is_called_off(self):
        c = self.console(switchover="stalls")
        result = tandemctl("--port", c.port, "--timeout", "1", "migrate")
        self.assert_fails(result, 1, "did not finish the migration within 1s", "migrate: called off on the console")
        self.assertEqual(c.fake.lines[-1], "migrate cancel")
        self.assertEqual((c.fake.phase, c.fake.guest), ("protecting", "running"))


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


if __name__ == "__main__":
    unittest.main()
