"""The protected-pair demo that ./run-qemu.sh runs: two Bochs machines (VT-x emulated), the
replication link through the test hub, a client network in a namespace, and the guest: Debian's
stock Linux kernel serving the counter service when its assets are built (the tests build them,
or tests/guests/linux/fetch_assets.sh), else tandem's counter-service test guest. A client counts;
machine A (the primary) is killed with SIGKILL; machine B takes over and the client's count goes
on without a gap or a repeat. Shows the pair's own console lines (prefixed A| and B|) and the
client's view. Root only (network namespaces).

    PYTHONPATH=tools python3 -m tandem_lab.cli.pair_demo [--guest auto|linux|counter] [--protected-requests N]
        [--epoch-ms MS] [--failover-ms MS] [--mode checkpoint|lockstep]

--mode lockstep: both guests run, the primary forwards each request to the backup's guest and a
reply leaves once both guests produced it (issue 13); the demo also prints the client's latency
while protected.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time

from tandem_lab.console_patterns import CONSOLE_READY, LOCKSTEP_RUNNING, PROTECTED_BACKUP, PROTECTED_PRIMARY, TOOK_OVER
from tandem_lab.pair_lab import PairLab
from tandem_lab.paths import build_dir

SHOWN = re.compile(r"^(pair: (?!full copy (to the backup: page|from the primary: \d))|lockstep: |guest: counter|"
                   r"guest: tandem-guest: userspace|tandem: console ready)")  # progress lines: too many
LINUX_ASSETS = ("vmlinux", "initramfs.cpio.gz")


class ConsoleEcho:
    """Prints a machine's interesting console lines as they appear, prefixed with its name."""

    def __init__(self, label: str, machine):
        self.label, self.machine, self.seen, self.stop = label, machine, 0, False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            text = self.machine.tandem_console()
            complete = text[:text.rfind("\n") + 1].splitlines()  # the last line may be half written
            for line in complete[self.seen:]:
                if SHOWN.match(line):
                    print(f"{self.label}| {line}", flush=True)
            self.seen = max(self.seen, len(complete))
            time.sleep(0.1)


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(prog="python3 -m tandem_lab.cli.pair_demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--protected-requests", type=int, default=40,
                   help="replies from the protected pair before the kill, and from the new primary after it")
    p.add_argument("--epoch-ms", type=int, default=20)
    p.add_argument("--failover-ms", type=int, default=300)
    p.add_argument("--mode", choices=("checkpoint", "lockstep"), default="checkpoint",
                   help="lockstep: both guests run, replies released once both produced them")
    p.add_argument("--guest", choices=("auto", "linux", "counter"), default="auto",
                   help="auto: Debian's kernel when its assets are built, else the counter test guest")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("pair_demo: the client network is a network namespace: run as root", file=sys.stderr)
        return 2
    assets = build_dir() / "guest-assets"
    missing = [name for name in LINUX_ASSETS if not (assets / name).exists()]
    guest = a.guest if a.guest != "auto" else ("counter" if missing else "linux")
    if guest == "linux" and missing:
        print(f"pair_demo: the Linux guest's assets are missing ({', '.join(missing)} in {assets}): "
              "run tests/guests/linux/fetch_assets.sh (as root; it fetches Debian's packages with apt)", file=sys.stderr)
        return 2
    if guest == "linux":
        what = "Debian's stock Linux kernel (128 MiB) with the counter service at 10.0.2.15:7777"
    else:
        what = "the counter service at 10.0.2.15:7777 (tandem's test guest)"
        if a.guest == "auto":
            say("Debian's kernel as the guest needs its assets: tests/guests/linux/fetch_assets.sh builds them")
    say("two machines, A and B, each a Bochs PC with two e1000 NICs: one on the replication link "
        "(through a hub), one on a client network 10.0.2.0/24 shared with a client")
    lab = PairLab("demo-pair" if a.mode == "checkpoint" else "demo-lockstep", seed=1, epoch_ms=a.epoch_ms,
                  failover_ms=a.failover_ms, guest=guest, pair_mode=a.mode)
    echoes = []
    try:
        say(f"machine A boots tandem as the primary; the guest is {what}")
        echoes.append(ConsoleEcho("A", lab.boot(0, "primary")))
        lab.machines[0].wait_for(CONSOLE_READY, 300)
        lab.start_client(interval=0.05)
        lab.wait_replies(3, 300)
        say("machine B boots tandem as the backup and joins while the guest runs")
        echoes.append(ConsoleEcho("B", lab.boot(1, "backup")))
        lab.machines[0].wait_for(PROTECTED_PRIMARY, 300)
        lab.machines[1].wait_for(PROTECTED_BACKUP, 300)
        if a.mode == "lockstep":
            lab.machines[1].wait_for(LOCKSTEP_RUNNING, 300)
        protected_from = len(lab.replies())
        lab.wait_replies(len(lab.replies()) + a.protected_requests, 300)
        rtts = sorted(r["rtt"] for r in lab.replies()[protected_from:] if r.get("tries") == 1 and "rtt" in r)
        if rtts:
            say(f"{a.mode} mode, protected: the client's round trip p50 {rtts[len(rtts) // 2] * 1000:.1f} ms, "
                f"p95 {rtts[int(len(rtts) * 0.95)] * 1000:.1f} ms over {len(rtts)} first tries")
        time.sleep(0.3)  # the consoles' last lines reach the screen
        before = lab.replies()
        say(f"the client has {len(before)} replies, values 1..{before[-1]['value']}; now SIGKILL machine A")
        killed_at = lab.kill(0)
        echoes[0].stop = True
        lab.machines[1].wait_for(TOOK_OVER, 300)
        lab.wait_replies(len(before) + a.protected_requests, 600)
        lab.stop_client()
        replies = lab.replies()
        values = [r["value"] for r in replies]
        gap = lab.failover_gap(0, 1, killed_at)
        time.sleep(0.5)
        intact = values == list(range(1, len(values) + 1))
        say(f"the client got {len(values)} replies with values 1..{values[-1]}: "
            + ("none lost, none repeated" if intact else "BROKEN HISTORY"))
        say(f"B's first reply came {gap * 1000:.0f} ms after A's last on the wire (silence {a.failover_ms} ms, "
            f"probe 50 ms, takeover, and the client's next retry)")
        say(f"consoles and logs: {lab.wd}")
        return 0 if intact else 1
    finally:
        for e in echoes:
            e.stop = True
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
