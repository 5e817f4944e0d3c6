"""`tandemctl watch`: both machines of a pair side by side, a row each per round, from their
`status --json` and `stats --json`. A machine that stops answering (killed, in a failover test)
gets a row saying so and is asked again next round; a connection that went away is not."""

from __future__ import annotations

import sys
import time

from tandemctl_lib.errors import BadAnswer, ConnectionLost, NoAnswer
from tandemctl_lib.session import ShellSession

# (header, width, how the value is found in (status, stats))
COLUMNS = [
    ("role", 7, lambda st, sx: text(dig(st, "role"))),
    ("protection", 11, lambda st, sx: text(dig(st, "protection"))),
    ("phase", 11, lambda st, sx: text(dig(st, "phase"))),
    ("epoch cur/ack/com", 20, lambda st, sx: "/".join(text(dig(st, "epoch", k))
                                                      for k in ("current", "acknowledged", "committed"))),
    ("len", 6, lambda st, sx: milliseconds(dig(st, "epoch", "length_ms"))),
    ("dirty", 6, lambda st, sx: text(dig(sx, "epochs", "last", "dirty_pages"))),
    ("pause_us", 8, lambda st, sx: text(dig(sx, "epochs", "last", "pause_us"))),
    ("stream", 11, lambda st, sx: rate(dig(sx, "link", "throughput_bytes_per_s"))),
    ("retx", 5, lambda st, sx: text(dig(sx, "link", "retransmissions"))),
    ("rtt_us", 7, lambda st, sx: text(dig(sx, "link", "rtt_us"))),
    ("held", 5, lambda st, sx: text(dig(st, "output_held_frames"))),
    ("uptime", 9, lambda st, sx: uptime(dig(st, "uptime_ms"))),
]


def dig(value, *keys):
    """value[k1][k2]...; None where a level is missing or null (a field a firmware lacks is "-")."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def milliseconds(value) -> str:
    return "-" if value is None else f"{value}ms"


def text(value) -> str:
    return "-" if value is None else str(value)


def rate(per_second) -> str:
    if per_second is None:
        return "-"
    for unit, size in (("MiB/s", 1 << 20), ("KiB/s", 1 << 10)):
        if per_second >= size:
            return f"{per_second / size:.1f} {unit}"
    return f"{per_second} B/s"


def uptime(ms) -> str:
    if ms is None:
        return "-"
    total = ms // 1000
    hours, minutes, secs = total // 3600, total // 60 % 60, total % 60
    if hours:
        return f"{hours}h{minutes:02}m{secs:02}s"
    return f"{minutes}m{secs:02}s" if minutes else f"{ms / 1000:.1f}s"


def label(port: str) -> str:
    """A port as the table names it: the path, or host:port of a URL."""
    return port.split("://", 1)[-1]


class Watch:
    """The table: a header once, then a row per machine per round."""

    def __init__(self, sessions: list[ShellSession], out=print):
        self.sessions = sessions
        self.out = out
        self.width = max([7] + [len(label(s.port)) for s in sessions])
        self.lost: set[str] = set()

    def header(self) -> str:
        cells = ["time".ljust(8), "machine".ljust(self.width)] + [name.ljust(width) for name, width, _ in COLUMNS]
        return "  ".join(cells).rstrip()

    def row(self, stamp: str, session: ShellSession) -> str:
        start = f"{stamp:<8}  {label(session.port):<{self.width}}  "
        answer = self.ask(session)
        if isinstance(answer, str):
            return start + answer
        status, stats = answer
        return (start + "  ".join(get(status, stats).ljust(width) for _, width, get in COLUMNS)).rstrip()

    def ask(self, session: ShellSession):
        """(status, stats), or what went wrong, in parentheses."""
        if session.port in self.lost:
            return "(connection lost)"
        try:
            return session.json("status")[1], session.json("stats")[1]
        except ConnectionLost as e:
            self.lost.add(session.port)
            return f"({e.message})"
        except (NoAnswer, BadAnswer) as e:
            return f"({e.message})"

    def run(self, interval: float, count: int) -> int:
        """Rounds every `interval` seconds, `count` of them (0: until Ctrl-C, which ends it cleanly)."""
        self.out(self.header())
        done = 0
        try:
            while count == 0 or done < count:
                started = time.monotonic()
                stamp = time.strftime("%H:%M:%S")
                for session in self.sessions:
                    self.out(self.row(stamp, session))
                sys.stdout.flush()
                done += 1
                if count == 0 or done < count:
                    time.sleep(max(0.0, interval - (time.monotonic() - started)))
        except KeyboardInterrupt:
            pass
        return 0
