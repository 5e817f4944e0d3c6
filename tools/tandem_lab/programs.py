"""The package's command-line programs (tandem_lab.cli.*) as commands for subprocesses the harness
starts: the hub, the counter client. The child runs `python3 -m tandem_lab.cli.NAME` with tools/
first on its PYTHONPATH, so it finds the package whatever its working directory and however this
process found it."""

from __future__ import annotations

import os
import sys

from tandem_lab.paths import TOOLS


def program(name: str) -> list[str]:
    """The command that runs tandem_lab.cli.<name> (arguments go after it); start it with env=program_env()."""
    return [sys.executable, "-m", f"tandem_lab.cli.{name}"]


def program_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with tools/ first on PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(TOOLS)]
    env["PYTHONPATH"] = os.pathsep.join([str(TOOLS)] + rest)
    return env
