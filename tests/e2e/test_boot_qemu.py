"""The boot paths under QEMU TCG (no VT-x): the GRUB ISO as a CD and as a raw disk (the USB-stick
case), GRUB over PXE, UEFI, and multiboot 1 through -kernel. Each must reach tandem's banner and
then its clear refusal, because TCG does not emulate VMX."""

from __future__ import annotations

import re
import unittest

from e2e_common import IMAGE32, iso_with
from tandem_lab.console_patterns import (BANNER, BOOT_TIMEOUT, CANNOT_START, HALTED, HALTED_LINE, I440FX_HOST_BRIDGE,
                                         PAGING_WX, PCI_MECHANISM1)
from tandem_lab.media import make_pxe_tree
from tandem_lab.paths import require_built, workdir
from tandem_lab.qemu import Qemu, ovmf_firmware

REFUSAL = CANNOT_START + "VT-x not available: CPUID.1:ECX.VMX[bit 5] is 0"
# QEMU's pc (i440fx) has no ACPI MCFG table (PCI_MECHANISM1); q35 has one for its ECAM window at 0xb0000000.
ECAM = "pci: ECAM at 0xb0000000 buses 0-255 (ACPI MCFG)"
# q35's functions on bus 0: MCH host bridge, VGA, e1000e, ICH9 LPC, SATA and SMBus.
Q35_FUNCTIONS = ["00:00.0 8086:29c0 class 06.00 (Host bridge)", "00:01.0 1234:1111 class 03.00 (VGA)",
                 "00:02.0 8086:10d3 class 02.00 (Ethernet)", "00:1f.0 8086:2918 class 06.01 (ISA bridge)",
                 "00:1f.2 8086:2922 class 01.06 (SATA)", "00:1f.3 8086:2930 class 0c.05 (SMBus)"]


class BootPaths(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_built()

    def check_reaches_refusal(self, console: str, protocol: str = "multiboot2"):
        self.assertRegex(console, "(?m)" + BANNER)
        self.assertIn(f"boot: {protocol} loader", console)
        self.assertIn(PAGING_WX, console)
        self.assertIn("vmx: VT-x no", console)
        self.assertIn(REFUSAL, console)
        self.assertTrue(console.rstrip().endswith(HALTED_LINE))

    def check_pci_through_ecam(self, console: str):
        """The boot report chose ECAM from the MCFG and listed q35's functions through it, all
        before the VT-x verdict that stops tandem under TCG."""
        self.assertIn(ECAM, console)
        self.assertNotIn("pci: configuration mechanism #1", console)
        self.assertNotIn("is malformed", console)
        listing = re.findall(r"(?m)^pci: (\S+ \S+ class \S+ \([^)]*\))", console)
        self.assertEqual(listing, Q35_FUNCTIONS, console)
        self.assertIn("pci: 6 function(s) on 1 bus(es)", console)
        before_verdict = console[:console.index("vmx: VT-x no")]
        self.assertIn(ECAM, before_verdict)
        self.assertIn("pci: 00:1f.3 ", before_verdict)

    def test_iso_as_cdrom(self):
        wd, iso = iso_with("qemu-cdrom", "epoch_ms=40")
        console = Qemu(wd, boot="cdrom", iso=iso).run_until(HALTED, BOOT_TIMEOUT)
        self.check_reaches_refusal(console)
        self.assertIn("epoch_ms=40", console)
        self.assertIn(PCI_MECHANISM1, console)  # i440fx: no MCFG
        self.assertNotIn("pci: ECAM", console)
        self.assertRegex(console, I440FX_HOST_BRIDGE)

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
            ovmf_firmware()
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

    def test_q35_ecam(self):
        """q35 with SeaBIOS: GRUB passes the ACPI 1.0 RSDP; its RSDT lists the MCFG."""
        wd, iso = iso_with("qemu-q35", "epoch_ms=46")
        console = Qemu(wd, boot="cdrom", iso=iso, machine="q35").run_until(HALTED, BOOT_TIMEOUT)
        self.check_reaches_refusal(console)
        self.assertRegex(console, r'(?m)^acpi: RSDP revision 0 "BOCHS " from the boot loader; RSDT at 0x[0-9a-f]+ '
                                  r'lists \d+ tables; MCFG at 0x[0-9a-f]+$')
        self.check_pci_through_ecam(console)

    def test_q35_ecam_uefi(self):
        """q35 with OVMF: an ACPI 2.0 RSDP, so the walk goes through the XSDT."""
        wd, iso = iso_with("qemu-q35-uefi", "epoch_ms=47")
        console = Qemu(wd, boot="uefi", iso=iso, machine="q35").run_until(HALTED, BOOT_TIMEOUT)
        self.check_reaches_refusal(console)
        self.assertRegex(console, r'(?m)^acpi: RSDP revision 2 "BOCHS " from the boot loader; XSDT at 0x[0-9a-f]+ '
                                  r'lists \d+ tables; MCFG at 0x[0-9a-f]+$')
        self.check_pci_through_ecam(console)

    def test_q35_ecam_multiboot1(self):
        """q35 through -kernel: multiboot 1 passes no RSDP, so tandem finds it in the BIOS area."""
        wd = workdir("qemu-q35-kernel")
        console = Qemu(wd, boot="kernel", kernel=IMAGE32, append="epoch_ms=48", machine="q35").run_until(
            HALTED, BOOT_TIMEOUT)
        self.check_reaches_refusal(console, protocol="multiboot1")
        self.assertRegex(console, r'(?m)^acpi: RSDP revision 0 "BOCHS " at 0xf[0-9a-f]{4} \(BIOS area\); RSDT at ')
        self.check_pci_through_ecam(console)


if __name__ == "__main__":
    unittest.main()
