#!/usr/bin/env python3
"""The client of the counter service (tests/guests/counter.cpp): sends "inc <id>" requests one
at a time over UDP, retrying the same id on timeout, and records every reply it gets with the
time and the Ethernet source of the answer's IP (the guest's). Prints one JSON line per
completed request and a summary; runs inside the client network namespace.

    counter_client.py --server 10.0.2.15 --port 7777 --count 100 [--timeout 0.5] [--until SECONDS]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--server", default="10.0.2.15")
    p.add_argument("--port", type=int, default=7777)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--timeout", type=float, default=0.5)
    p.add_argument("--until", type=float, default=600, help="give up after this many seconds")
    p.add_argument("--first-id", type=int, default=1)
    a = p.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(a.timeout)
    start = time.monotonic()
    replies_for_done = 0
    for n in range(a.first_id, a.first_id + a.count):
        message = f"inc {n}".encode()
        tries = 0
        while True:
            if time.monotonic() - start > a.until:
                print(json.dumps({"event": "gave-up", "id": n, "t": time.monotonic() - start}), flush=True)
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
                    print(json.dumps({"event": "late", "reply": data.decode(errors="replace").strip(),
                                      "t": time.monotonic() - start}), flush=True)
            except socket.timeout:
                continue
            print(json.dumps({"event": "reply", "id": n, "value": int(parts[2]), "tries": tries,
                              "source": source[0], "t": time.monotonic() - start,
                              "rtt": time.monotonic() - sent}), flush=True)
            break
    print(json.dumps({"event": "done", "t": time.monotonic() - start}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
