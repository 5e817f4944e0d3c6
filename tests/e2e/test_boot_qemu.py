"""The boot paths under QEMU TCG (no VT-x): the GRUB ISO as a CD and as a raw disk (the USB-stick
case), GRUB over PXE, UEFI, and multiboot 1 through -kernel. Each must reach tandem's banner and
then its clear refusal, because TCG does not emulate VMX."""

from __future__ import annotations

import re
import unittest

from e2e_common import (BOOT_TIMEOUT, HALTED, IMAGE32, Qemu, iso_with, make_pxe_tree, require_built,
                        tandem_emu, workdir)

BANNER = r"(?m)^tandem \d+\.\d+\.\d+ \(build [0-9a-f:]{23}\) - "
REFUSAL = "tandem: cannot start: VT-x not available: CPUID.1:ECX.VMX[bit 5] is 0"


class BootPaths(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_built()

    def check_reaches_refusal(self, console: str, protocol: str = "multiboot2"):
        self.assertRegex(console, BANNER)
        self.assertIn(f"boot: {protocol} loader", console)
        self.assertIn("paging: W^X host page tables active", console)
        self.assertIn("vmx: VT-x no", console)
        self.assertIn(REFUSAL, console)
        self.assertTrue(console.rstrip().endswith("tandem: halted"))

    def test_iso_as_cdrom(self):
        wd, iso = iso_with("qemu-cdrom", "epoch_ms=40")
        console = Qemu(wd, boot="cdrom", iso=iso).run_until(HALTED, BOOT_TIMEOUT)
        self.check_reaches_refusal(console)
        self.assertIn("epoch_ms=40", console)

    def test_iso_as_raw_disk(self):
        wd, iso = iso_with("qemu-disk", "epoch_ms=41")
        console = Qemu(wd, boot="disk", iso=iso).run_until(HALTED, BOOT_TIMEOUT)
        self.check_reaches_refusal(console)
        self.assertIn("epoch_ms=41", console)

    def test_pxe(self):
        wd = workdir("qemu-pxe")
        tree = make_pxe_tree(wd / "tftp", cmdline="epoch_ms=42")
        console = Qemu(wd, boot="pxe", tftp_dir=tree).run_until(HALTED, BOOT_TIMEOUT)
        self.check_reaches_refusal(console)
        self.assertIn("epoch_ms=42", console)

    def test_uefi(self):
        try:
            tandem_emu.ovmf_firmware()
        except FileNotFoundError as e:
            self.fail(str(e))  # the test command installs ovmf: its absence is an error, not a skip
        wd, iso = iso_with("qemu-uefi", "epoch_ms=43")
        console = Qemu(wd, boot="uefi", iso=iso).run_until(HALTED, BOOT_TIMEOUT)
        self.check_reaches_refusal(console)
        self.assertIn("epoch_ms=43", console)

    def test_multiboot1_kernel(self):
        wd = workdir("qemu-kernel")
        console = Qemu(wd, boot="kernel", kernel=IMAGE32, append="epoch_ms=44 role=backup").run_until(
            HALTED, BOOT_TIMEOUT)
        self.check_reaches_refusal(console, protocol="multiboot1")
        # QEMU puts the kernel's path first on a multiboot 1 command line; tandem skips it.
        self.assertIn("config: role=backup mode=standalone epoch_ms=44", console)
        self.assertRegex(console, r"(?m)^memory: 0x000000100000 - 0x[0-9a-f]{12} available")


if __name__ == "__main__":
    unittest.main()
