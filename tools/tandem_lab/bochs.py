"""Bochs 2.7 with VT-x (EPT, A/D bits, PML, VPID, unrestricted guest), headless under a
pseudo-terminal, with a bochsrc generated for each run (DESIGN.md, emulator facts)."""

from __future__ import annotations

import os
import re
import shlex
import threading
import time
from pathlib import Path

from tandem_lab.console_relay import ConsoleRelay
from tandem_lab.emulator import EmulatorRun


class Bochs(EmulatorRun):
    """Bochs 2.7 with VT-x. `cpu` is a Bochs CPU model (DESIGN.md lists what each offers).
    interactive=True connects COM1 to a pseudo-terminal (Bochs' `mode=term`) so send() can type
    on tandem's console; its output still goes to serial.log. console_relay=True (implies
    interactive) also serves that console to one TCP client at a time, at `console_url`
    (socket://127.0.0.1:PORT, for tools/tandemctl): console_relay.py.

    The display is Bochs' `term` library, and Debian's Bochs is a debugger build: its term display
    opens a pseudo-terminal of its own and draws the VGA screen there with curses ("Bochs connected
    to screen /dev/pts/N" on its output), for a user to attach to. Nobody attaches in a test, so
    that terminal's buffer (about 20 KB) fills with the idle screen's cursor blinking (hide/show
    sequences, about 47 bytes per second of wall time), and about 7.5 minutes after the start Bochs
    blocks in write() inside a screen update: the CPU, its timers and its NICs stop, the process
    sleeps, nothing is reported (issue 19: a protected pair's primary went silent and the backup
    took over). So every run reads that terminal for as long as Bochs lives, into screen.log
    (_drain_screen)."""

    name = "bochs"
    SEND_PACE = 0.01  # seconds per typed byte: Bochs reads one character per serial poll

    def __init__(self, workdir: Path, iso: Path, cpu: str = "corei7_skylake_x", megs: int = 256,
                 ips: int = 50_000_000, sync: str = "none", nics: list[str] | None = None,
                 hard_timeout: float = 120, extra: list[str] | None = None, interactive: bool = False,
                 prefix: list[str] | None = None, console_relay: bool = False):
        super().__init__(workdir, hard_timeout)
        self.prefix = prefix or []  # e.g. ["ip", "netns", "exec", NAME] for a client network
        self.iso = Path(iso).resolve()
        self.cpu, self.megs, self.ips, self.sync = cpu, megs, ips, sync
        self.nics = nics or []
        self.extra = extra or []
        self.interactive = interactive or console_relay
        self.console_relay = console_relay
        self._relay: ConsoleRelay | None = None
        # send() and the relay's client type into the one console: whole sequences, one at a time.
        self._typing = threading.Lock()
        self._pty_master: int | None = None
        self._pty_name = ""
        self._reader: threading.Thread | None = None
        self.screen_path = self.workdir / "screen.log"
        self._screen: threading.Thread | None = None

    def start(self) -> "EmulatorRun":
        if self.interactive:
            self._open_console()
        if self.screen_path.exists():
            self.screen_path.unlink()
        super().start()
        if self.interactive:
            self._start_console_copy()
        self._screen = threading.Thread(target=self._drain_screen, daemon=True)
        self._screen.start()
        return self

    def _open_console(self) -> None:
        """The pseudo-terminal for COM1, and the relay on it if asked for."""
        master, slave = os.openpty()
        self._pty_master, self._pty_name = master, os.ttyname(slave)
        self._pty_slave = slave  # kept open so the terminal exists until Bochs opens it
        if self.console_relay:
            self._relay = ConsoleRelay(master, pace=self.SEND_PACE, lock=self._typing).start()

    def _start_console_copy(self) -> None:
        self._reader = threading.Thread(target=self._copy_console, daemon=True)
        self._reader.start()

    @property
    def console_url(self) -> str | None:
        """socket://127.0.0.1:PORT of the console relay while it runs (console_relay=True); None otherwise."""
        return self._relay.url if self._relay is not None else None

    SCREEN = re.compile(rb'Bochs connected to screen "(/dev/pts/\d+)"')

    def _screen_name(self) -> str | None:
        """The terminal Bochs draws its screen into, from its output (None once Bochs ended)."""
        output = self.workdir / "emulator-output.log"
        while True:
            try:
                found = self.SCREEN.search(output.read_bytes())
            except FileNotFoundError:
                found = None
            if found:
                return found.group(1).decode()
            if not self.running():
                return None
            time.sleep(0.05)

    def _drain_screen(self) -> None:
        """Reads the terminal Bochs' term display draws into (see the class comment) until Bochs
        closes it; what the screen showed goes to screen.log (curses output)."""
        screen = self._screen_name()
        if screen is None:
            return
        try:
            fd = os.open(screen, os.O_RDONLY | os.O_NOCTTY)
        except OSError as e:
            if self.running():
                with open(self.screen_path, "ab") as log:
                    log.write(f"[tandem_lab: cannot read Bochs' screen {screen}: {e}]\n".encode())
            return
        if not self.running():  # ended meanwhile: the number may be another terminal's by now
            os.close(fd)
            return
        try:
            with open(self.screen_path, "ab", buffering=0) as log:
                while True:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        return  # EIO: Bochs closed its end
                    if not data:
                        return
                    log.write(data)
        finally:
            os.close(fd)

    def _copy_console(self) -> None:
        with open(self.serial_path, "ab", buffering=0) as log:
            while self._pty_master is not None:
                try:
                    data = os.read(self._pty_master, 4096)
                except OSError:
                    return
                if not data:
                    return
                log.write(data)
                relay = self._relay
                if relay is not None:
                    relay.forward(data)

    def send(self, text: str) -> None:
        if self._pty_master is None:
            return super().send(text)
        with self._typing:
            for ch in text.encode():
                os.write(self._pty_master, bytes([ch]))
                time.sleep(self.SEND_PACE)

    def stop(self) -> None:
        super().stop()
        if self._relay is not None:  # before the terminal closes: its client types into it
            relay, self._relay = self._relay, None
            relay.stop()
        if self._pty_master is not None:
            master, self._pty_master = self._pty_master, None
            os.close(master)
            os.close(self._pty_slave)

    def bochsrc(self) -> str:
        # Bochs does not expand ${VAR} in its configuration: every path is written out here.
        lines = [
            f"megs: {self.megs}",
            "romimage: file=/usr/share/bochs/BIOS-bochs-latest",
            "vgaromimage: file=/usr/share/vgabios/vgabios.bin",
            "display_library: term",
            f"cpu: model={self.cpu}, count=1, ips={self.ips}, reset_on_triple_fault=0",
            f"clock: sync={self.sync}, time0=946681200",
            "pci: enabled=1, chipset=i440fx",
            "ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14",
            f"ata0-master: type=cdrom, path={self.iso}, status=inserted",
            "boot: cdrom",
            (f"com1: enabled=1, mode=term, dev={self._pty_name}" if self.interactive
             else f"com1: enabled=1, mode=file, dev={self.serial_path}"),
            "port_e9_hack: enabled=1",
            f"log: {self.workdir / 'bochs.log'}",
            "panic: action=fatal",
            "error: action=report",
            "info: action=report",
            "debug: action=ignore",
        ]
        lines += self.nics + self.extra
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        rc = self.workdir / "bochsrc"
        rc.write_text(self.bochsrc())
        cmds = self.workdir / "bochs-commands"
        cmds.write_text("c\nquit\n")
        # Debian's Bochs is a debugger build with no 'nogui': run the term display under a
        # pseudo-terminal that `script` provides, with stdin closed.
        inner = f"bochs -q -f {shlex.quote(str(rc))} -rc {shlex.quote(str(cmds))}"
        return self.prefix + ["script", "-qfec", inner, "/dev/null"]
