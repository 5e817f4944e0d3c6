"""The VMX core on Bochs: test guests entered in each mode, run to completion or stopped with a
report, on CPU models with and without PML and EPT A/D bits. Judged by the serial console: what
the guest printed, what tandem reported, and tandem's image hash against the ELF file."""

from __future__ import annotations

import re
import unittest

from e2e_common import GUESTS, IMAGE, image_load_address, image_text_rodata_hash, memwalk_checksum, run_guest
from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import (BOOT_TIMEOUT, CANNOT_START_GUEST, GUEST_STOPPED, HALTED, HALTED_LINE,
                                         guest_exited)
from tandem_lab.media import make_iso
from tandem_lab.paths import require_built, workdir

EXITED_0 = guest_exited(0)


def hashes(console: str) -> tuple[int, int]:
    before = int(re.search(r"image hash before the guest: (0x[0-9a-f]{16})", console).group(1), 16)
    after = int(re.search(r"image hash after the guest: (0x[0-9a-f]{16})", console).group(1), 16)
    return before, after


class GuestModes(unittest.TestCase):
    """hello in 64-bit long mode, 32-bit protected mode (paging off) and real mode."""

    @classmethod
    def setUpClass(cls):
        require_built()

    def test_long_mode(self):
        console = run_guest("vmx-hello64", "hello", guest_cmdline="exit=5", guest_mem="32M")
        self.assertIn("entry 0x100000 in 64-bit long mode, 32 MiB of RAM", console)
        self.assertIn("guest: hello from the guest (64-bit)", console)
        self.assertIn("guest: hello: RAM 32 MiB", console)
        self.assertIn("guest (hypercall): hello through the print hypercall", console)
        self.assertIn(guest_exited(5), console)
        self.assertTrue(console.rstrip().endswith(HALTED_LINE))

    def test_protected_mode(self):
        console = run_guest("vmx-hello32", "hello32")
        self.assertIn("in 32-bit protected mode", console)
        self.assertIn("guest: hello from the guest (32-bit)", console)
        self.assertIn("guest: hello: RAM 16 MiB", console)
        self.assertIn(EXITED_0, console)

    def test_real_mode(self):
        console = run_guest("vmx-hello16", "hello16", cmdline="guest_entry=real")
        self.assertIn("entry 0x10000 in real mode", console)
        self.assertIn("guest: hello from the guest (real mode)", console)
        self.assertIn("guest (hypercall): hello through the print hypercall", console)
        self.assertIn(EXITED_0, console)


class Memwalk(unittest.TestCase):
    """memwalk's checksum equals the one computed here; on every dirty-tracking class of CPU."""

    def check(self, name: str, cpu: str, pages: int, passes: int, pattern: int):
        console = run_guest(name, "memwalk", cpu=cpu, guest_mem="32M",
                            guest_cmdline=f"pages={pages} passes={passes} pattern={pattern:#x}")
        m = re.search(r"guest: memwalk: pages=(\d+) passes=(\d+) pattern=(0x[0-9a-f]+) base=0x400000 "
                      r"checksum=(0x[0-9a-f]+)", console)
        self.assertIsNotNone(m, console)
        self.assertEqual((int(m.group(1)), int(m.group(2)), int(m.group(3), 16)), (pages, passes, pattern))
        self.assertEqual(int(m.group(4), 16), memwalk_checksum(pages, passes, pattern))
        self.assertIn(EXITED_0, console)
        return console

    def test_skylake_pml(self):
        console = self.check("vmx-memwalk-skylake", "corei7_skylake_x", 300, 2, 0x1234)
        self.assertIn("PML yes", console)

    def test_haswell_no_pml(self):
        console = self.check("vmx-memwalk-haswell", "corei7_haswell_4770", 200, 1, 0xFEEDFACE)
        self.assertIn("EPT A/D yes, PML no", console)

    def test_ivy_bridge_no_ad_bits(self):
        console = self.check("vmx-memwalk-ivy", "corei7_ivy_bridge_3770k", 200, 3, 0x77)
        self.assertIn("EPT A/D no, PML no", console)


class Escape(unittest.TestCase):
    """The guest cannot reach tandem's memory or the machine's devices."""

    def test_write_beyond_ram_is_stopped_and_tandem_is_untouched(self):
        tandem_at = image_load_address()
        console = run_guest("vmx-escape-write", "escape",
                            guest_cmdline=f"show={tandem_at:#x} fill={tandem_at:#x} write=0x8000000")
        # At tandem's host-physical address the guest sees its own (zeroed) RAM, not tandem.
        self.assertIn(f"guest: escape: show {tandem_at:#x} = 0x0", console)
        self.assertIn(f"guest: escape: filled 4 KiB at {tandem_at:#x}", console)
        self.assertNotIn("ESCAPED", console)
        self.assertIn("vm: guest stopped: EPT violation", console)
        self.assertIn("vm:   guest-physical address 0x8000000 (write)", console)
        self.assertRegex(console, r"vm:   instruction bytes at guest-physical 0x[0-9a-f]+: [0-9a-f]{2}(:[0-9a-f]{2})+")
        self.assertIn(GUEST_STOPPED + "EPT violation", console)
        before, after = hashes(console)
        self.assertEqual(before, after)
        self.assertEqual(before, image_text_rodata_hash(IMAGE), "tandem's text/rodata differ from the ELF file")
        self.assertTrue(console.rstrip().endswith(HALTED_LINE))

    def test_device_memory_read_is_stopped(self):
        console = run_guest("vmx-escape-lapic", "escape", guest_cmdline="read=0xfee00000")
        self.assertIn("vm:   guest-physical address 0xfee00000 (read)", console)
        self.assertIn(GUEST_STOPPED + "EPT violation", console)
        self.assertNotIn("ESCAPED", console)
        self.assertEqual(*hashes(console))

    def test_read_beyond_ram_in_host_ram_is_stopped(self):
        # 16 MiB guest on a 256 MiB machine: 0x0c000000 is host RAM, never the guest's.
        console = run_guest("vmx-escape-read", "escape", guest_cmdline="read=0xc000000")
        self.assertIn("vm:   guest-physical address 0xc000000 (read)", console)
        self.assertNotIn("ESCAPED", console)


class Probe(unittest.TestCase):
    """What the guest sees of the CPU and machine."""

    @classmethod
    def setUpClass(cls):
        require_built()
        cls.console = run_guest("vmx-probe", "probe")
        cls.facts = dict(re.findall(r"^guest: probe: ([\w.]+)=(.*)$", cls.console, re.M))

    def test_probe_completed(self):
        self.assertIn("guest: probe: done", self.console)
        self.assertIn(EXITED_0, self.console)

    def test_vmx_hidden_and_hypervisor_leaf_present(self):
        self.assertEqual(self.facts["cpuid.1.ecx.vmx"], "0")
        self.assertEqual(self.facts["cpuid.1.ecx.hypervisor"], "1")
        self.assertEqual(self.facts["cpuid.40000000.max_leaf"], "0x40000010")
        self.assertEqual(self.facts["cpuid.40000000.signature"], "TandemHyperV")
        tsc = int(re.search(r"time: TSC runs at (\d+) kHz", self.console).group(1))
        self.assertEqual(int(self.facts["cpuid.40000010.tsc_khz"]), tsc)
        self.assertGreater(tsc, 0)

    def test_single_cpu_without_pmu_or_machine_check(self):
        self.assertEqual(self.facts["cpuid.1.ebx.logical_processors"], "1")
        self.assertEqual(self.facts["cpuid.a.eax"], "0x0")
        self.assertEqual(self.facts["cpuid.1.edx.mce"], "0")

    def test_msrs(self):
        self.assertEqual(self.facts["rdmsr.feature_control.outcome"], "ok")
        self.assertEqual(self.facts["rdmsr.feature_control"], "0x1")
        self.assertEqual(self.facts["rdmsr.12345678.outcome"], "#GP")
        self.assertEqual(self.facts["wrmsr.12345678.outcome"], "#GP")
        self.assertIn("vm: guest read MSR 0x12345678, which tandem does not provide: #GP injected", self.console)

    def test_ports(self):
        self.assertEqual(self.facts["in.2f8"], "0xff")
        self.assertEqual(self.facts["uart.scratch"], "0xa5")
        self.assertIn("vm: guest read port 0x02f8: no device there", self.console)

    def test_vmx_instructions_and_cr4_vmxe(self):
        self.assertEqual(self.facts["vmxon.outcome"], "#UD")
        self.assertEqual(self.facts["cr4.vmxe_visible"], "0")
        self.assertEqual(self.facts["cr4.set_vmxe.outcome"], "#GP")

    def test_xsetbv(self):
        self.assertEqual(self.facts["cpuid.1.ecx.osxsave_after_cr4"], "1")
        self.assertEqual(self.facts["xsetbv.3.outcome"], "ok")
        self.assertEqual(self.facts["xgetbv"], "0x3")
        self.assertEqual(self.facts["xsetbv.0.outcome"], "#GP")

    def test_hypercalls(self):
        self.assertEqual(self.facts["hypercall.clock_nonzero"], "1")
        self.assertEqual(self.facts["hypercall.unknown"], "0xffffffffffffffff")


class StoppingExits(unittest.TestCase):
    """Exits tandem does not handle, and ones that end a guest, each triggered on purpose: the
    guest stops with a full report and tandem keeps running to its own orderly halt."""

    def stopped(self, action: str) -> str:
        console = run_guest(f"vmx-exit-{action}", "exits32", guest_cmdline=action)
        self.assertNotIn("still running after the action", console)
        self.assertRegex(console, r"(?m)^vm:   rip 0x[0-9a-f]{16} cs 0x0008 .*\[protected mode\]$")
        self.assertRegex(console, r"(?m)^vm:   rax 0x[0-9a-f]{16} rcx 0x[0-9a-f]{16} rdx")
        self.assertRegex(console, r"(?m)^vm:   instruction bytes at guest-physical 0x[0-9a-f]+: ")
        self.assertEqual(*hashes(console))
        self.assertTrue(console.rstrip().endswith(HALTED_LINE))
        return console

    def test_task_switch_is_unhandled(self):
        console = self.stopped("taskswitch")
        self.assertIn("vm: guest stopped: unhandled VM exit", console)
        self.assertIn("vm:   exit reason 9 (task switch)", console)
        # The far jump: ea (ljmp ptr16:32).
        self.assertRegex(console, r"instruction bytes at guest-physical 0x[0-9a-f]+: ea:")

    def test_triple_fault(self):
        console = self.stopped("triplefault")
        self.assertIn("vm:   exit reason 2 (triple fault)", console)
        self.assertIn(GUEST_STOPPED + "triple fault", console)

    def test_halt_with_nothing_to_wake_it(self):
        console = self.stopped("hlt")
        self.assertIn("vm:   exit reason 12 (HLT)", console)
        self.assertIn(GUEST_STOPPED + "the guest halted (HLT) and no device can wake it", console)

    def test_string_io_is_not_emulated(self):
        console = self.stopped("stringio")
        self.assertIn("vm:   exit reason 30 (I/O instruction)", console)
        self.assertIn("string I/O (INS/OUTS) is not emulated", console)


class BadGuests(unittest.TestCase):
    def test_missing_module_is_named(self):
        wd = workdir("vmx-missing-module")
        iso = make_iso(wd / "tandem.iso", cmdline="guest_kernel=nope", modules=[(GUESTS / "hello.elf", "hello")])
        console = Bochs(wd, iso).run_until(HALTED, BOOT_TIMEOUT)
        self.assertIn(CANNOT_START_GUEST + "no module named 'nope' (modules given: 'hello')", console)

    def test_malformed_image_is_refused(self):
        wd = workdir("vmx-bad-elf")
        junk = wd / "junk.bin"
        junk.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
        iso = make_iso(wd / "tandem.iso", cmdline="guest_kernel=junk", modules=[(junk, "junk")])
        console = Bochs(wd, iso).run_until(HALTED, BOOT_TIMEOUT)
        self.assertRegex(console, re.escape(CANNOT_START_GUEST) + "its image: elf: ")
        self.assertNotIn("vm: EPT", console)


if __name__ == "__main__":
    unittest.main()
