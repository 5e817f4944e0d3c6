#!/usr/bin/env python3
"""Live-migration benchmark (issue 15): figures, not pass/fail.

For Debian's stock kernel with the test initramfs (128 MiB of guest memory), idle and busy
(`tandem.stress=1`: 4 MiB of /dev/urandom written into tmpfs and hashed, in a loop), it prints:
  * tandem: a source (mode=checkpoint role=primary, no backup) and a target booted mode=migrate,
    two Bochs machines on the test hub's emulated link; `migrate` is asked on the source's
    console before the target boots. Figures from tandem's `migrate: done` line (the guest's
    stop, bytes sent against guest memory, pre-copy rounds, throttle), and the total from the
    target's first joined line to `migrate: done` on the host clock (Bochs runs with
    `clock: sync=slowdown`: emulated time follows the host's);
  * QEMU's own migration of the same kernel, initramfs and command line, where it can run here:
    two qemu-system-x86_64 (TCG: this machine has no VT-x) on this host, over TCP on the loopback,
    with QEMU's auto-converge on and its downtime limit set to tandem's default (50 ms; QEMU's
    default is 300 ms), everything else at QEMU's defaults (its bandwidth cap included, printed).
    Figures from QMP's query-migrate: total time, downtime, bytes transferred against RAM.

The two are not the same machine: tandem's link is Bochs' emulated NIC (about a frame per ms),
QEMU's a loopback TCP socket; and a busy guest under TCG dirties memory at TCG's pace. The
figures say what each system does with its own path, side by side.

Reproduce:
  cmake --build build && sudo env PYTHONPATH=tools:tests/e2e TANDEM_BUILD=build \\
      python3 tests/bench/migrate_bench.py [--only tandem|qemu] [--load idle|busy]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from tandem_lab.console_patterns import CONSOLE_READY
from tandem_lab.pair_lab import PairLab
from tandem_lab.paths import build_dir, require_built, workdir
from test_pair_bochs import STEP

SOURCE = Path(__file__).resolve().parents[2]
TANDEMCTL = SOURCE / "tools" / "tandemctl"
DONE = re.compile(r"^migrate: done: [^;]*; (\d+) ms in all, the guest stopped here (\d+) ms before the notice was "
                  r"acknowledged, ([\d.]+ \w+) sent for ([\d.]+ \w+) of guest memory .*?, (\d+) pre-copy rounds, (.*)$",
                  re.M)
READY = r"^guest: tandem-guest: (userspace ready|userspace up)"
STRESS = r"^guest: tandem-guest: stress round 2 "
LOADS = {"idle": "", "busy": "tandem.stress=1"}


def tandem_migration(load: str) -> str:
    lab = PairLab(f"bench-migrate-{load}", seed=1, guest="linux", guest_args=LOADS[load], console_relay=True)
    try:
        a = lab.boot(0, "primary")
        a.wait_for(CONSOLE_READY, STEP)
        a.wait_for(READY, 2 * STEP)
        if load == "busy":
            a.wait_for(STRESS, 2 * STEP)
        asked = subprocess.run([sys.executable, str(TANDEMCTL), "--port", a.console_url, "--timeout", "30", "run",
                                "migrate"], capture_output=True, text=True, timeout=120)
        if asked.returncode != 0:
            raise SystemExit(f"tandemctl migrate: {asked.stderr}{asked.stdout}")
        b = lab.boot(1, "target")
        b.wait_for(r"^pair: full copy from the primary", 2 * STEP)
        joined = time.monotonic()
        a.wait_for(r"^migrate: done: .*\n", 6 * STEP)
        total = time.monotonic() - joined
        b.wait_for(r"^migrate: the guest runs here now", STEP)
        m = DONE.search(a.tandem_console())
        if m is None:
            raise SystemExit("no 'migrate: done' line with figures: " + a.tandem_console()[-2000:])
        return (f"tandem {load:4}: total {total:6.1f} s from the target's join (tandem: {int(m.group(1)) / 1000:.1f} s "
                f"since 'migrate', the target's boot included), guest stopped {m.group(2)} ms, sent {m.group(3)} for "
                f"{m.group(4)}, {m.group(5)} pre-copy rounds, {m.group(6)}")
    finally:
        lab.close()


class Qmp:
    def __init__(self, path: Path, deadline: float):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(str(path))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.file = self.sock.makefile("rw")
        json.loads(self.file.readline())  # the greeting
        self.call("qmp_capabilities")

    def call(self, command: str, **arguments) -> dict:
        self.file.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise SystemExit(f"QMP {command}: {reply['error']}")


def wait_console(log: Path, pattern: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, log.read_text(errors="replace") if log.exists() else "", re.M):
        if time.monotonic() > deadline:
            raise SystemExit(f"QEMU's guest did not print {pattern!r}: {log.read_text(errors='replace')[-1500:]}")
        time.sleep(0.5)


def qemu_migration(load: str) -> str:
    if shutil.which("qemu-system-x86_64") is None:
        return f"qemu   {load:4}: qemu-system-x86_64 is not installed (Debian: qemu-system-x86)"
    assets = build_dir() / "guest-assets"
    wd = workdir(f"bench-migrate-qemu-{load}")
    port = 47000 + (1 if load == "busy" else 0)
    common = ["qemu-system-x86_64", "-accel", "tcg", "-m", "128M", "-smp", "1", "-display", "none", "-monitor", "none",
              "-nodefaults", "-kernel", str(assets / "bzImage"), "-initrd", str(assets / "initramfs.cpio.gz"),
              "-append", f"console=ttyS0 nokaslr {LOADS[load]}"]
    procs = []
    try:
        for name, extra in (("source", []), ("target", ["-incoming", f"tcp:127.0.0.1:{port}"])):
            procs.append(subprocess.Popen(common + ["-serial", f"file:{wd / (name + '.log')}",
                                                    "-qmp", f"unix:{wd / (name + '.qmp')},server=on,wait=off"] + extra,
                                          stdout=subprocess.DEVNULL, stderr=open(wd / f"{name}.err", "w")))
        deadline = time.monotonic() + 60
        source = Qmp(wd / "source.qmp", deadline)
        wait_console(wd / "source.log", r"tandem-guest: userspace (ready|up)", 600)
        if load == "busy":
            wait_console(wd / "source.log", r"tandem-guest: stress round 2 ", 600)
        source.call("migrate-set-capabilities", capabilities=[{"capability": "auto-converge", "state": True}])
        source.call("migrate-set-parameters", **{"downtime-limit": 50})
        bandwidth = source.call("query-migrate-parameters").get("max-bandwidth", 0)
        source.call("migrate", uri=f"tcp:127.0.0.1:{port}")
        deadline = time.monotonic() + 900
        while True:
            info = source.call("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                source.call("migrate_cancel")
                return f"qemu   {load:4}: not finished in 900 s ({info.get('ram', {})})"
            time.sleep(0.5)
        if info["status"] != "completed":
            return f"qemu   {load:4}: migration {info['status']}: {info.get('error-desc', '')}"
        ram = info["ram"]
        return (f"qemu   {load:4}: total {info['total-time'] / 1000:6.1f} s, guest stopped {info['downtime']} ms, "
                f"sent {ram['transferred'] / 2**20:.1f} MiB for {ram['total'] / 2**20:.1f} MiB, "
                f"{ram.get('dirty-sync-count', '?')} dirty-log syncs, throttle {info.get('cpu-throttle-percentage', 0)} % "
                f"at the end (bandwidth cap {bandwidth / 2**20:.0f} MiB/s, TCG)")
    finally:
        for p in procs:
            p.kill()
            p.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("tandem", "qemu"))
    parser.add_argument("--load", choices=tuple(LOADS))
    args = parser.parse_args()
    require_built()
    lines = []
    for load in ([args.load] if args.load else list(LOADS)):
        if args.only != "qemu":
            lines.append(tandem_migration(load))
            print(lines[-1], flush=True)
        if args.only != "tandem":
            lines.append(qemu_migration(load))
            print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
