"""The test hub's command line (README.md in tandem_lab/testhub):

    PYTHONPATH=tools python3 -m tandem_lab.cli.testhub [--ports N] [--base PORT|auto] [--seed N] [--log FILE|-]
        [--control-port PORT] [fault flags] [--partition START[:END][@SPEC]]...
"""

from __future__ import annotations

import argparse
import os
import sys

from tandem_lab.testhub.faults import add_arguments, from_arguments, parse_pairs, parse_schedule
from tandem_lab.testhub.hub import Hub


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tandem_lab.cli.testhub",
                                description="Fault-injecting Ethernet hub for Bochs ethmod=socket (bxhub framing).")
    p.add_argument("--ports", type=int, default=2, help="hub ports (2..32; default 2)")
    p.add_argument("--base", default="40000", help="base UDP port, or 'auto' (default 40000, as bxhub)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    p.add_argument("--log", default="-", help="JSON-lines event log file ('-': stdout)")
    p.add_argument("--control-port", type=int, default=None, help="UDP control port (0: any free; default none)")
    add_arguments(p)
    p.add_argument("--partition", action="append", default=[], metavar="START[:END][@SPEC]",
                   help="partition from START to END seconds after hub start (repeatable); SPEC: "
                        "all (default), A>B, A-B or A, comma-separated")
    a = p.parse_args(argv)
    if not 2 <= a.ports <= 32:
        p.error("--ports must be 2..32")
    try:
        faults = from_arguments(a)
        schedule = [parse_schedule(s) for s in a.partition]
        for _, _, spec in schedule:
            parse_pairs(spec, a.ports)
        base = None if a.base == "auto" else int(a.base)
    except ValueError as e:
        p.error(str(e))
    if base is not None and not 1 <= base <= 65535 - 2 * a.ports:
        p.error("--base out of range")
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "big")
    log_file = sys.stdout if a.log == "-" else open(a.log, "w", buffering=1, encoding="utf-8")
    hub = Hub(a.ports, base, a.host, seed, faults, schedule, log_file, a.control_port)
    hub.open()
    try:
        hub.run()
    finally:
        hub.close()
        log_file.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
