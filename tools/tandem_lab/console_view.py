"""tandem's serial console as written on the line (the raw guest console view), back to the
prefixed text the harness and the e2e patterns read: tandem's lines bare, the guest's "guest: ...".

On the line, the guest's bytes pass through as the guest wrote them; a guest line that begins
with "|" goes out with one space before it (" |..."), so that it never looks like tandem's
MARKER. In the guest's view (the default) every line tandem writes begins with MARKER and a space
(or is MARKER alone when empty). Ctrl-A c switches to tandem's shell, announced by the marked
SHELL_LINE: from there on tandem's lines are not marked and the guest's output is held back,
until GUEST_LINE switches back (written in the shell, so unmarked; a marked one is taken too). Before tandem's first marked line the boot loader
(GRUB) writes unmarked text that is neither the guest's nor tandem's.
"""

from __future__ import annotations

import re

MARKER = "|tandem|"
SHELL_LINE = "console: tandem's shell (Ctrl-A c: back to the guest's console)"
GUEST_LINE = "console: the guest's console (Ctrl-A c: tandem's shell)"
GUEST_PREFIX = "guest: "
ESCAPED_BAR = " |"  # how a guest line that begins with "|" is sent

# GRUB's menu draws with these; tandem's lines and the patterns have none.
ANSI_ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")


def marked_body(line: str) -> str | None:
    """The line without tandem's marker (and the one space after it); None if it is unmarked."""
    if line == MARKER:
        return ""
    if line.startswith(MARKER + " "):
        return line[len(MARKER) + 1:]
    return None


def unescaped_guest_line(line: str) -> str:
    """A guest line as the guest wrote it (the space sent before a leading "|" removed)."""
    return line[1:] if line.startswith(ESCAPED_BAR) else line


class PrefixedLines:
    """Turns lines of the console, in order, into prefixed lines; remembers what it has seen
    (whether tandem spoke yet, which view the console is in) between them."""

    def __init__(self):
        self.tandem_spoke = False  # before that, unmarked lines are the boot loader's
        self.in_shell = False  # in tandem's shell, unmarked lines are tandem's own

    def line(self, line: str) -> str:
        body = marked_body(line)
        if body is not None:
            self.tandem_spoke = True
            if body == SHELL_LINE:
                self.in_shell = True
            elif body == GUEST_LINE:
                self.in_shell = False
            return body
        if self.in_shell:
            if line == GUEST_LINE:  # written in the shell: unmarked, and only tandem writes there
                self.in_shell = False
            return line
        if not self.tandem_spoke:
            return line
        return GUEST_PREFIX + unescaped_guest_line(line)


def prefixed_text(text: str) -> str:
    """`text` (carriage returns and terminal escapes already removed) as prefixed lines. The last,
    unfinished line is taken like the others; if it is only a beginning of MARKER it is left as is
    (tandem's marker arriving, not the guest's: a guest line never begins with "|")."""
    lines = text.split("\n")
    last = lines.pop()
    view = PrefixedLines()
    out = [view.line(line) for line in lines]
    if last and not _marker_arriving(last):
        last = view.line(last)
    out.append(last)
    return "\n".join(out)


def _marker_arriving(piece: str) -> bool:
    return len(piece) < len(MARKER) and MARKER.startswith(piece)


def clean_console(raw: bytes) -> str:
    """Serial bytes as prefixed text: terminal escapes (GRUB's menu) and carriage returns removed,
    utf-8 decoded (bad bytes replaced), then prefixed_text()."""
    text = ANSI_ESCAPE.sub(b"", raw).replace(b"\r", b"").decode("utf-8", errors="replace")
    return prefixed_text(text)
