"""A protected pair on two Bochs machines for the end-to-end tests, the pair benchmark and the
demo (issue 6): the replication link through the test hub, the client network in a network
namespace (one tap per machine on a bridge, the client's address on the bridge), the
counter-service guest on both, and a real client process (tandem_lab.cli.counter_client) that
retries on timeout and sniffs, on each machine's tap, which machine answered.

The whole test process enters the namespace (netns.ClientNetwork.enter), so the hub, the emulators
and the client all share it. Machines are "slots" 0 and 1 (fixed MACs); a slot can be killed
(SIGKILL of its emulator's process group) and booted again in either role."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tandem_lab.bochs import Bochs
from tandem_lab.media import make_iso
from tandem_lab.netns import ClientNetwork
from tandem_lab.paths import build_dir, guests_dir, workdir
from tandem_lab.programs import program, program_env
from tandem_lab.testhub import TestHub

KEY = "5a" * 32
GUEST_MAC = "52:54:00:12:34:56"
GUEST_IP = "10.0.2.15"
PORT = 7777

# link="udp": the link runs as UDP over IPv4 between two subnets the client namespace routes
# (issue 15): machine 0 on 10.1.0.0/24, machine 1 on 10.2.0.0/24, the namespace .1 on both.
ROUTER_SUBNETS = ["10.1.0.1/24", "10.2.0.1/24"]


def link_ip(slot: int) -> str:
    return f"10.{slot + 1}.0.2"


def link_mac(slot: int) -> str:
    return f"52:54:00:00:01:0{slot + 1}"


def client_mac(slot: int) -> str:
    return f"52:54:00:00:02:0{slot + 1}"


class PairLab:
    def __init__(self, name: str, seed: int = 1, epoch_ms: int = 20, failover_ms: int = 300, hard_timeout: float = 1500,
                 extra: str = "", guest: str = "counter", link_ports: int = 2, cpu: str = "corei7_skylake_x",
                 guest_args: str = "", console_relay: bool = False, link: str = "ethernet", pair_mode: str = "checkpoint",
                 **hub_faults):
        """guest: "counter" (tandem's counter-service test guest), "linux" (Debian's kernel with the
        test initramfs from tests/guests/linux/fetch_assets.sh, serving the same protocol) or
        "scribble" (the test guest that writes memory as fast as it can, issue 19), or another test
        guest of tests/guests by name (e.g. "flood": it serves no client, but the machines keep their
        client NICs for the split-brain probe); guest_args: more of the guest's command line (e.g. "tandem.stress=1" for Linux, "mib=8" for scribble).
        cpu: the Bochs CPU model of both machines.
        link_ports: hub ports on the replication link; ports beyond the two machines' are free for a
        test's own endpoint (an attacker on the link).
        console_relay: each machine's COM1 on a pseudo-terminal behind a TCP console relay
        (machine.console_url, socket://127.0.0.1:PORT) for tools/tandemctl.
        link: "ethernet" (raw frames through the test hub) or "udp" (link_ip=/peer_ip=/link_gateway=:
        each machine's link NIC on its own subnet, the namespace routing between them; no hub).
        pair_mode: "checkpoint" or "lockstep" (both guests run, output compared; issue 13)."""
        self.wd = workdir(name)
        self.guest = guest
        self.seed, self.epoch_ms, self.failover_ms, self.extra = seed, epoch_ms, failover_ms, extra
        self.cpu, self.guest_args, self.pair_mode = cpu, guest_args, pair_mode
        self.console_relay = console_relay
        self.hard_timeout = hard_timeout
        self.net = ClientNetwork(taps=2).start()
        self.net.enter()
        self.link = link
        if link == "udp":
            if hub_faults:
                raise ValueError(f"the routed link has no test hub for {sorted(hub_faults)}")
            self.hub = None
            self.router_taps = self.net.add_router(ROUTER_SUBNETS)
        else:
            self.hub = TestHub(self.wd / "hub", ports=link_ports, seed=seed, hard_timeout=hard_timeout,
                               **hub_faults).start()
        self.machines: dict[int, Bochs] = {}
        self.boots = 0
        self.client: subprocess.Popen | None = None
        self.client_log = self.wd / "client.jsonl"
        self.isos: dict[tuple[int, str], Path] = {}

    # --- machines ---------------------------------------------------------------------------------
    def cmdline(self, slot: int, role: str) -> str:
        # role "target": the machine a live migration moves the guest to (mode=migrate, no role=);
        # "standalone": mode=standalone, which with the link key can still migrate its guest away.
        mode = {"target": "mode=migrate", "standalone": "mode=standalone"}.get(role, f"mode={self.pair_mode} role={role}")
        common = (f"{mode} key={KEY} guest_mac={GUEST_MAC} guest_ip={GUEST_IP} "
                  f"link_nic={link_mac(slot)} client_nic={client_mac(slot)} "
                  f"epoch_ms={self.epoch_ms} failover_ms={self.failover_ms} {self.extra} ")
        if self.link == "udp":
            common += (f"link_ip={link_ip(slot)}/24 peer_ip={link_ip(1 - slot)} "
                       f"link_gateway={ROUTER_SUBNETS[slot].split('/')[0]} ")
        if self.guest == "linux":
            return (common + "guest_kernel=linux guest_initrd=initrd guest_mem=128M "
                    f'"guest_cmdline=console=ttyS0 nokaslr tandem.ip={GUEST_IP}/24 '
                    f'tandem.counter_port={PORT} {self.guest_args}"')
        if self.guest == "scribble":
            return common + f'guest_kernel=scribble guest_mem=32M "guest_cmdline={self.guest_args}"'
        if self.guest == "counter":
            return common + f'guest_kernel=counter guest_mem=16M "guest_cmdline=ip={GUEST_IP} port={PORT}"'
        return common + f'guest_kernel={self.guest} guest_mem=16M "guest_cmdline={self.guest_args}"'

    def modules(self) -> list[tuple[Path, str]]:
        if self.guest == "linux":
            assets = build_dir() / "guest-assets"
            return [(assets / "vmlinux", "linux"), (assets / "initramfs.cpio.gz", "initrd")]
        return [(guests_dir() / f"{self.guest}.elf", self.guest)]

    def iso(self, slot: int, role: str) -> Path:
        if (slot, role) not in self.isos:
            self.isos[(slot, role)] = make_iso(self.wd / f"slot{slot}-{role}.iso", cmdline=self.cmdline(slot, role),
                                               modules=self.modules())
        return self.isos[(slot, role)]

    def boot(self, slot: int, role: str) -> Bochs:
        self.boots += 1
        m = Bochs(self.wd / f"boot{self.boots}-slot{slot}-{role}", self.iso(slot, role), sync="slowdown", cpu=self.cpu,
                  hard_timeout=self.hard_timeout, megs=1024 if self.guest == "linux" else 256,
                  nics=[self.link_nic(slot), self.net.e1000(slot, client_mac(slot))],
                  console_relay=self.console_relay)
        self.machines[slot] = m
        return m.start()

    def link_nic(self, slot: int) -> str:
        if self.hub is None:
            return self.net.e1000(self.router_taps[slot], link_mac(slot), card=0)
        return self.hub.e1000(slot, link_mac(slot))

    def hub_frame_types(self) -> dict[int, int]:
        """How many link frames of each type (frame_header.hpp: 3 pages, 7 epoch ack, 11 forward, ...)
        the hub carried, from its log."""
        counts: dict[int, int] = {}
        for e in self.hub.events("rx") if self.hub is not None else []:
            if "ft" in e:
                counts[e["ft"]] = counts.get(e["ft"], 0) + 1
        return counts

    def kill(self, slot: int) -> float:
        """SIGKILL of the slot's emulator; returns the client clock's time of the kill."""
        t = self.client_time()
        self.machines[slot].kill()
        return t

    # --- the client -------------------------------------------------------------------------------
    def start_client(self, count: int = 100000, interval: float = 0.05, timeout: float = 0.3, until: float = 1200):
        self.client_started = time.monotonic()
        with open(self.client_log, "w") as log:
            self.client = subprocess.Popen(
                ["timeout", "-s", "KILL", str(int(until) + 30)] + program("counter_client")
                + ["--server", GUEST_IP, "--port", str(PORT), "--count", str(count), "--interval", str(interval),
                   "--timeout", str(timeout), "--until", str(until), "--sniff", ",".join(self.net.taps)],
                stdout=log, stderr=subprocess.STDOUT, env=program_env(), start_new_session=True)

    def client_time(self) -> float:
        return time.monotonic() - self.client_started if self.client else 0.0

    def records(self) -> list[dict]:
        out = []
        try:
            lines = self.client_log.read_text().splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line being written
        return out

    def replies(self) -> list[dict]:
        return [r for r in self.records() if r["event"] == "reply"]

    def wait_replies(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.replies()) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"the client got {len(self.replies())} replies, waited for {n}; "
                                     f"last records: {self.records()[-5:]}")
            if self.client and self.client.poll() is not None:
                raise AssertionError(f"the client ended: {self.records()[-5:]}")
            time.sleep(0.1)

    def stop_client(self) -> None:
        if self.client and self.client.poll() is None:
            # The client runs under `timeout` in a session of its own: SIGKILL to the whole group, as
            # SIGKILL to `timeout` alone would leave the client running, orphaned, until its --until.
            try:
                os.killpg(self.client.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.client.wait()

    def close(self) -> dict:
        self.stop_client()
        for m in self.machines.values():
            m.stop()
        summary = (self.hub.stop() if self.hub else None) or {}
        self.net.close()
        return summary

    # --- judging ----------------------------------------------------------------------------------
    def check_history(self, test) -> list[dict]:
        """The client's view: reply values exactly 1, 2, 3, ... N (no repeat, no gap), late replies
        repeating the value their id got; every reply seen on the wire agrees with that history."""
        replies = self.replies()
        values = [r["value"] for r in replies]
        test.assertEqual(values, list(range(1, len(values) + 1)),
                         f"client history is not 1..N: {self.first_difference(values)}")
        by_id = {r["id"]: r["value"] for r in replies}
        for r in self.records():
            if r["event"] in ("late", "wire"):
                parts = r["reply"].split()
                if len(parts) == 3 and parts[0] == "ok" and int(parts[1]) in by_id:
                    test.assertEqual(int(parts[2]), by_id[int(parts[1])], f"a reply disagrees with the history: {r}")
        return replies

    @staticmethod
    def first_difference(values: list[int]) -> str:
        for i, v in enumerate(values):
            if v != i + 1:
                return f"reply #{i + 1} has value {v} (context {values[max(0, i - 3):i + 4]})"
        return "?"

    def wire(self) -> list[dict]:
        return [r for r in self.records() if r["event"] == "wire"]

    def failover_gap(self, old: int, new: int, killed_at: float) -> float:
        """Seconds from the old primary's last reply to the new primary's first, as seen on their
        taps (client clock)."""
        wire = [w for w in self.wire() if w["reply"].startswith("ok ")]
        last_old = max((w["t"] for w in wire if w["tap"] == self.net.taps[old] and w["t"] <= killed_at), default=killed_at)
        first_new = min(w["t"] for w in wire if w["tap"] == self.net.taps[new] and w["t"] > killed_at)
        return first_new - last_old
