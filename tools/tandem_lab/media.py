"""Boot media for one run: a GRUB ISO (tools/mkiso.sh) or a PXE tree (tools/mkpxe.sh) of tandem
with a given command line and modules."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tandem_lab.paths import REPO, image as built_image


def make_iso(out: Path, cmdline: str = "", modules: list[tuple[Path, str]] | None = None,
             image: Path | None = None, timeout: int = 0) -> Path:
    """A tandem ISO with this command line and modules (tools/mkiso.sh)."""
    image = image or built_image()
    cmd = [str(REPO / "tools/mkiso.sh"), "--image", str(image), "--out", str(out), f"--cmdline={cmdline}",
           "--timeout", str(timeout)]
    for path, name in modules or []:
        cmd += ["--module", str(path), name]
    subprocess.run(cmd, check=True)
    return out


def make_pxe_tree(out: Path, cmdline: str = "", image: Path | None = None, timeout: int = 0) -> Path:
    image = image or built_image()
    subprocess.run([str(REPO / "tools/mkpxe.sh"), "--image", str(image), "--out", str(out),
                    f"--cmdline={cmdline}", "--timeout", str(timeout)], check=True)
    return out
