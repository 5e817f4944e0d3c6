"""One console in tandem's shell: getting there, commands, getting back.

tandemctl cannot know which view the serial line is in when it connects (the guest's console is
the default; someone may have left it in the shell). Ctrl-A c toggles, and tandem says where it
landed on a line of its own ("console: tandem's shell ..." followed by the prompt, or "console:
the guest's console ..."): one toggle tells the view tandemctl found, a second one if that landed
in the guest's console, and leaving toggles back if the session started there.

Each command line goes out after Ctrl-U (which clears whatever was left on the line); its answer
is the rows between its echo and the next prompt (answers.py). Before the first command the
firmware's console schema is checked against this tandemctl's (CONSOLE_SCHEMA).
"""

from __future__ import annotations

import contextlib
import sys
import time

from tandemctl_lib import CONSOLE_SCHEMA
from tandemctl_lib.answers import PROMPT, answer_rows, ends_answer, find_json, is_guest_row, is_redraw, refusal
from tandemctl_lib.errors import BadAnswer, ConnectionLost, NoAnswer, Refused, SchemaMismatch, TandemctlError
from tandemctl_lib.port import open_port
from tandemctl_lib.stream import ConsoleStream

REDRAW_WAIT = 2.0  # seconds for the line drawn again and its answer (tandem writes them at once)

SHELL_LINE = "console: tandem's shell (Ctrl-A c: back to the guest's console)"
GUEST_LINE = "console: the guest's console (Ctrl-A c: tandem's shell)"
TOGGLE = b"\x01c"      # Ctrl-A c
CLEAR_LINE = b"\x15"   # Ctrl-U
ENTER = b"\r"
MAX_LINE = 120         # the line editor's kMaxLine: a longer line is refused whole
LEAVE_AFTER_FAILURE = 3.0  # seconds to restore the view after something already went wrong


def seconds(value: float) -> str:
    return f"{value:g}s"


def summary(rows: list[str], limit: int = 160) -> str:
    """What tandem said, on one line for a message."""
    said = " | ".join(row for row in rows if row and not is_guest_row(row))
    if not said:
        return "nothing"
    return said if len(said) <= limit else said[:limit - 3] + "..."


class ShellSession:
    """One console switched to tandem's shell (enter()) and back to where it was (leave())."""

    def __init__(self, stream: ConsoleStream, timeout: float):
        self.stream = stream
        self.timeout = timeout
        self.started_in: str | None = None  # "guest" or "shell" once entered
        self.view: str | None = None  # where the last toggle landed
        self.version: tuple[str, dict] | None = None  # `version --json`, once checked

    @property
    def port(self) -> str:
        return self.stream.port

    def enter(self) -> None:
        """Into tandem's shell, remembering the view it started in."""
        self.started_in = "guest" if self._toggle() == "shell" else "shell"
        if self.view == "guest" and self._toggle() != "shell":
            raise BadAnswer(f"{self.port}: Ctrl-A c toggled twice and did not reach tandem's shell")

    def leave(self, timeout: float | None = None) -> None:
        """Back to the view the session started in (a toggle if it is not there now)."""
        started, self.started_in = self.started_in, None
        if started is not None and self.view != started and self._toggle(timeout) != started:
            raise BadAnswer(f"{self.port}: Ctrl-A c did not return to the view tandemctl found ({started})")

    def leave_quietly(self) -> None:
        """leave() when something already failed: briefly, and a failure only warned about."""
        try:
            self.leave(min(self.timeout, LEAVE_AFTER_FAILURE))
        except TandemctlError as e:
            print(f"tandemctl: warning: could not restore the view tandemctl found on {self.port} (Ctrl-A c "
                  f"switches it by hand): {e.message}", file=sys.stderr)

    def _toggle(self, timeout: float | None = None) -> str:
        """Ctrl-A c, and the view tandem says it switched to: "shell" or "guest"."""
        timeout = self.timeout if timeout is None else timeout
        self.stream.send(TOGGLE)
        deadline = time.monotonic() + timeout
        while True:
            item = self._next_row(deadline)
            if item is None:
                raise NoAnswer(f"no answer from tandem on {self.port} within {seconds(timeout)}: "
                               f"is this a tandem console, at the right baud rate?")
            number, row = item[0], item[1].rstrip()
            # Into the shell the line is written in the guest's view: tandem's only if marked (a
            # guest could print the same words). Back, it is written in the shell, where nothing
            # of the guest's is shown.
            if row == SHELL_LINE and self.stream.was_marked(number):
                self.view = "shell"
                return self.view
            if row.endswith(GUEST_LINE):
                self.view = "guest"
                return self.view

    def _next_row(self, deadline: float) -> tuple[int, str] | None:
        try:
            return self.stream.next_row(deadline)
        except ConnectionLost as e:
            if self.view is not None:
                raise
            raise ConnectionLost(f"{self.port} hung up before tandem answered (a console server that serves one "
                                 f"client at a time, busy with another? {e.message})") from None

    def run(self, line: str) -> list[str]:
        """Runs one shell line; its answer's rows (the guest's lines among them too)."""
        check_line(line)
        send_row = self.stream.row_number
        self.stream.drop_rows()
        self.stream.send(CLEAR_LINE + line.encode() + ENTER)
        return answer_rows(self._rows_until_prompt(send_row, line), line)

    def _rows_until_prompt(self, send_row: int, line: str) -> list[str]:
        """Every row from the one being received when `line` went out up to the next prompt (a
        row after that one starting with the prompt, whole or not, once the echo of `line` was
        seen: before, a prompt row is the line drawn again after a log line cut into it)."""
        deadline = time.monotonic() + self.timeout
        rows: list[str] = []
        while True:
            while (item := self.stream.pending_row()) is not None:
                number, text = item
                if number != send_row and ends_answer(text, rows, line):
                    return rows
                rows.append(text)
            if self.stream.row_number != send_row and ends_answer(self.stream.partial(), rows, line):
                return rows
            if time.monotonic() >= deadline:
                raise NoAnswer(f"no prompt from tandem on {self.port} within {seconds(self.timeout)} "
                               f"after '{line}' (its answer so far: {summary(rows)})")
            self.stream.receive()

    def _rows_after_redraw(self, line: str) -> list[str] | None:
        """The answer's rows after the line drawn again, waited for briefly (a bare prompt may also
        be a real answer's end that lacks the JSON: then None, and that answer is reported)."""
        timeout, self.timeout = self.timeout, min(self.timeout, REDRAW_WAIT)
        try:
            return answer_rows(self._rows_until_prompt(self.stream.row_number, line), line)
        except NoAnswer:
            return None
        finally:
            self.timeout = timeout

    def _redraw_under_way(self, rows: list[str], line: str) -> bool:
        """Whether an answer without what it must hold ended on a bare prompt that is being
        followed by `line` drawn again (its rows so far only tandem's log lines)."""
        partial = self.stream.partial()
        return bool(rows) and (partial == PROMPT or is_redraw(partial, line)) and not any(
            is_guest_row(row) for row in rows)

    def checked(self, line: str) -> list[str]:
        """run(), with a refusal raised as Refused (exit status 1, tandem's line in the message)."""
        rows = self.run(line)
        refused = refusal(line, rows)
        if refused is not None:
            raise Refused(f"tandem on {self.port} refused '{line}': {refused}", refused)
        return rows

    def json(self, kind: str) -> tuple[str, dict]:
        """`<kind> --json`: the JSON line as received and parsed, of this console schema."""
        line = f"{kind} --json"
        rows = self.checked(line)
        found = find_json(rows, kind)
        deadline = time.monotonic() + self.timeout
        while found is None and self._redraw_under_way(rows, line) and time.monotonic() < deadline:
            # The prompt of the line drawn again after a log line came on its own and was taken
            # for the answer's end (a relay may hand over a row in pieces): the answer follows it,
            # or another log line and the line drawn again (a migration's last copy says several).
            after = self._rows_after_redraw(line)
            if after is None:
                break
            rows = after
            found = find_json(rows, kind)
        if found is None:
            raise BadAnswer(f"{self.port} answered '{line}' without its JSON line (it said: {summary(rows)})")
        schema = found[1].get("schema")
        if type(schema) is not int:
            raise BadAnswer(f"{self.port} answered '{line}' with JSON without an integer \"schema\": {found[0][:160]}")
        if schema != CONSOLE_SCHEMA:
            raise self._mismatch(schema, found[1] if kind == "version" else None)
        return found

    def check_schema(self) -> None:
        """`version --json` (kept in self.version), refusing a firmware of another console schema."""
        try:
            self.version = self.json("version")
        except Refused as e:
            raise SchemaMismatch(f"the tandem on {self.port} has no 'version --json' (it said: {e.row}): its "
                                 f"firmware predates console schema {CONSOLE_SCHEMA}, the one this tandemctl "
                                 f"speaks") from None

    def _mismatch(self, schema: int, version: dict | None) -> SchemaMismatch:
        """The firmware's release (from `version --json`) and both schemas, for the message."""
        version = version if version is not None else (self.version[1] if self.version else {})
        release = version.get("tandem", "(release unknown)")
        return SchemaMismatch(f"{self.port} runs tandem {release} with console schema {schema}; this tandemctl "
                              f"speaks console schema {CONSOLE_SCHEMA}: use the tandemctl of that release")


def check_line(line: str) -> None:
    """A line the shell can take whole: printable, at most MAX_LINE characters."""
    if not line.strip():
        raise TandemctlError("an empty command line")
    if any(not (" " <= ch <= "~") for ch in line):
        raise TandemctlError(f"the command line {line!r} has characters the shell does not take "
                             f"(only printable ASCII)")
    if len(line) > MAX_LINE:
        raise TandemctlError(f"the command line is {len(line)} characters; the shell takes at most {MAX_LINE}")


@contextlib.contextmanager
def open_session(port: str, baud: int, timeout: float, quiet_leave: bool = False):
    """An entered, schema-checked ShellSession on `port`; the view restored and the port closed
    afterwards, whatever happened. quiet_leave: a console that cannot be restored at the end
    is warned about, not an error (`watch`, whose machines may go away while it runs)."""
    handle = open_port(port, baud)
    try:
        stream = ConsoleStream(handle, port)
        stream.discard_waiting()
        session = ShellSession(stream, timeout)
        try:
            session.enter()
            session.check_schema()
            yield session
        except BaseException:
            session.leave_quietly()
            raise
        if quiet_leave:
            session.leave_quietly()
        else:
            session.leave()
    finally:
        handle.close()
