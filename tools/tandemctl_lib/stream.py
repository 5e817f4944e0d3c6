"""tandem's console output as rows, the way a terminal shows them, tandem's marker taken off.

The console mixes the shell's echo and answers with tandem's own log lines and the guest's
output, in the order written; tandem's lines end "\\r\\n" through its UART driver. In the guest's
console (the default view) the guest's bytes pass through raw (a guest line that begins with "|"
with one space before it) and every line tandem writes begins with MARKER and a space ("|tandem| "),
or is MARKER alone when empty; the switch to tandem's shell is such a line. In the shell tandem's
lines are not marked (the prompt, the echo, answers, log lines, "guest (hypercall): ..." lines)
and the guest's output is held back until the switch back, itself a marked line. Each row here
has the marker taken off its start, so that the rest of tandemctl reads tandem's lines the same
in both views; a guest row keeps its escaping space (it begins " |", never with the marker).

The line editor redraws with backspaces and spaces only (Ctrl-U over text left on the line is
"\\b\\b\\b   \\b\\b\\b"), so rendering a row with backspaces moving the cursor left gives what the
person at a terminal would read. Rows are numbered, so a caller can tell the row that was being
received when it typed a command from the rows after it.
"""

from __future__ import annotations

import collections
import time

from tandemctl_lib.errors import ConnectionLost, PortBusy
from tandemctl_lib.port import import_serial, write_paced

# What tandem_lab's console relay says, and then hangs up, to a second client.
BUSY_LINE = "tandem_lab: console busy: another client is connected"

# What begins each line tandem writes in the guest's view (tandem_lab/console_view.py has the same;
# tandemctl stands alone, without tandem_lab).
MARKER = "|tandem|"

# At most this much is taken from the port per read (the rest waits for the next).
MAX_READ = 65536


def render(raw: bytes) -> str:
    """A row as a terminal shows it: backspaces move left, text overwrites, carriage returns go."""
    cells: list[str] = []
    cursor = 0
    for ch in raw.decode("utf-8", errors="replace"):
        if ch == "\b":
            cursor = max(0, cursor - 1)
        elif ch == "\r":
            continue
        elif cursor < len(cells):
            cells[cursor] = ch
            cursor += 1
        else:
            cells.append(ch)
            cursor += 1
    return "".join(cells)


def is_marked(row: str) -> bool:
    """Whether a rendered row is one of tandem's lines written in the guest's view."""
    return row == MARKER or row.startswith(MARKER + " ")


def unmarked(row: str) -> str:
    """A rendered row without tandem's marker and the one space after it (MARKER alone: an empty
    line); any other row as it is."""
    return row[len(MARKER) + 1:] if is_marked(row) else row


class ConsoleStream:
    """One open console: typing on it, and its output as numbered rows."""

    def __init__(self, handle, port: str):
        self._handle = handle
        self.port = port
        self._partial = bytearray()  # the row being received
        self._rows: collections.deque[tuple[int, str]] = collections.deque()
        self._row_number = 0  # the number of the row being received
        # The numbers of the recent rows that carried tandem's marker: in the guest's view only
        # those are tandem's (the guest's rows never start with it).
        self._marked: collections.deque[int] = collections.deque(maxlen=1024)

    @property
    def row_number(self) -> int:
        """The number of the row being received now (not yet ended by "\\n")."""
        return self._row_number

    def partial(self) -> str:
        """The row being received, rendered, its marker taken off."""
        return unmarked(render(bytes(self._partial)))

    def send(self, data: bytes) -> None:
        """Types `data` on the console (paced: port.WRITE_CHUNK)."""
        write_paced(self._handle, self.port, data)

    def next_row(self, deadline: float) -> tuple[int, str] | None:
        """The next whole row and its number; None once `deadline` (time.monotonic()) passes."""
        while not self._rows:
            if time.monotonic() >= deadline:
                return None
            self.receive()
        return self._rows.popleft()

    def pending_row(self) -> tuple[int, str] | None:
        """A whole row already received, without waiting; None if there is none."""
        return self._rows.popleft() if self._rows else None

    def drop_rows(self) -> None:
        """Forgets the whole rows received so far (output nobody asked for)."""
        self._rows.clear()

    def discard_waiting(self) -> None:
        """Forgets the output that waits already (from before tandemctl came: not an answer), but
        not a busy console's refusal. Not reset_input_buffer(): for socket:// it would swallow
        that line unseen."""
        serial = import_serial()
        try:
            while self._handle.in_waiting:
                self.receive()
        except (serial.SerialException, OSError) as e:
            self._lost(e)
        self._rows.clear()
        self._partial = bytearray()

    def receive(self) -> None:
        """Whatever the port has, waiting a moment (port.READ_POLL) for the first byte."""
        serial = import_serial()
        data = b""
        try:
            data = self._handle.read(1)
            while data and len(data) < MAX_READ:
                waiting = self._handle.in_waiting  # a socket:// port only says 0 or 1
                if not waiting:
                    break
                data += self._handle.read(min(waiting, MAX_READ - len(data)))
        except (serial.SerialException, OSError) as e:
            self._take(data)  # the last words before the end may say why (the relay's busy line)
            self._lost(e)
        self._take(data)

    def _take(self, data: bytes) -> None:
        parts = data.split(b"\n")
        self._partial += parts[0]
        for part in parts[1:]:
            self._end_row()
            self._partial += part

    def was_marked(self, number: int) -> bool:
        """Whether row `number` (a recent one) carried tandem's marker."""
        return number in self._marked

    def _end_row(self) -> None:
        rendered = render(bytes(self._partial))
        text = unmarked(rendered)
        if is_marked(rendered):
            self._marked.append(self._row_number)
        if BUSY_LINE in text:
            raise PortBusy(f"{self.port} is busy: another client is connected to the console")
        self._rows.append((self._row_number, text))
        self._row_number += 1
        self._partial = bytearray()

    def _lost(self, e: Exception) -> None:
        if BUSY_LINE in self.partial():
            raise PortBusy(f"{self.port} is busy: another client is connected to the console")
        raise ConnectionLost(f"{self.port} went away ({e})")
