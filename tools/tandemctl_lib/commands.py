"""What each tandemctl command does with an entered ShellSession. Each returns the exit status
(failures are raised: errors.py) and prints to `out` (stdout by default)."""

from __future__ import annotations

import json
import time

from tandemctl_lib.answers import shown_rows
from tandemctl_lib.errors import Refused
from tandemctl_lib.session import ShellSession, summary

# How often `failover` asks for the status while it waits for the handover.
FAILOVER_POLL = 0.2


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
