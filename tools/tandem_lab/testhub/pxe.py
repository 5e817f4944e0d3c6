"""A real Bochs NIC on the hub without any guest OS: Bochs boots the e1000's iPXE ROM (Debian package
ipxe-qemu), which broadcasts DHCPDISCOVER; answering with dhcp_offer() through the hub makes the ROM
send a DHCPREQUEST for the same transaction, which proves frames cross the hub both ways."""

from __future__ import annotations

import time
from pathlib import Path

from tandem_lab.bochs import Bochs
from tandem_lab.testhub.endpoint import BCAST, Endpoint

IPXE_ROM = Path("/usr/lib/ipxe/e1000_82540.rom")


class PxeBochs(Bochs):
    """The harness's Bochs with no disk, booting from the network: `nic` is an e1000 line, e.g.
    TestHub.e1000(0, mac) + f", bootrom={IPXE_ROM}"."""

    def __init__(self, workdir: Path, nic: str, hard_timeout: float = 120):
        super().__init__(workdir, iso=Path("/dev/null"), megs=32, nics=[nic], hard_timeout=hard_timeout)

    def bochsrc(self) -> str:
        lines = [line for line in super().bochsrc().splitlines() if not line.startswith(("ata0", "boot:"))]
        return "\n".join(lines + ["boot: network"]) + "\n"


def dhcp_message(frame: bytes) -> tuple[int, int] | None:
    """(xid, DHCP message type) of a DHCP frame over IPv4/UDP, or None."""
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    bootp = 14 + (frame[14] & 0x0F) * 4 + 8
    if frame[bootp + 236:bootp + 240] != b"\x63\x82\x53\x63":
        return None
    at = bootp + 240
    while at + 1 < len(frame) and frame[at] != 255:
        if frame[at] == 0:
            at += 1
            continue
        if frame[at] == 53 and at + 2 < len(frame):
            return int.from_bytes(frame[bootp + 4:bootp + 8], "big"), frame[at + 2]
        at += 2 + frame[at + 1]
    return None


def dhcp_offer(discover: bytes, server_mac: bytes, client_ip: bytes = bytes([10, 0, 2, 15]),
               server_ip: bytes = bytes([10, 0, 2, 2])) -> bytes:
    """A broadcast DHCPOFFER (RFC 2131) answering `discover` (as dhcp_message() accepts)."""
    bootp = 14 + (discover[14] & 0x0F) * 4 + 8
    xid, chaddr = discover[bootp + 4:bootp + 8], discover[bootp + 28:bootp + 44]
    options = bytes([53, 1, 2, 54, 4]) + server_ip + bytes([51, 4, 0, 0, 14, 16, 1, 4, 255, 255, 255, 0, 255])
    body = (bytes([2, 1, 6, 0]) + xid + bytes(8) + client_ip + server_ip + bytes(4) + chaddr + bytes(192)
            + b"\x63\x82\x53\x63" + options)
    body += bytes(max(0, 300 - len(body)))
    udp = (67).to_bytes(2, "big") + (68).to_bytes(2, "big") + (8 + len(body)).to_bytes(2, "big") + bytes(2) + body
    ip = bytearray(b"\x45\x00" + (20 + len(udp)).to_bytes(2, "big") + bytes(4) + b"\x40\x11\x00\x00"
                   + server_ip + b"\xff\xff\xff\xff")
    total = sum(int.from_bytes(ip[i:i + 2], "big") for i in range(0, 20, 2))
    total = (total & 0xFFFF) + (total >> 16)
    ip[10:12] = (~((total & 0xFFFF) + (total >> 16)) & 0xFFFF).to_bytes(2, "big")
    return BCAST + server_mac + b"\x08\x00" + bytes(ip) + udp


def wait_for_dhcp(ep: Endpoint, kind: int, run: Bochs, xid: int | None = None, timeout: float = 90) -> bytes:
    """The first DHCP message of type `kind` (1 discover, 3 request) that reached `ep`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.running():
        for frame in ep.frames():
            msg = dhcp_message(frame)
            if msg and msg[1] == kind and xid in (None, msg[0]):
                return frame
        time.sleep(0.1)
    raise AssertionError(f"no DHCP message of type {kind} from Bochs; see {run.workdir}")
