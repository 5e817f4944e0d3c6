"""An emulated Bochs NIC for tests: exactly what Bochs 2.7's `ethmod=socket, ethdev=P` does on the
wire (iodev/network/eth_socket.cc): bind UDP port P, send each frame as one datagram to
localhost:P+1, receive frames as single datagrams on P. For hub port i, P = base + 2i."""

from __future__ import annotations

import socket
import threading
import time

BCAST = b"\xff" * 6
REPL = 0x88B5  # tandem's replication EtherType


class Endpoint:
    """The NIC on hub port `port` with MAC 02:00:00:00:10:<port+1>; a thread collects what arrives."""

    def __init__(self, base: int, port: int):
        self.port, self.mac = port, bytes([2, 0, 0, 0, 0x10, port + 1])
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("127.0.0.1", base + 2 * port))
        self.sock.settimeout(0.05)
        self.hub_addr = ("127.0.0.1", base + 2 * port + 1)
        self.got: list[tuple[float, bytes, int]] = []  # (arrival time, frame, sender's UDP port)
        self.open = True
        self.thread = threading.Thread(target=self._collect, daemon=True)
        self.thread.start()

    def _collect(self) -> None:
        while self.open:
            try:
                data, addr = self.sock.recvfrom(65536)
                self.got.append((time.monotonic(), data, addr[1]))
            except (socket.timeout, OSError):
                pass

    def frame(self, dst: bytes, body: bytes, etype: int = REPL) -> bytes:
        return dst + self.mac + etype.to_bytes(2, "big") + body

    def send(self, dst: bytes, body: bytes, etype: int = REPL) -> float:
        """Sends a frame; returns a time no later than the hub could have received it."""
        before = time.monotonic()  # after sendto, this thread may be descheduled for ms on a loaded host
        self.sock.sendto(self.frame(dst, body, etype), self.hub_addr)
        return before

    def frames(self) -> list[bytes]:
        return [f for _, f, _ in self.got]

    def close(self) -> None:
        self.open = False
        self.thread.join()
        self.sock.close()

