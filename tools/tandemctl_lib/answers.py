"""A command's answer out of the rows that followed it on the console.

After tandemctl types a line, the rows up to the next prompt are: the echo of the line, then the
command's answer; tandem's log lines and the print hypercall's lines for the guest ("guest
(hypercall): ...") can come anywhere among them, whole, even in the middle of the echo (a row then
holds the echo's start and a log line, and the echo goes on at the start of the next row; since
the raw guest console, a log line gets a row of its own and the prompt and the line typed so far
are drawn again after it, so a prompt row before the echo's end is not the next prompt). The
JSON answer is the one row that starts with "{" and parses as an object whose "kind" is the
command's name.
"""

from __future__ import annotations

import functools
import json
import re

PROMPT = "tandem> "

# Lines for the guest, never a command's answer. In the shell only the print hypercall's reach
# the console (tandem writes them; the guest's own output is held back while the shell is shown).
# "guest: " is how a firmware before the raw guest console view prefixed the guest's lines; no line
# of tandem's starts so, so keeping it costs nothing.
GUEST_PREFIXES = ("guest: ", "guest (hypercall): ")

# The shell's own refusals (unknown command, arguments to a command that takes none, a line
# too long), and each command's refusal of its arguments or of this machine: exit status 1.
SHELL_REFUSAL = re.compile(r"^shell: ")
COMMAND_REFUSALS = {
    "version": re.compile(r"^version: the only option is"),
    "status": re.compile(r"^status: the only option is"),
    "stats": re.compile(r"^stats: the only option is"),
    "link": re.compile(r"^link: the only option is"),
    "log": re.compile(r"^log: N is "),
    "failover": re.compile(r"^failover: (this machine is the backup|the guest does not run here|refused)"),
    "switchover": re.compile(r"^switchover: (this machine is the backup|the guest does not run here|refused)"),
    "migrate": re.compile(r"^migrate: (this machine does not run the guest|the guest does not run here|already under "
                          r"way|the only option is)"),
}
# tandem's log lines about a switchover under way (its answer starts the same way), and the one
# that says it was called off (the guest runs on where it was).
SWITCHOVER_LINE = "switchover: "
SWITCHOVER_CALLED_OFF = "switchover: called off: "
# `epoch` says the length, or sets it; anything else it says is a refusal.
EPOCH_SHOWN = re.compile(r"^epoch: \d+ ms$")
EPOCH_SET = re.compile(r"^epoch: \d+ ms from the next epoch boundary on")


def without_prompt(row: str) -> str:
    return row[len(PROMPT):] if row.startswith(PROMPT) else row


def answer_rows(rows: list[str], line: str) -> list[str]:
    """The rows after the echo of `line` (rows: everything from the row being received when the
    line was typed up to, not including, the next prompt). If the echo cannot be found, the
    first row is taken for it."""
    cleaned = [without_prompt(row).rstrip() for row in rows]
    end = echo_end(tuple(cleaned), line)
    start = 1 if end is None else end + 1
    return [row.rstrip() for row in rows[start:] if not is_redraw(row, line)]


def is_redraw(row: str, line: str) -> bool:
    """Whether `row` is the prompt and (part of) `line` drawn again after a log line cut into it;
    never the prompt after the answer, which tandemctl has typed nothing behind."""
    if not row.startswith(PROMPT):
        return False
    rest = without_prompt(row).rstrip()
    return rest != "" and line.startswith(rest)


def ends_answer(row: str, rows: list[str], line: str) -> bool:
    """Whether `row` (received after the row `line` was typed on) is the prompt after the answer:
    a prompt row that is not the line drawn again, once the whole echo of `line` is in `rows`."""
    return row.startswith(PROMPT) and not is_redraw(row, line) and echo_seen(rows, line)


def echo_seen(rows: list[str], line: str) -> bool:
    """Whether `rows` hold the whole echo of `line` (the next prompt then ends the answer)."""
    cleaned = tuple(without_prompt(row).rstrip() for row in rows)
    return echo_end(cleaned, line) is not None or any(row.endswith(line) for row in cleaned)


def echo_end(rows: tuple[str, ...], line: str) -> int | None:
    """The index of the row that ends the echo of `line`: the first row that is a tail of the line
    whose head is made of the starts of the rows before it, in order (see the module's docstring);
    an empty row if the whole echo came before it (a log line between the echo and Enter's "\n")."""
    for j, row in enumerate(rows):
        if line.endswith(row) and _echo_heads(rows[:j], line[:len(line) - len(row)]):
            return j
    return None


def _echo_heads(rows: tuple[str, ...], text: str) -> bool:
    @functools.lru_cache(maxsize=None)
    def fits(i: int, pos: int) -> bool:
        if pos == len(text):
            return True
        if i == len(rows):
            return False
        row = rows[i]
        # The echo's piece on this row, then a log line after it on the same row (at least one
        # character of it); or no piece at all (a row of log lines only).
        for k in range(min(len(row) - 1, len(text) - pos), 0, -1):
            if text.startswith(row[:k], pos) and fits(i + 1, pos + k):
                return True
        return fits(i + 1, pos)

    return fits(0, 0)


def is_guest_row(row: str) -> bool:
    return row.startswith(GUEST_PREFIXES)


def shown_rows(rows: list[str]) -> list[str]:
    """What tandemctl prints of an answer: everything but the guest's lines."""
    return [row for row in rows if not is_guest_row(row)]


def find_json(rows: list[str], kind: str) -> tuple[str, dict] | None:
    """The JSON answer of `kind` --json among `rows`, as received and parsed."""
    for row in rows:
        text = row.strip()
        if not text.startswith("{"):
            continue
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("kind") == kind:
            return text, value
    return None


def refusal(line: str, rows: list[str]) -> str | None:
    """tandem's row refusing `line`, or None if the answer is not a refusal."""
    name, _, args = line.strip().partition(" ")
    for row in rows:
        if SHELL_REFUSAL.match(row):
            return row
        pattern = COMMAND_REFUSALS.get(name)
        if pattern is not None and pattern.match(row):
            return row
    if name == "epoch":
        return _epoch_refusal(args.strip(), rows)
    return None


def _epoch_refusal(args: str, rows: list[str]) -> str | None:
    said = [row for row in rows if row.startswith("epoch: ")]
    success = EPOCH_SET if args else EPOCH_SHOWN
    if any(success.match(row) for row in said):
        return None
    return said[0] if said else "(no 'epoch: ' line in the answer)"
