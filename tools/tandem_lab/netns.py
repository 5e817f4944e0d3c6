"""A client network for emulator tests, in a network namespace of its own (root only): tap
devices for the emulators' client NICs, bridged, with the client's address on the bridge, as
../shared/emulator/NETWORK.md describes. Each instance has a unique name so parallel runs
cannot collide, and it is always torn down (context manager, atexit)."""

from __future__ import annotations

import atexit
import ctypes
import os
import subprocess
import uuid

CLONE_NEWNET = 0x40000000

_live: list["ClientNetwork"] = []


def _cleanup() -> None:
    for net in list(_live):
        net.close()


atexit.register(_cleanup)


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class ClientNetwork:
    def __init__(self, taps: int = 1, client_ip: str = "10.0.2.2/24"):
        if os.geteuid() != 0:
            raise PermissionError("client networks need root (network namespaces)")
        self.name = "tandem-" + uuid.uuid4().hex[:10]
        self.taps = [f"tap{i}" for i in range(taps)]
        self.client_ip = client_ip
        self.open = False

    def __enter__(self) -> "ClientNetwork":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> "ClientNetwork":
        _run("ip", "netns", "add", self.name)
        self.open = True
        _live.append(self)
        ns = ["ip", "netns", "exec", self.name]
        _run(*ns, "ip", "link", "set", "lo", "up")
        _run(*ns, "ip", "link", "add", "br0", "type", "bridge")
        for tap in self.taps:
            _run(*ns, "ip", "tuntap", "add", "dev", tap, "mode", "tap")
            _run(*ns, "ip", "link", "set", tap, "master", "br0")
            _run(*ns, "ip", "link", "set", tap, "up")
        _run(*ns, "ip", "addr", "add", self.client_ip, "dev", "br0")
        _run(*ns, "ip", "link", "set", "br0", "up")
        return self

    def enter(self) -> None:
        """Moves this process (its main thread: call it from there) into the namespace, so that
        everything it starts from now on (emulators with tap NICs, the test hub on localhost,
        clients) shares one network. Python 3.11 has no os.setns: libc's setns(2) it is."""
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns into {self.name}: {os.strerror(err)}")
        finally:
            os.close(fd)

    def add_router(self, subnets: list[str]) -> list[str]:
        """Makes the namespace a router between subnets, one tap each ("10.1.0.1/24": the router's
        address on that tap), with forwarding on: machines on two of these taps reach each other only
        through the namespace's IPv4 routing (no bridge joins the taps). Returns the taps' names."""
        ns = ["ip", "netns", "exec", self.name]
        names = []
        for i, subnet in enumerate(subnets):
            tap = f"rtr{i}"
            _run(*ns, "ip", "tuntap", "add", "dev", tap, "mode", "tap")
            _run(*ns, "ip", "addr", "add", subnet, "dev", tap)
            _run(*ns, "ip", "link", "set", tap, "up")
            names.append(tap)
        _run(*ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        return names

    def forwarded_datagrams(self) -> int:
        """IPv4 datagrams the namespace has routed (Ip: ForwDatagrams of /proc/net/snmp, RFC 1213's
        ipForwDatagrams), read inside the namespace."""
        lines = subprocess.run(self.prefix() + ["cat", "/proc/net/snmp"], check=True, capture_output=True,
                               text=True).stdout.splitlines()
        ip = [line.split()[1:] for line in lines if line.startswith("Ip:")]
        return int(dict(zip(ip[0], ip[1]))["ForwDatagrams"])

    def prefix(self) -> list[str]:
        """What to put before a command to run it inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def e1000(self, tap: int | str, mac: str, card: int = 1) -> str:
        """The Bochs NIC line for an e1000 on tap number `tap` (or the tap of that name)."""
        name = tap if isinstance(tap, str) else self.taps[tap]
        return f"e1000: card={card}, enabled=1, mac={mac}, ethmod=tuntap, ethdev=/dev/net/tun:{name}"

    def close(self) -> None:
        if not self.open:
            return
        self.open = False
        subprocess.run(["ip", "netns", "del", self.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self in _live:
            _live.remove(self)
