"""Boot tandem from an ISO in an emulator and show its console (what ./run-qemu.sh --single runs):

    PYTHONPATH=tools python3 -m tandem_lab.cli.emulator bochs|qemu-kvm|qemu-tcg --iso ISO [--cpu MODEL]
        [--megs N] [--workdir DIR] [--until REGEX] [--timeout S]
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from pathlib import Path

from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import HALTED
from tandem_lab.emulator import EmulatorRun
from tandem_lab.paths import build_dir
from tandem_lab.qemu import Qemu


def _follow(run: EmulatorRun, until: str | None, timeout: float) -> int:
    """Streams tandem's console to stdout until `until` matches, the run ends or time is up."""
    shown = 0
    regex = re.compile(until, re.MULTILINE) if until else None
    deadline = time.monotonic() + timeout
    while True:
        visible = run.tandem_console()  # empty until tandem's banner
        if visible:
            if len(visible) > shown:
                sys.stdout.write(visible[shown:])
                sys.stdout.flush()
                shown = len(visible)
            if regex and regex.search(visible):
                return 0
        if not run.running():
            return 0 if visible else 1
        if time.monotonic() > deadline:
            print(f"\n[{run.name}: stopped after {timeout:.0f} s]")
            return 0 if visible else 1
        time.sleep(0.1)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tandem_lab.cli.emulator",
                                description="Boot tandem in an emulator and show its console.")
    p.add_argument("engine", choices=["bochs", "qemu-kvm", "qemu-tcg"])
    p.add_argument("--iso", required=True)
    p.add_argument("--cpu", default="corei7_skylake_x", help="Bochs CPU model")
    p.add_argument("--megs", type=int, default=256)
    p.add_argument("--workdir", default=None)
    p.add_argument("--until", default=HALTED, help="stop when this regex matches (default: tandem halted)")
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
