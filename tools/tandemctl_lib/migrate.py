"""`tandemctl migrate`: the guest moves from this primary to the machine booted mode=migrate on
its link, once that machine's copy has caught up; this machine then runs nothing.

Judged by the status, not by wording: done once this machine's status says the guest was handed
over (phase "handed_over"); refused (exit status 1) if tandem refuses at once (on a backup, with
arguments, while something else is under way) or gives up (the target lost, migrate_max_s
passed, the last copy not acknowledged: its "migrate: gave up" or "migrate: called off" line). If
--timeout passes first (no target booted yet, say), tandemctl calls the migration off with
'migrate cancel' so that it does not go on unseen, and says what tandem answered."""

from __future__ import annotations

import time

from tandemctl_lib.answers import refusal
from tandemctl_lib.commands import print_rows, tapped
from tandemctl_lib.errors import Refused
from tandemctl_lib.session import ShellSession, seconds, summary

MIGRATE_LINE = "migrate: "
MIGRATE_FAILED = ("migrate: gave up: ", "migrate: called off")
MIGRATE_POLL = 0.2


def migrated(status: dict) -> bool:
    return status.get("phase") == "handed_over"


def migrate(session: ShellSession, out=print) -> int:
    rows = session.run("migrate")
    refused = refusal("migrate", rows)
    if refused is not None:
        raise Refused(f"tandem on {session.port} refused 'migrate': {refused}", refused)
    deadline = time.monotonic() + session.timeout
    logged: list[str] = []
    with tapped(session) as tap:
        while True:
            status = session.json("status")[1]
            logged += tap.lines(MIGRATE_LINE)
            if migrated(status):
                print_rows(rows + logged, out)
                return 0
            failed = next((line for line in logged if line.startswith(MIGRATE_FAILED)), None)
            if failed is not None:
                raise Refused(f"tandem on {session.port} did not migrate the guest: {failed}", failed)
            if time.monotonic() >= deadline:
                break
            time.sleep(MIGRATE_POLL)
    answer = summary(session.run("migrate cancel"))
    raise Refused(f"tandem on {session.port} did not finish the migration within {seconds(session.timeout)}; "
                  f"tandemctl called it off ('migrate cancel': {answer})", answer)
