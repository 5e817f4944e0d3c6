"""The client of the counter service (tests/guests/counter.cpp): sends "inc <id>" requests one
at a time over UDP, retrying the same id on timeout, and records every reply it gets with the
time and the Ethernet source of the answer's IP (the guest's). Prints one JSON line per
completed request and a summary; runs inside the client network namespace.

    PYTHONPATH=tools python3 -m tandem_lab.cli.counter_client --server 10.0.2.15 --port 7777 --count 100
        [--timeout 0.5] [--until SECONDS] [--interval SECONDS] [--first-id N] [--sniff tap0,tap1]

--sniff records every reply as it crossed each named interface (the machines' taps on the client
bridge), as {"event": "wire", "tap": ..., "reply": ..., "mac": ...}: which machine answered, seen
on the wire rather than told by anyone.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import threading
import time

PACKET_OUTGOING = 4  # sll_pkttype of frames the host sends out of the interface
_print_lock = threading.Lock()


def emit(record: dict) -> None:
    with _print_lock:
        print(json.dumps(record), flush=True)


def sniff(tap: str, port: int, start: float) -> None:
    """Records the service's UDP replies that the machine behind `tap` put on the wire."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    s.bind((tap, 0))
    while True:
        frame, addr = s.recvfrom(2048)
        if addr[2] == PACKET_OUTGOING or len(frame) < 42 or frame[12:14] != b"\x08\x00":
            continue
        ihl = (frame[14] & 0x0F) * 4
        if frame[23] != 17 or len(frame) < 14 + ihl + 8:
            continue
        sport, = struct.unpack_from("!H", frame, 14 + ihl)
        if sport != port:
            continue
        payload = frame[14 + ihl + 8:].decode(errors="replace").strip("\x00").strip()
        emit({"event": "wire", "tap": tap, "reply": payload, "mac": frame[6:12].hex(":"),
              "t": time.monotonic() - start})


def main() -> int:
    p = argparse.ArgumentParser(prog="python3 -m tandem_lab.cli.counter_client")
    p.add_argument("--server", default="10.0.2.15")
    p.add_argument("--port", type=int, default=7777)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--timeout", type=float, default=0.5)
    p.add_argument("--until", type=float, default=600, help="give up after this many seconds")
    p.add_argument("--first-id", type=int, default=1)
    p.add_argument("--interval", type=float, default=0, help="pause between completed requests")
    p.add_argument("--sniff", default="", help="comma-separated interfaces to watch for replies")
    a = p.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(a.timeout)
    start = time.monotonic()
    for tap in filter(None, a.sniff.split(",")):
        threading.Thread(target=sniff, args=(tap, a.port, start), daemon=True).start()
    replies_for_done = 0
    for n in range(a.first_id, a.first_id + a.count):
        message = f"inc {n}".encode()
        tries = 0
        while True:
            if time.monotonic() - start > a.until:
                emit({"event": "gave-up", "id": n, "t": time.monotonic() - start})
                return 1
            tries += 1
            sent = time.monotonic()
            sock.sendto(message, (a.server, a.port))
            try:
                while True:
                    data, source = sock.recvfrom(2048)
                    parts = data.decode(errors="replace").split()
                    if len(parts) == 3 and parts[0] == "ok" and parts[1] == str(n):
                        break
                    # A late reply to an earlier id: recorded, it must repeat that id's value.
                    replies_for_done += 1
                    emit({"event": "late", "reply": data.decode(errors="replace").strip(),
                          "t": time.monotonic() - start})
            except socket.timeout:
                continue
            emit({"event": "reply", "id": n, "value": int(parts[2]), "tries": tries, "source": source[0],
                  "t": time.monotonic() - start, "rtt": time.monotonic() - sent})
            break
        if a.interval:
            time.sleep(a.interval)
    emit({"event": "done", "t": time.monotonic() - start})
    return 0


if __name__ == "__main__":
    sys.exit(main())
