"""Where things are: the repository, tandem's build directory (TANDEM_BUILD, default build/) and
what the harness needs from it, and the one place a run's work directory is made."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"


def build_dir() -> Path:
    return Path(os.environ.get("TANDEM_BUILD", REPO / "build")).resolve()


def image() -> Path:
    """tandem.elf, the image the ISOs and PXE trees boot."""
    return build_dir() / "tandem.elf"


def guests_dir() -> Path:
    """The bare-metal test guests (tests/guests), built as <name>.elf."""
    return build_dir() / "guests"


def require_built() -> None:
    if not image().exists():
        raise SystemExit(f"{image()} is missing: build first (./run-tests.sh does)")


def workdir(name: str) -> Path:
    """A fresh directory for one run's files under build/e2e/ (kept afterwards for inspection)."""
    path = build_dir() / "e2e" / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
