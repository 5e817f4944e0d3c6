"""Boot tandem from its GRUB ISO in Bochs (the machine with VT-x) and judge the serial console."""

from __future__ import annotations

import re
import subprocess
import unittest

from e2e_common import BUILD, iso_with
from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import (BANNER, BOOT_COMPLETE, BOOT_TIMEOUT, CANNOT_START, HALTED, HALTED_LINE,
                                         I440FX_HOST_BRIDGE, PAGING_WX, PCI_MECHANISM1)
from tandem_lab.mbi_dump import multiboot2_dump
from tandem_lab.media import make_iso
from tandem_lab.paths import require_built, workdir


def boot(name: str, cmdline: str = "", cpu: str = "corei7_skylake_x", modules=None) -> str:
    wd, iso = iso_with(name, cmdline, modules)
    return Bochs(wd, iso, cpu=cpu).run_until(HALTED, BOOT_TIMEOUT)


class SkylakeBoot(unittest.TestCase):
    """corei7_skylake_x: everything tandem needs, PML included. Boot with two modules and a
    quoted guest command line, dump the loader's information block, and check it all."""

    @classmethod
    def setUpClass(cls):
        require_built()
        cls.wd = workdir("bochs-skylake")
        cls.module_sizes = {"kernel": 5000, "initrd": 123457}
        modules = []
        for name, size in cls.module_sizes.items():
            path = cls.wd / f"{name}.bin"
            path.write_bytes(bytes((i * 7 + 3) & 0xFF for i in range(size)))
            modules.append((path, name))
        cmdline = 'dump_boot_info=1 epoch_ms=10 guest_mem=64M "guest_cmdline=console=ttyS0 quiet"'
        iso = make_iso(cls.wd / "tandem.iso", cmdline=cmdline, modules=modules)
        cls.console = Bochs(cls.wd, iso).run_until(HALTED, BOOT_TIMEOUT)

    def test_banner_with_version_and_build_id(self):
        self.assertRegex(self.console, re.compile(BANNER, re.M))

    def test_loader_and_command_line_reported(self):
        self.assertIn('boot: multiboot2 loader "GRUB 2.06', self.console)
        self.assertIn("config: role=primary mode=standalone epoch_ms=10 guest_mem=64 MiB", self.console)
        self.assertIn('guest_cmdline="console=ttyS0 quiet"', self.console)

    def test_memory_map_reported(self):
        regions = re.findall(r"^memory: 0x([0-9a-f]{12}) - 0x([0-9a-f]{12}) (\w[\w ]*?) \(", self.console, re.M)
        self.assertGreaterEqual(len(regions), 4, self.console)
        available = [(int(a, 16), int(b, 16)) for a, b, t in regions if t == "available"]
        # Bochs with 256 MiB: RAM from 1 MiB up to just under 256 MiB is available.
        self.assertTrue(any(a == 0x100000 and b > 250 << 20 for a, b in available), regions)

    def test_modules_reported_with_their_sizes(self):
        modules = re.findall(r"^module: 0x([0-9a-f]{8}) - 0x([0-9a-f]{8}) .* \"(\w+)\"$", self.console, re.M)
        found = {name: int(end, 16) - int(start, 16) for start, end, name in modules}
        self.assertEqual(found, self.module_sizes)
        self.assertIn("boot: 2 module(s)", self.console)

    def test_pci_through_mechanism1(self):
        """Bochs' i440fx has ACPI tables but no MCFG: configuration mechanism #1, said so, and the
        functions listed in the boot report, before the CPU check."""
        self.assertRegex(self.console, r'(?m)^acpi: RSDP revision \d "[^"]*" from the boot loader; RSDT at '
                                       r'0x[0-9a-f]+ lists \d+ tables; no MCFG$')
        self.assertIn(PCI_MECHANISM1, self.console)
        self.assertNotIn("pci: ECAM", self.console)
        before_cpu = self.console[:self.console.index("\ncpu: ")]
        self.assertRegex(before_cpu, I440FX_HOST_BRIDGE)

    def test_capabilities_show_ept_ad_and_pml(self):
        self.assertIn("vmx: VT-x yes, EPT yes, EPT A/D yes, PML yes, VPID yes, unrestricted guest yes", self.console)
        self.assertIn("dirty tracking available: PML", self.console)

    def test_w_x_paging_is_active(self):
        self.assertRegex(self.console, re.escape(PAGING_WX) + r": \d+ mappings")

    def test_boot_completes(self):
        self.assertIn(BOOT_COMPLETE, self.console)
        self.assertNotIn("cannot start", self.console)

    def test_bochs_screen_is_read(self):
        """The harness reads the terminal Bochs' term display draws into (tandem_emu.Bochs): unread,
        it fills in a few minutes and the whole emulated machine stops (issue 19). The BIOS banner
        was on the screen, so it is in screen.log (curses output). (GRUB's last line is not
        asserted: Bochs redraws the terminal on its own timer, and a 4-second boot may end before
        it draws that line; on a loaded host its first redraw may even come after GRUB cleared the
        BIOS banner, as in one clean-clone CI: the machine's screen text of either is proof.)"""
        screen = (self.wd / "screen.log").read_bytes()
        self.assertTrue(b"Bochs 2.7 BIOS" in screen or b"Booting `tandem'" in screen, screen[:500])

    def test_dumped_information_block_parses_to_what_tandem_reported(self):
        """The host parser (tools/mbi-inspect, same code as the image) reads the block GRUB built
        exactly as tandem did: same loader, command line, memory map and modules."""
        block = multiboot2_dump(self.console)
        path = self.wd / "mbi.bin"
        path.write_bytes(block)
        host = subprocess.run([str(BUILD / "tools" / "mbi-inspect"), str(path)], check=True,
                              capture_output=True, text=True).stdout
        ours = [l for l in self.console.splitlines() if l.startswith(("boot: multiboot2", "memory: 0x", "module: "))]
        theirs = [l for l in host.splitlines() if l.startswith(("boot: multiboot2", "memory: 0x", "module: "))]
        self.assertTrue(ours)
        self.assertEqual(ours, theirs)


class CpuModels(unittest.TestCase):
    """A Bochs CPU model without EPT is refused with the reason. (The models with EPT, each with the
    dirty tracking it allows, boot Debian's kernel in test_guest_matrix_bochs.)"""

    def test_penryn_without_ept_is_refused_clearly(self):
        console = boot("bochs-penryn", cpu="core2_penryn_t9600")
        self.assertIn("vmx: VT-x yes, EPT no", console)
        self.assertRegex(console, "(?m)^" + re.escape(CANNOT_START) + r"EPT not supported: .*enable EPT")
        self.assertNotIn("boot complete", console)


class BadCommandLine(unittest.TestCase):
    def test_unknown_key_and_bad_value_are_named(self):
        console = boot("bochs-bad-cmdline", cmdline="bogus=1 mode=fast epoch_ms=0")
        self.assertRegex(console, r"(?m)^config: unknown key 'bogus' \(known keys: role, mode, epoch_ms, ")
        self.assertIn("config: bad value 'fast' for mode (accepted: standalone, checkpoint, lockstep, migrate, linktest)",
                      console)
        self.assertIn("config: bad value '0' for epoch_ms (accepted: an integer from 1 to 10000)", console)
        self.assertIn(CANNOT_START + "bad command line", console)
        # Nothing past the refusal: tandem did not go on with defaults.
        self.assertNotIn("paging:", console)
        self.assertNotIn("vmx:", console)


class Selftests(unittest.TestCase):
    """Deliberate faults prove the exception report and the W^X page tables on the real image."""

    def fault(self, name: str) -> str:
        console = boot(f"bochs-selftest-{name}", cmdline=f"selftest={name}")
        self.assertIn(f"selftest: ", console)
        self.assertNotIn("the deliberate fault did not happen", console)
        self.assertRegex(console, r"(?m)^  rip 0x[0-9a-f]{16} cs 0x0000000000000008")
        self.assertRegex(console, r"(?m)^  rax 0x[0-9a-f]{16} rbx 0x[0-9a-f]{16} rcx")
        self.assertRegex(console, r"(?m)^  cr0 0x[0-9a-f]{16} cr2")
        self.assertTrue(console.rstrip().endswith(HALTED_LINE))
        return console

    def test_write_to_text_faults(self):
        console = self.fault("write-text")
        target = re.search(r"writing to hypervisor text at (0x[0-9a-f]+)", console).group(1)
        self.assertRegex(console, r"EXCEPTION #PF \(page fault, vector 14\)")
        self.assertIn("[protection-violation write supervisor]", console)
        self.assertIn(f"at address 0x{int(target, 16):016x}", console)

    def test_execute_from_data_faults(self):
        console = self.fault("exec-data")
        target = re.search(r"executing hypervisor data at (0x[0-9a-f]+)", console).group(1)
        self.assertIn("[protection-violation read supervisor instruction-fetch]", console)
        self.assertIn(f"at address 0x{int(target, 16):016x}", console)
        self.assertRegex(console, rf"(?m)^  rip 0x{int(target, 16):016x}")

    def test_null_pointer_faults(self):
        console = self.fault("null-deref")
        self.assertIn("[not-present read supervisor] at address 0x0000000000000000", console)

    def test_invalid_opcode_is_reported(self):
        console = self.fault("invalid-opcode")
        self.assertIn("EXCEPTION #UD (invalid opcode, vector 6)", console)


if __name__ == "__main__":
    unittest.main()
