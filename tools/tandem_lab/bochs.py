"""Bochs 2.7 with VT-x (EPT, A/D bits, PML, VPID, unrestricted guest), headless under a
pseudo-terminal, with a bochsrc generated for each run (DESIGN.md, emulator facts)."""

from __future__ import annotations

import os
import shlex
import threading
import time
from pathlib import Path

from tandem_lab.emulator import EmulatorRun


class Bochs(EmulatorRun):
    """Bochs 2.7 with VT-x. `cpu` is a Bochs CPU model (DESIGN.md lists what each offers).
    interactive=True connects COM1 to a pseudo-terminal (Bochs' `mode=term`) so send() can type
    on tandem's console; its output still goes to serial.log."""

    name = "bochs"

    def __init__(self, workdir: Path, iso: Path, cpu: str = "corei7_skylake_x", megs: int = 256,
                 ips: int = 50_000_000, sync: str = "none", nics: list[str] | None = None,
                 hard_timeout: float = 120, extra: list[str] | None = None, interactive: bool = False,
                 prefix: list[str] | None = None):
        super().__init__(workdir, hard_timeout)
        self.prefix = prefix or []  # e.g. ["ip", "netns", "exec", NAME] for a client network
        self.iso = Path(iso).resolve()
        self.cpu, self.megs, self.ips, self.sync = cpu, megs, ips, sync
        self.nics = nics or []
        self.extra = extra or []
        self.interactive = interactive
        self._pty_master: int | None = None
        self._pty_name = ""
        self._reader: threading.Thread | None = None

    def start(self) -> "EmulatorRun":
        if self.interactive:
            master, slave = os.openpty()
            self._pty_master, self._pty_name = master, os.ttyname(slave)
            self._pty_slave = slave  # kept open so the terminal exists until Bochs opens it
        super().start()
        if self.interactive:
            self._reader = threading.Thread(target=self._copy_console, daemon=True)
            self._reader.start()
        return self

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

    def send(self, text: str) -> None:
        if self._pty_master is None:
            return super().send(text)
        for ch in text.encode():
            os.write(self._pty_master, bytes([ch]))
            time.sleep(0.01)  # Bochs reads one character per serial poll

    def stop(self) -> None:
        super().stop()
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
