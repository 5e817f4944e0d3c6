"""Run tandem in an emulator and watch its serial console.

One module for the end-to-end tests (tests/e2e) and for run-qemu.sh:
  * Bochs: the machine with VT-x (EPT, A/D bits, PML, VPID, unrestricted guest), headless under a
    pseudo-terminal, with a generated bochsrc per run (DESIGN.md, emulator facts).
  * QEMU: boot paths (ISO as CD, ISO as raw disk, PXE, -kernel, UEFI) under TCG, or KVM on an
    Intel host with nested VT-x.

Every run has a hard deadline (the emulator runs under `timeout -s KILL`, and stop() kills the
process group the run started, by its PID) and its own work directory, so runs can go in parallel
and a failing test leaves the serial log and the emulator's log behind for inspection.
"""

from __future__ import annotations

import atexit
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ANSI_ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")
REPO = Path(__file__).resolve().parents[2]

_live_runs: list["EmulatorRun"] = []


def _stop_all_at_exit() -> None:
    for run in list(_live_runs):
        run.stop()


atexit.register(_stop_all_at_exit)


def _exit_on_sigterm(signum, frame):  # noqa: ARG001
    # A terminated test (CTest timeout, Ctrl-C upstream) still ends its emulators: exiting runs
    # the atexit hook above. Emulators also die by their own hard deadline (`timeout -s KILL`).
    raise SystemExit(128 + signum)


if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _descendants(pid: int) -> list[int]:
    """Every process below pid (from /proc), children first found first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_and_wait(pids: list[int], timeout: float = 10.0) -> None:
    """SIGKILL to each pid still alive, then wait (bounded) until none is left but zombies."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                break  # gone
            if state == "Z":
                break  # dead; its sockets are closed
            time.sleep(0.05)


class EmulatorTimeout(AssertionError):
    """The expected console output did not appear before the deadline."""


def clean_console(raw: bytes) -> str:
    """Serial bytes as text: terminal escapes (GRUB's menu) and carriage returns removed."""
    return ANSI_ESCAPE.sub(b"", raw).replace(b"\r", b"").decode("utf-8", errors="replace")


class EmulatorRun:
    """A started emulator whose COM1 goes to `serial_path`."""

    name = "emulator"

    def __init__(self, workdir: Path, hard_timeout: float):
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.serial_path = self.workdir / "serial.log"
        self.hard_timeout = hard_timeout
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    # Subclasses provide the command line.
    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> "EmulatorRun":
        if self.serial_path.exists():
            self.serial_path.unlink()
        self.serial_path.touch()
        cmd = ["timeout", "-s", "KILL", str(int(self.hard_timeout))] + self.command()
        (self.workdir / "command.txt").write_text(shlex.join(cmd) + "\n")
        out = open(self.workdir / "emulator-output.log", "wb")
        env = dict(os.environ, TERM="xterm")
        # A new session: the run's processes form one group we can end by the leader's PID.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     cwd=self.workdir, env=env, start_new_session=True)
        out.close()
        self.started_at = time.monotonic()
        _live_runs.append(self)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        descendants = _descendants(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=3)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        _kill_and_wait(descendants)
        if self in _live_runs:
            _live_runs.remove(self)

    def kill(self) -> None:
        """Pulls the plug: SIGKILL to the emulator's whole process group at once (no shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            descendants = _descendants(self.proc.pid)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            # `script` runs Bochs in a session of its own, outside the process group: end it too
            # and wait until it is gone, or a machine booted next in its place may find the old
            # one still holding its NIC's socket ("could not bind ... Address already in use").
            _kill_and_wait(descendants)

    def send(self, text: str) -> None:
        """Types text on the machine's console (only for runs with an interactive console)."""
        raise NotImplementedError(f"{self.name} has no interactive console in this configuration")

    def raw_serial(self) -> bytes:
        try:
            return self.serial_path.read_bytes()
        except FileNotFoundError:
            return b""

    def console(self) -> str:
        return clean_console(self.raw_serial())

    def tandem_console(self) -> str:
        """The console from tandem's banner on (the boot loader's screen cut off)."""
        text = self.console()
        at = text.find("\ntandem ")
        return text[at + 1:] if at >= 0 else ""

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        """Waits until `pattern` (a regex, multiline) matches the console; returns the match."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.console())
            if match:
                return match
            if not self.running():
                time.sleep(0.2)  # let the last bytes reach the file
                match = regex.search(self.console())
                if match:
                    return match
                raise EmulatorTimeout(f"{self.name} ended before /{pattern}/ appeared; console tail:\n"
                                      + self.console()[-3000:])
            if time.monotonic() > deadline:
                raise EmulatorTimeout(f"/{pattern}/ did not appear within {timeout:.0f} s on {self.name}; "
                                      f"console tail:\n" + self.console()[-3000:])
            time.sleep(0.1)

    def run_until(self, pattern: str, timeout: float) -> str:
        """start(), wait for pattern, stop(); returns tandem's console."""
        self.start()
        try:
            self.wait_for(pattern, timeout)
        finally:
            self.stop()
        return self.tandem_console()

    def __enter__(self) -> "EmulatorRun":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


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


class Qemu(EmulatorRun):
    """QEMU (x86_64). boot: 'cdrom' | 'disk' (ISO attached as a raw hard disk: the USB-stick case)
    | 'pxe' (GRUB over TFTP from `tftp_dir`) | 'kernel' (multiboot 1 -kernel) | 'uefi' (OVMF).
    machine: 'pc' (i440fx, no ACPI MCFG table) or 'q35' (PCI Express, ECAM described by an MCFG)."""

    name = "qemu"

    def __init__(self, workdir: Path, boot: str = "cdrom", iso: Path | None = None,
                 tftp_dir: Path | None = None, kernel: Path | None = None, append: str = "",
                 memory_mib: int = 256, kvm: bool = False, hard_timeout: float = 120,
                 extra: list[str] | None = None, machine: str = "pc"):
        super().__init__(workdir, hard_timeout)
        self.machine = machine
        self.boot, self.iso, self.tftp_dir, self.kernel, self.append = boot, iso, tftp_dir, kernel, append
        self.memory_mib, self.kvm = memory_mib, kvm
        self.extra = extra or []
        self.name = f"qemu ({boot}{', kvm' if kvm else ', tcg'})"

    def command(self) -> list[str]:
        cmd = ["qemu-system-x86_64", "-machine", self.machine, "-m", str(self.memory_mib), "-display", "none",
               "-no-reboot", "-monitor", "none", "-serial", f"file:{self.serial_path}"]
        cmd += ["-accel", "kvm", "-cpu", "host"] if self.kvm else ["-accel", "tcg"]
        if self.boot == "cdrom":
            cmd += ["-cdrom", str(self.iso), "-boot", "d"]
        elif self.boot == "disk":
            # snapshot=on: the run never writes to the image.
            cmd += ["-drive", f"file={self.iso},format=raw,if=ide,snapshot=on", "-boot", "c"]
        elif self.boot == "pxe":
            cmd += ["-netdev", f"user,id=n0,tftp={self.tftp_dir},bootfile=boot/grub/i386-pc/core.0",
                    "-device", "e1000,netdev=n0", "-boot", "n"]
        elif self.boot == "kernel":
            cmd += ["-kernel", str(self.kernel), "-append", self.append]
        elif self.boot == "uefi":
            cmd += ["-bios", ovmf_firmware(), "-cdrom", str(self.iso)]
        else:
            raise ValueError(f"unknown boot method {self.boot}")
        return cmd + self.extra


def ovmf_firmware() -> str:
    for candidate in ("/usr/share/ovmf/OVMF.fd", "/usr/share/qemu/OVMF.fd"):
        if Path(candidate).exists():
            return candidate
    raise FileNotFoundError("OVMF firmware not found (Debian package ovmf)")


def build_dir() -> Path:
    return Path(os.environ.get("TANDEM_BUILD", REPO / "build")).resolve()


def make_iso(out: Path, cmdline: str = "", modules: list[tuple[Path, str]] | None = None,
             image: Path | None = None, timeout: int = 0) -> Path:
    """A tandem ISO with this command line and modules (tools/mkiso.sh)."""
    image = image or build_dir() / "tandem.elf"
    cmd = [str(REPO / "tools/mkiso.sh"), "--image", str(image), "--out", str(out), f"--cmdline={cmdline}",
           "--timeout", str(timeout)]
    for path, name in modules or []:
        cmd += ["--module", str(path), name]
    subprocess.run(cmd, check=True)
    return out


def make_pxe_tree(out: Path, cmdline: str = "", image: Path | None = None, timeout: int = 0) -> Path:
    image = image or build_dir() / "tandem.elf"
    subprocess.run([str(REPO / "tools/mkpxe.sh"), "--image", str(image), "--out", str(out),
                    f"--cmdline={cmdline}", "--timeout", str(timeout)], check=True)
    return out


def multiboot2_dump(console: str) -> bytes:
    """The raw information block tandem printed with dump_boot_info=1."""
    lines = console.splitlines()
    try:
        begin = next(i for i, l in enumerate(lines) if l.startswith("mbi-dump: begin "))
        end = next(i for i, l in enumerate(lines) if l == "mbi-dump: end")
    except StopIteration:
        raise AssertionError("no complete 'mbi-dump' block on the console") from None
    size = int(lines[begin].split()[2])
    data = bytes.fromhex("".join(l[len("mbi-dump: "):] for l in lines[begin + 1:end]))
    if len(data) != size:
        raise AssertionError(f"mbi-dump announced {size} bytes, printed {len(data)}")
    return data


# --- command line: used by run-qemu.sh ---------------------------------------------------------

def _follow(run: EmulatorRun, until: str | None, timeout: float) -> int:
    """Streams tandem's console to stdout until `until` matches, the run ends or time is up."""
    shown = 0
    regex = re.compile(until, re.MULTILINE) if until else None
    deadline = time.monotonic() + timeout
    while True:
        text = run.console()
        at = text.find("\ntandem ")
        if at >= 0:
            visible = text[at + 1:]
            if len(visible) > shown:
                sys.stdout.write(visible[shown:])
                sys.stdout.flush()
                shown = len(visible)
            if regex and regex.search(visible):
                return 0
        if not run.running():
            return 0 if at >= 0 else 1
        if time.monotonic() > deadline:
            print(f"\n[{run.name}: stopped after {timeout:.0f} s]")
            return 0 if at >= 0 else 1
        time.sleep(0.1)


def main(argv: list[str]) -> int:
    import argparse
    p = argparse.ArgumentParser(description="Boot tandem in an emulator and show its console.")
    p.add_argument("engine", choices=["bochs", "qemu-kvm", "qemu-tcg"])
    p.add_argument("--iso", required=True)
    p.add_argument("--cpu", default="corei7_skylake_x", help="Bochs CPU model")
    p.add_argument("--megs", type=int, default=256)
    p.add_argument("--workdir", default=None)
    p.add_argument("--until", default=r"^tandem: halted", help="stop when this regex matches")
    p.add_argument("--timeout", type=float, default=120)
    a = p.parse_args(argv)
    workdir = Path(a.workdir or (build_dir() / "run" / a.engine))
    if a.engine == "bochs":
        run: EmulatorRun = Bochs(workdir, Path(a.iso), cpu=a.cpu, megs=a.megs, hard_timeout=a.timeout + 10)
    else:
        run = Qemu(workdir, boot="cdrom", iso=Path(a.iso), memory_mib=a.megs, kvm=a.engine == "qemu-kvm",
                   hard_timeout=a.timeout + 10)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    run.start()
    try:
        code = _follow(run, a.until, a.timeout)
    except KeyboardInterrupt:
        code = 130
    finally:
        run.stop()
    print(f"[{run.name}: console log in {run.serial_path}]")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
