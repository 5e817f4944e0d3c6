"""The test hub as a process for the e2e harness (the same conventions as an EmulatorRun, emulator.py).

    hub = TestHub(workdir, ports=2, seed=7, loss=0.05, reorder=0.1, filter_ethertype=0x88B5).start()
    nics = [hub.e1000(0, "b0:c4:20:00:00:01")]       # Bochs config line for machine A, port 0
    hub.set(loss=0.2); hub.partition("0-1"); hub.heal()
    summary = hub.stop()                              # counters; hub.events("drop") reads the log

The hub runs under `timeout -s KILL` in its own session (process group), with its own work directory
holding command.txt, hub.log (JSON lines) and hub-output.log; stop() ends the group by the PID.
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import fields
from pathlib import Path

from tandem_lab.programs import program, program_env
from tandem_lab.testhub.faults import Faults

FAULT_FLAGS = [f.name for f in fields(Faults)]

_live: list["TestHub"] = []
atexit.register(lambda: [hub.stop() for hub in list(_live)])


class HubError(RuntimeError):
    """The hub did not start, or refused a control command."""


class TestHub:
    __test__ = False  # not a test case, whatever a test runner thinks of the name

    def __init__(self, workdir: Path, ports: int = 2, base: int | None = None, seed: int = 1,
                 partitions: list[str] | None = None, hard_timeout: float = 3600,
                 host: str = "127.0.0.1", **faults):
        unknown = set(faults) - set(FAULT_FLAGS)
        if unknown:
            raise TypeError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "hub.log"
        self.ports, self.base, self.seed, self.host = ports, base, seed, host
        self.partitions, self.faults, self.hard_timeout = partitions or [], faults, hard_timeout
        self.control_port: int | None = None
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        cmd = program("testhub") + ["--ports", str(self.ports), "--base", str(self.base or "auto"),
               "--host", self.host, "--seed", str(self.seed), "--log", str(self.log_path), "--control-port", "0"]
        for key, value in self.faults.items():
            if value is not None:
                cmd += ["--" + key.replace("_", "-"), hex(value) if key == "filter_ethertype" else str(value)]
        for spec in self.partitions:
            cmd += ["--partition", spec]
        return cmd

    def start(self, timeout: float = 10) -> "TestHub":
        if self.log_path.exists():
            self.log_path.unlink()
        cmd = ["timeout", "-s", "KILL", str(int(self.hard_timeout))] + self.command()
        (self.workdir / "command.txt").write_text(shlex.join(cmd) + "\n")
        with open(self.workdir / "hub-output.log", "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=self.workdir, env=program_env(), start_new_session=True)
        _live.append(self)
        deadline = time.monotonic() + timeout
        while True:
            first = self.events("start")
            if first:
                self.base, self.control_port = first[0]["base"], first[0]["control_port"]
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise HubError("test hub did not start: " + self.output()[-2000:])
            time.sleep(0.02)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> dict | None:
        """Ends the hub (SIGTERM to its process group, SIGKILL after 5 s); returns its summary record."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            # SIGTERM to the leader (`timeout`), which relays it to the hub and exits with the hub's
            # status (a SIGTERM to the whole group would end `timeout` itself with -15).
            for kill, sig, wait in ((os.kill, signal.SIGTERM, 5), (os.killpg, signal.SIGKILL, None)):
                try:
                    kill(self.proc.pid, sig)
                    self.proc.wait(timeout=wait)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self in _live:
            _live.remove(self)
        summaries = self.events("summary")
        return summaries[-1] if summaries else None

    def __enter__(self) -> "TestHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- what Bochs needs -----------------------------------------------------------------------
    def ethdev(self, port: int) -> int:
        """The `ethdev=` of the Bochs NIC on hub port `port` (Bochs binds it, sends to ethdev+1)."""
        if self.base is None:
            raise HubError("start() the hub first: the base port is chosen then")
        return self.base + 2 * port

    def e1000(self, port: int, mac: str, card: int = 0) -> str:
        return f"e1000: card={card}, enabled=1, mac={mac}, ethmod=socket, ethdev={self.ethdev(port)}"

    # --- control channel ------------------------------------------------------------------------
    def control(self, cmd: str, timeout: float = 5, **args) -> dict:
        """Sends {"cmd": cmd, **args}; returns the reply, raising HubError if it is not ok."""
        return self.control_raw(json.dumps({"cmd": cmd, **args}).encode(), timeout, check=True)

    def control_raw(self, payload: bytes, timeout: float = 5, check: bool = False) -> dict:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(payload, (self.host, self.control_port))
            reply = json.loads(s.recv(65536))
        if check and not reply.get("ok"):
            raise HubError(f"hub refused {payload[:200]!r}: {reply.get('error')}")
        return reply

    def set(self, **faults) -> dict:
        return self.control("set", **faults)

    def partition(self, spec: str | None = None, at: float | None = None, after: float | None = None) -> dict:
        return self.control("partition", on=True, spec=spec, at=at, after=after)

    def heal(self, spec: str | None = None, at: float | None = None, after: float | None = None) -> dict:
        return self.control("partition", on=False, spec=spec, at=at, after=after)

    def stats(self) -> dict:
        return self.control("stats")

    def mark(self, text: str) -> dict:
        return self.control("mark", text=text)

    # --- the log --------------------------------------------------------------------------------
    def events(self, *kinds: str) -> list[dict]:
        """Log records (all, or those whose "ev" is one of `kinds`); a partly written last line is skipped."""
        try:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not kinds or record.get("ev") in kinds:
                out.append(record)
        return out

    def output(self) -> str:
        try:
            return (self.workdir / "hub-output.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
