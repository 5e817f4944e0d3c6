"""Shared set-up for the end-to-end tests: paths, per-test work directories, ISO variants."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "emulator"))

import tandem_emu  # noqa: E402  (path set up above)
from tandem_emu import Bochs, Qemu, make_iso, make_pxe_tree, multiboot2_dump  # noqa: E402,F401

BUILD = tandem_emu.build_dir()
IMAGE = BUILD / "tandem.elf"
IMAGE32 = BUILD / "tandem32.elf"

# Bounds for one boot to tandem's verdict. Bochs reaches it in ~3-5 s here; the margin covers a
# loaded CI machine. These are deadlines, not performance assertions.
BOOT_TIMEOUT = 90
HALTED = r"^tandem: halted$"


def workdir(name: str) -> Path:
    """A fresh directory for one test's files (kept after the run for inspection)."""
    path = BUILD / "e2e" / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def iso_with(name: str, cmdline: str = "", modules: list[tuple[Path, str]] | None = None) -> tuple[Path, Path]:
    """(workdir, iso) for a test that needs its own command line or modules."""
    wd = workdir(name)
    return wd, make_iso(wd / "tandem.iso", cmdline=cmdline, modules=modules)


def require_built() -> None:
    if not IMAGE.exists():
        raise SystemExit(f"{IMAGE} is missing: build first (./run-tests.sh does)")
