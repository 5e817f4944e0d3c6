"""Regenerates the unit-test fixtures that come from the emulator (not run by the test suite):

  tests/unit/fixtures/mbi_grub_bochs.hex   a multiboot 2 block as GRUB built it, booting tandem.iso
                                           in Bochs with two modules (tandem's dump_boot_info=1)
  tests/unit/fixtures/vmx_msrs_bochs.txt   the VMX capability MSRs of Bochs' CPU models, as
                                           tandem's boot report prints them

    PYTHONPATH=tools python3 tests/e2e/capture_fixtures.py      (after a build; TANDEM_BUILD selects the build)

The SkylakeBoot end-to-end test re-captures the block on every run and checks that the host
parser reads it exactly as tandem did, so the committed fixture stays representative."""

from __future__ import annotations

import re
import sys

from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import BOOT_TIMEOUT, HALTED, MBI_DUMP_BEGIN
from tandem_lab.mbi_dump import multiboot2_dump
from tandem_lab.media import make_iso
from tandem_lab.paths import REPO, require_built, workdir

FIXTURES = REPO / "tests" / "unit" / "fixtures"
CPU_MODELS = ["corei7_skylake_x", "tigerlake", "broadwell_ult", "corei7_haswell_4770", "corei7_ivy_bridge_3770k",
              "core2_penryn_t9600"]


def capture_block() -> None:
    wd = workdir("capture-mbi")
    modules = []
    for name, size in (("kernel", 5000), ("initrd", 123457)):
        path = wd / f"{name}.bin"
        path.write_bytes(bytes((i * 31 + 7) & 0xFF for i in range(size)))
        modules.append((path, name))
    iso = make_iso(wd / "tandem.iso", modules=modules,
                   cmdline='dump_boot_info=1 mode=standalone "guest_cmdline=console=ttyS0 quiet"')
    console = Bochs(wd, iso).run_until(HALTED, BOOT_TIMEOUT)
    block = multiboot2_dump(console)
    at = re.search(re.escape(MBI_DUMP_BEGIN) + r"\d+ at (0x[0-9a-f]+)", console).group(1)
    lines = [
        "# A multiboot 2 information block as GRUB 2.06 (Debian 12) built it, booting tandem.iso in Bochs 2.7",
        "# (corei7_skylake_x, 256 MiB) with two modules; captured from tandem's 'dump_boot_info=1' output by",
        f"# tests/e2e/capture_fixtures.py. Physical address: {at}.",
    ]
    lines += [block[i:i + 32].hex() for i in range(0, len(block), 32)]
    (FIXTURES / "mbi_grub_bochs.hex").write_text("\n".join(lines) + "\n")


def capture_msrs() -> None:
    wd = workdir("capture-msrs")
    iso = make_iso(wd / "tandem.iso")
    lines = [
        "# IA32 VMX capability MSR values as tandem read them at boot under Bochs 2.7 (Debian 2.7+dfsg-4),",
        "# one CPU model per line: the 'vmx: msrs' line of the boot report. Regenerate with",
        "# tests/e2e/capture_fixtures.py.",
    ]
    for cpu in CPU_MODELS:
        console = Bochs(workdir(f"capture-msrs-{cpu}"), iso, cpu=cpu).run_until(HALTED, BOOT_TIMEOUT)
        msrs = re.search(r"^vmx: msrs (.*)$", console, re.M).group(1)
        lines.append(f"{cpu} {msrs}")
    (FIXTURES / "vmx_msrs_bochs.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    require_built()
    capture_block()
    capture_msrs()
    print(f"fixtures written to {FIXTURES}", file=sys.stderr)
