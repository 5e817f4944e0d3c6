"""tandem's fault-injecting test hub: a drop-in for Bochs' `bxhub` with faults on command.

Wire format (Bochs 2.7 iodev/network/eth_socket.cc and misc/bxhub.cc): one raw Ethernet frame
(destination MAC, source MAC, EtherType, payload; no FCS, no extra header) per UDP datagram. A
Bochs NIC with `ethmod=socket, ethdev=P` receives on UDP port P and sends to localhost:P+1, so hub
port i listens on base+2i+1 and sends, from that same socket, to base+2i (Bochs uses ethdev=base+2i).

Forwarding is a learning switch: source MACs are learned per port; a unicast frame to a learned MAC
goes to that port only (dropped if that is the port it came from); broadcast, multicast and
unknown unicast are flooded to every other port, including ports that have not sent yet (bxhub
floods broadcasts the same way; it drops unknown unicast and multicast, we flood them).

Faults are decided per delivery (see faults.py), logged as JSON lines, and controlled by flags and
by JSON datagrams on a UDP control port (README.md). Its command line: tandem_lab.cli.testhub.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import select
import signal
import socket
import sys
import time
import zlib

from tandem_lab.testhub.faults import Faults, decide, delivery_rng, flip_bits, parse_pairs

ETH_HEADER = 14
BOCHS_MAX_FRAME = 1514  # Bochs' receive buffer (BX_PACKET_BUFSIZE): longer datagrams are truncated
COUNTERS = ("rx", "malformed", "forwarded", "dropped_loss", "dropped_partition", "duplicated",
            "corrupted", "delayed", "reordered", "no_target", "oversize", "send_errors",
            "control_ok", "control_errors")


def mac_text(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def ethertype(frame: bytes) -> int:
    kind = int.from_bytes(frame[12:14], "big")
    if kind in (0x8100, 0x88A8) and len(frame) >= 18:  # one VLAN tag: the inner type counts
        kind = int.from_bytes(frame[16:18], "big")
    return kind


class Hub:
    def __init__(self, ports: int, base: int | None, host: str, seed: int, faults: Faults,
                 schedule: list[tuple[float, float | None, str | None]], log_file, control_port: int | None):
        self.nports, self.base, self.host, self.seed = ports, base, host, seed
        self.faults, self.schedule, self.logf = faults, schedule, log_file
        self.control_port = control_port
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.port_rx = [0] * ports
        self.port_tx = [0] * ports
        self.peer: list[tuple[str, int] | None] = [None] * ports  # learned from a port's first datagram
        self.macs: dict[bytes, int] = {}
        self.pair_k: dict[tuple[int, int], int] = {}
        self.cut: set[tuple[int, int]] = set()
        self.heap: list = []
        self.seq = 0
        self.next_id = 1
        self.stopping = False
        self.t0 = time.monotonic()

    # --- set-up -------------------------------------------------------------------------------
    def open(self) -> None:
        self.socks = self._bind_ports()
        self.ctl = None
        if self.control_port is not None:
            self.ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.ctl.bind((self.host, self.control_port))
            self.ctl.setblocking(False)
            self.control_port = self.ctl.getsockname()[1]
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.t0 = time.monotonic()
        for start, end, spec in self.schedule:
            self._push(start, ("partition", True, spec, "schedule"))
            if end is not None:
                self._push(end, ("partition", False, spec, "schedule"))
        self.log("start", version=1, seed=self.seed, base=self.base, ports=self.nports, host=self.host,
                 control_port=self.control_port, faults=self.faults.to_json(),
                 ethdev=[self.base + 2 * i for i in range(self.nports)],
                 schedule=[list(s) for s in self.schedule], pid=os.getpid())
        print(f"testhub: seed={self.seed} base={self.base} ports={self.nports} control_port={self.control_port}"
              f" (Bochs ethdev={', '.join(str(self.base + 2 * i) for i in range(self.nports))})",
              file=sys.stderr, flush=True)

    def _bind_ports(self) -> list[socket.socket]:
        if self.base is not None:
            return self._try_bind(self.base, check_bochs_side=False) or sys.exit(
                f"testhub: cannot bind UDP ports {self.base + 1}..{self.base + 2 * self.nports - 1}")
        # Automatic base below the ephemeral range, away from bxhub's default 40000.
        rand = random.Random(os.urandom(8))
        for _ in range(200):
            base = rand.randrange(20000, 32000 - 2 * self.nports) & ~1
            socks = self._try_bind(base, check_bochs_side=True)
            if socks:
                self.base = base
                return socks
        sys.exit("testhub: found no free UDP port range")

    def _try_bind(self, base: int, check_bochs_side: bool) -> list[socket.socket] | None:
        socks: list[socket.socket] = []
        try:
            for i in range(self.nports):
                if check_bochs_side:  # the port the Bochs NIC will bind must be free too
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                        probe.bind((self.host, base + 2 * i))
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((self.host, base + 2 * i + 1))
                s.setblocking(False)
            return socks
        except OSError:
            for s in socks:
                s.close()
            return None

    # --- logging ------------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    def log(self, ev: str, **fields) -> None:
        record = {"t": round(self.now(), 6), "ev": ev, **fields}
        self.logf.write(json.dumps(record, separators=(",", ":")) + "\n")

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True  # the wakeup fd makes select() return

    # --- main loop ----------------------------------------------------------------------------
    def run(self) -> None:
        watched = self.socks + [self.wake_r] + ([self.ctl] if self.ctl else [])
        while not self.stopping:
            timeout = max(0.0, self.heap[0][0] - self.now()) if self.heap else None
            try:
                ready, _, _ = select.select(watched, [], [], timeout)
            except InterruptedError:
                continue
            for s in ready:
                if s is self.wake_r:
                    self._drain(s)
                elif s is self.ctl:
                    self._read_control()
                else:
                    self._read_port(self.socks.index(s))
            self._run_due()

    @staticmethod
    def _drain(s: socket.socket) -> None:
        try:
            while s.recv(512):
                pass
        except OSError:
            pass

    def _read_port(self, port: int) -> None:
        for _ in range(64):  # bounded: other ports and due events get their turn
            try:
                data, addr = self.socks[port].recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.log("socket_error", port=port, error=str(e))
                return
            try:
                self.on_frame(port, data, addr)
            except Exception as e:  # a bug must not take the network down with it: log it, go on
                self.log("internal_error", port=port, len=len(data), error=repr(e))

    def _push(self, due: float, item: tuple) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (due, self.seq, item))

    def _run_due(self) -> None:
        while self.heap and self.heap[0][0] <= self.now():
            _, _, item = heapq.heappop(self.heap)
            if item[0] == "send":
                self.transmit(*item[1:])
            else:
                self.set_partition(*item[1:])

    # --- forwarding ---------------------------------------------------------------------------
    def on_frame(self, port: int, data: bytes, addr) -> None:
        self.port_rx[port] += 1
        if len(data) < ETH_HEADER:
            self.counters["malformed"] += 1
            self.log("malformed", port=port, len=len(data), why="shorter than an Ethernet header")
            return
        if self.peer[port] is None or self.peer[port][0] != addr[0]:
            self.peer[port] = (addr[0], self.base + 2 * port)  # reply to the sender's address, like bxhub
            self.log("port_up", port=port, addr=f"{addr[0]}:{addr[1]}")
        dst, src = data[:6], data[6:12]
        if not src[0] & 1 and self.macs.get(src) != port:
            self.macs[src] = port
            self.log("learn", mac=mac_text(src), port=port)
        if dst[0] & 1:
            how = "broadcast" if dst == b"\xff" * 6 else "multicast"
            targets = [q for q in range(self.nports) if q != port]
        elif dst in self.macs:
            how, targets = "unicast", [self.macs[dst]] if self.macs[dst] != port else []
        else:
            how, targets = "unknown", [q for q in range(self.nports) if q != port]
        fid = self.next_id
        self.next_id += 1
        self.counters["rx"] += 1
        if len(data) > BOCHS_MAX_FRAME:
            self.counters["oversize"] += 1
        kind = ethertype(data)
        extra = {}
        if kind == 0x88B5 and len(data) >= 18 and data[14:16] == b"\x44\x54":
            extra["ft"] = data[17]  # tandem's link frame type: in the clear, in the authenticated header
        self.log("rx", id=fid, port=port, len=len(data), dst=mac_text(dst), src=mac_text(src),
                 type=f"{kind:04x}", crc=f"{zlib.crc32(data):08x}", how=how, to=targets, **extra)
        if not targets:
            self.counters["no_target"] += 1
        faulty = self.faults.filter_ethertype is None or kind == self.faults.filter_ethertype
        for q in targets:
            self.deliver(fid, port, q, data, faulty)

    def deliver(self, fid: int, p: int, q: int, data: bytes, faulty: bool) -> None:
        k = self.pair_k.get((p, q), 0)
        self.pair_k[(p, q)] = k + 1
        if not faulty:
            self.transmit(q, data, fid, p, 0)
            return
        if (p, q) in self.cut:
            self.counters["dropped_partition"] += 1
            self.log("drop", id=fid, port=p, out=q, k=k, why="partition")
            return
        d = decide(self.faults, delivery_rng(self.seed, p, q, k), len(data))
        if d.drop:
            self.counters["dropped_loss"] += 1
            self.log("drop", id=fid, port=p, out=q, k=k, why="loss")
            return
        if d.bits:
            data = flip_bits(data, d.bits)
            self.counters["corrupted"] += 1
            self.log("corrupt", id=fid, port=p, out=q, k=k, bits=d.bits)
        if d.dup:
            self.counters["duplicated"] += 1
            self.log("duplicate", id=fid, port=p, out=q, k=k)
        copies = 2 if d.dup else 1
        if d.delay_ms <= 0:
            for copy in range(copies):
                self.transmit(q, data, fid, p, copy)
            return
        self.counters["delayed"] += 1
        if d.reorder_ms > 0:
            self.counters["reordered"] += 1
        self.log("delay", id=fid, port=p, out=q, k=k, ms=round(d.delay_ms, 3), reorder_ms=round(d.reorder_ms, 3))
        due = self.now() + d.delay_ms / 1000.0
        for copy in range(copies):
            self._push(due, ("send", q, data, fid, p, copy))

    def transmit(self, q: int, data: bytes, fid: int, p: int, copy: int) -> None:
        addr = self.peer[q] or (self.host, self.base + 2 * q)
        try:
            self.socks[q].sendto(data, addr)
        except OSError as e:
            self.counters["send_errors"] += 1
            self.log("send_error", id=fid, port=p, out=q, copy=copy, error=str(e))
            return
        self.counters["forwarded"] += 1
        self.port_tx[q] += 1
        self.log("forward", id=fid, port=p, out=q, copy=copy, len=len(data), crc=f"{zlib.crc32(data):08x}")

    def set_partition(self, on: bool, spec: str | None, by: str) -> None:
        pairs = parse_pairs(spec, self.nports)
        self.cut = (self.cut | pairs) if on else (self.cut - pairs if spec is not None else set())
        self.log("partition" if on else "heal", spec=spec or "all", by=by, cut=sorted(self.cut))

    # --- control channel ----------------------------------------------------------------------
    def _read_control(self) -> None:
        for _ in range(16):
            try:
                data, addr = self.ctl.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.log("socket_error", port="control", error=str(e))
                return
            try:
                msg = json.loads(data.decode("utf-8"))
                if not isinstance(msg, dict):
                    raise ValueError("a command is a JSON object")
                reply = self.command(msg)
                self.counters["control_ok"] += 1
            except (ValueError, TypeError, KeyError, UnicodeDecodeError) as e:
                self.counters["control_errors"] += 1
                reply = {"ok": False, "error": str(e)}
                self.log("control_error", error=str(e), raw=data[:200].decode("utf-8", "replace"))
            try:
                self.ctl.sendto(json.dumps(reply).encode(), addr)
            except OSError:
                pass

    def command(self, msg: dict) -> dict:
        cmd = msg.get("cmd")
        if cmd == "set":
            changes = self.faults.update({k: v for k, v in msg.items() if k != "cmd"})
            self.log("set", changes=changes, faults=self.faults.to_json())
            return {"ok": True, "faults": self.faults.to_json()}
        if cmd in ("partition", "heal"):
            on = msg.get("on", True) if cmd == "partition" else False
            if not isinstance(on, bool):
                raise ValueError("'on' must be true or false")
            spec = msg.get("spec")
            parse_pairs(spec, self.nports)  # validate now, not when a scheduled event fires
            at = msg.get("at")
            if msg.get("after") is not None:
                at = self.now() + float(msg["after"])
            if at is None:
                self.set_partition(on, spec, "control")
                return {"ok": True, "cut": sorted(self.cut)}
            self._push(float(at), ("partition", on, spec, "control"))
            self.log("scheduled", what="partition" if on else "heal", spec=spec or "all", at=float(at))
            return {"ok": True, "scheduled_at": float(at)}
        if cmd in ("stats", "get"):
            return {"ok": True, **self.summary()}
        if cmd == "mark":
            self.log("mark", text=str(msg.get("text", "")))
            return {"ok": True}
        raise ValueError(f"unknown cmd {cmd!r} (set, partition, heal, stats, mark)")

    def summary(self) -> dict:
        sends = sum(1 for item in self.heap if item[2][0] == "send")
        return {"t": round(self.now(), 6), "seed": self.seed, "counters": dict(self.counters),
                "port_rx": self.port_rx, "port_tx": self.port_tx, "pending": sends,
                "cut": sorted(self.cut), "faults": self.faults.to_json(),
                "macs": {mac_text(m): p for m, p in self.macs.items()}}

    def close(self) -> dict:
        summary = self.summary()
        self.log("summary", **{k: v for k, v in summary.items() if k != "t"})
        print("testhub: summary " + json.dumps(summary["counters"]), file=sys.stderr, flush=True)
        for s in self.socks + [self.wake_r, self.wake_w] + ([self.ctl] if self.ctl else []):
            s.close()
        return summary
