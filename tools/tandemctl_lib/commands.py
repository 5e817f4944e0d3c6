"""What each tandemctl command does with an entered ShellSession. Each returns the exit status
(failures are raised: errors.py) and prints to `out` (stdout by default)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time

from tandemctl_lib.answers import (SWITCHOVER_CALLED_OFF, SWITCHOVER_LINE, is_guest_row, refusal, shown_rows,
                                   without_prompt)
from tandemctl_lib.errors import Refused
from tandemctl_lib.session import ShellSession, seconds, summary

# How often `failover` and `switchover` ask for the status while they wait for the handover.
FAILOVER_POLL = 0.2
SWITCHOVER_POLL = 0.2
# How much of tandem's words a refused switchover's message quotes (its lines are long).
SWITCHOVER_SAID = 400


def print_rows(rows: list[str], out=print) -> None:
    for row in shown_rows(rows):
        out(row)


def show(session: ShellSession, name: str, as_json: bool, pretty: bool, out=print) -> int:
    """version, status, stats, link: the shell's lines, or the JSON line (as received, or indented)."""
    if not (as_json or pretty):
        print_rows(session.checked(name), out)
        return 0
    if name == "version" and session.version is not None:
        text, value = session.version  # asked already, for the schema check
    else:
        text, value = session.json(name)
    out(json.dumps(value, indent=2) if pretty else text)
    return 0


def run_line(session: ShellSession, line: str, out=print) -> int:
    """Any shell line: its answer, or the refusal (exit status 1)."""
    print_rows(session.checked(line.strip()), out)
    return 0


def with_argument(name: str, argument: str | None) -> str:
    return name if argument is None else f"{name} {argument}"


def can_hand_over(status: dict) -> bool:
    """What tandem requires for `failover` (docs/console-schema.json): a primary running the guest
    with a protected backup, one that holds a committed epoch."""
    return (status.get("role") == "primary" and status.get("guest") == "running"
            and status.get("protection") == "protected")


def handed_over(status: dict) -> bool:
    return status.get("phase") == "handed_over" or status.get("guest") == "stopped"


def failover(session: ShellSession, out=print) -> int:
    """`failover`, judged by the status before and after rather than by its wording: done once the
    status says the guest was handed over; refused (exit status 1) if it does not, at once when
    the status before already said this machine cannot hand over."""
    before = session.json("status")[1]
    rows = session.checked("failover")
    waited = session.timeout if can_hand_over(before) else 0.0
    after = wait_for_handover(session, waited)
    if not handed_over(after):
        said = summary([row for row in rows if row.startswith("failover: ")] or rows)
        raise Refused(f"tandem on {session.port} did not hand the guest over: {said} (status: role "
                      f"{after.get('role')}, protection {after.get('protection')}, phase {after.get('phase')})", said)
    print_rows(rows, out)
    return 0


def wait_for_handover(session: ShellSession, seconds: float) -> dict:
    """The status once it says handed over, or the last one asked within `seconds` (at least one)."""
    deadline = time.monotonic() + seconds
    while True:
        status = session.json("status")[1]
        if handed_over(status) or time.monotonic() >= deadline:
            return status
        time.sleep(FAILOVER_POLL)


def runs_guest(status: dict) -> bool:
    """A primary running the guest: where a switchover starts, and where a called-off one returns."""
    return status.get("role") == "primary" and status.get("guest") == "running"


def switched_over(status: dict) -> bool:
    """After a switchover this machine rejoins the pair as the new primary's backup."""
    return status.get("role") == "backup"


def switchover(session: ShellSession, out=print) -> int:
    """`switchover`, judged by the status: done once this machine says it is the backup (the guest
    went on at the other machine, this one rejoined as its backup); refused (exit status 1) if
    tandem refused it at once, called it off (its "called off" line, or the status back at a
    primary running the guest after it had left that), or the timeout passed first."""
    rows = session.run("switchover")
    refused = refusal("switchover", rows)
    progress = wait_for_switchover(session, 0.0 if refused is not None else session.timeout)
    if refused is not None or not switched_over(progress.status):
        raise switchover_refused(session, rows, refused, progress)
    print_rows(rows + progress.logged, out)
    return 0


@dataclasses.dataclass
class SwitchoverProgress:
    """What tandemctl saw while it waited: the last status, tandem's "switchover: " log lines, and
    whether the status left "a primary running the guest" (the guest stopped for the switchover)."""

    status: dict
    logged: list[str] = dataclasses.field(default_factory=list)
    left: bool = False

    def see(self, status: dict, lines: list[str]) -> None:
        self.status = status
        self.logged += lines
        self.left = self.left or not runs_guest(status)

    @property
    def called_off(self) -> bool:
        return any(line.startswith(SWITCHOVER_CALLED_OFF) for line in self.logged) or (
            self.left and runs_guest(self.status))

    def over(self) -> bool:
        return switched_over(self.status) or self.called_off


def wait_for_switchover(session: ShellSession, limit: float) -> SwitchoverProgress:
    """The status every SWITCHOVER_POLL s until the switchover is over or `limit` seconds passed
    (at least one), with tandem's log lines about it wherever they came on the console."""
    deadline = time.monotonic() + limit
    progress = SwitchoverProgress({})
    with tapped(session) as tap:
        while True:
            status = session.json("status")[1]
            progress.see(status, tap.lines(SWITCHOVER_LINE))
            if progress.over() or time.monotonic() >= deadline:
                return progress
            time.sleep(SWITCHOVER_POLL)


def switchover_refused(session: ShellSession, rows: list[str], refused: str | None,
                       progress: SwitchoverProgress) -> Refused:
    """Refused with tandem's words (its refusal, or its answer and log lines) and the last status."""
    status = progress.status
    if refused is not None:
        what, said = "refused 'switchover'", refused
    else:
        what = "called the switchover off" if progress.called_off else \
            f"did not finish the switchover within {seconds(session.timeout)}"
        said = summary([row for row in rows if row.startswith(SWITCHOVER_LINE)] + progress.logged, SWITCHOVER_SAID)
    row = refused or next((line for line in progress.logged if line.startswith(SWITCHOVER_CALLED_OFF)), said)
    return Refused(f"tandem on {session.port} {what}: {said} (status: role {status.get('role')}, guest "
                   f"{status.get('guest')}, phase {status.get('phase')})", row)


class RowTap:
    """A session's console whose rows are kept as the session takes them, so that tandem's log
    lines are found wherever they came: between two answers, before a command's echo or in the
    middle of it (where a command's answer leaves them out)."""

    def __init__(self, stream):
        self.stream = stream
        self._rows: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self.stream, name)

    def pending_row(self) -> tuple[int, str] | None:
        item = self.stream.pending_row()
        if item is not None:
            self._rows.append(item[1])
        return item

    def drop_rows(self) -> None:
        """The rows a command would drop before it is typed: kept, not dropped."""
        while self.pending_row() is not None:
            pass

    def lines(self, prefix: str) -> list[str]:
        """tandem's lines starting `prefix` in the rows since the last call (a row's start may be a
        prompt or a piece of an echo); the guest's lines left out."""
        self.drop_rows()
        rows, self._rows = [without_prompt(row) for row in self._rows], []
        return [row[row.index(prefix):] for row in rows if prefix in row and not is_guest_row(row)]


@contextlib.contextmanager
def tapped(session: ShellSession):
    """The session's console behind a RowTap for the duration."""
    tap = RowTap(session.stream)
    session.stream = tap
    try:
        yield tap
    finally:
        session.stream = tap.stream
