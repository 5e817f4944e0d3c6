"""Two Bochs machines in mode=linktest (issue 5) on the fault-injecting test hub, for the link's
end-to-end tests and its benchmark: boot both with their command lines, wait until each has
finished (complete, refused or halted), and return both consoles and the hub's summary."""

from __future__ import annotations

from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import LINKTEST_DONE
from tandem_lab.media import make_iso
from tandem_lab.paths import workdir
from tandem_lab.testhub import TestHub

KEY = "5a" * 32


def pair(name: str, commands: tuple[str, str], timeout: float, modules=((), ()), **faults) -> tuple[str, str, dict]:
    """Boots primary and backup with the given extra command lines on a hub; returns consoles."""
    wd = workdir(name)
    hub = TestHub(wd / "hub", ports=2, seed=11, hard_timeout=timeout + 60, **faults).start()
    machines = []
    try:
        for i, (role, extra) in enumerate(zip(("primary", "backup"), commands)):
            iso = make_iso(wd / f"{role}.iso", cmdline=f"mode=linktest role={role} {extra}", modules=list(modules[i]))
            m = Bochs(wd / role, iso, sync="slowdown", hard_timeout=timeout + 30,
                      nics=[hub.e1000(i, f"52:54:00:00:01:0{i + 1}")])
            machines.append(m.start())
        for m in machines:
            m.wait_for(LINKTEST_DONE, timeout)
    finally:
        for m in machines:
            m.stop()
        summary = hub.stop()
    return machines[0].tandem_console(), machines[1].tandem_console(), summary or {}
