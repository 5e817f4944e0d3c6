"""Issue 18's compatibility matrix: Debian's stock kernel boots clean under tandem on every Bochs
CPU model that has EPT, and so does a second Debian kernel configuration (the cloud kernel, booted
from its bzImage). Each cell is a short boot, with the default guest command line plus the test
initramfs' power-off, to userspace with virtio-net up, then the guest's own ACPI power-off.

Judged by the guest's own kernel log (no WARNING, call trace, unexpected MSR fault, clocksource or
timer complaint: test_linux_bochs.KERNEL_TROUBLE; the TSC kept as clocksource without
tsc=reliable; the RTC found), its init's lines (the kernel it runs, eth0 configured) and the
power-off tandem saw; plus, per model, the capability line naming the dirty tracking the model
allows (what makes the cell that model). Bochs runs with `clock: sync=none` (deterministic, and
the fastest: an idle guest's timers do not wait for the host's clock)."""

from __future__ import annotations

import os
import re
import unittest

from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import POWERED_OFF
from tandem_lab.netns import ClientNetwork
from tandem_lab.paths import workdir
from test_linux_bochs import ASSETS, GUEST_MAC, LinuxTestCase, linux_iso

PML = "PML (page-modification logging)"
DIRTY_BITS = "EPT dirty bits (no PML)"
WRITE_PROTECTION = "EPT write-protection (no EPT A/D bits)"
STEP = 600  # one boot on a loaded CI machine, with room

# The default guest command line (arch-x86_64/boot/linux_guest.cpp) and the initramfs' power-off a second after userspace.
CMDLINE = "console=ttyS0 nokaslr tandem.poweroff=1"


class MatrixCase(LinuxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if os.geteuid() != 0:
            raise AssertionError("the matrix boots with a client NIC in a network namespace: it needs root")
        if not (ASSETS / "cloud" / "bzImage").exists():
            raise AssertionError(f"{ASSETS / 'cloud'} is missing: run tests/guests/linux/fetch_assets.sh")

    def cell(self, cpu: str, tracking: str, kernel: str = "vmlinux", initrd: str = "initramfs.cpio.gz") -> None:
        name = f"matrix-{cpu}-{kernel.replace('/', '-')}"
        with self.subTest(cpu=cpu, kernel=kernel):
            wd = workdir(name)
            with ClientNetwork(taps=1) as net:
                iso = linux_iso(wd, kernel, CMDLINE, extra=f"guest_mac={GUEST_MAC}", initrd=initrd)
                m = Bochs(wd, iso, cpu=cpu, sync="none", megs=512, hard_timeout=STEP + 60, prefix=net.prefix(),
                          nics=[net.e1000(0, "52:54:00:00:02:01", card=0)])
                with m:
                    m.wait_for(re.escape(POWERED_OFF), STEP)
            console = m.tandem_console()
            ad, pml = {PML: ("yes", "yes"), DIRTY_BITS: ("yes", "no"), WRITE_PROTECTION: ("no", "no")}[tracking]
            self.assertIn(f"vmx: VT-x yes, EPT yes, EPT A/D {ad}, PML {pml}", console)
            self.assertIn(f"vmx: usable; dirty tracking available: {tracking}", console)
            lines = self.check_clean_kernel_log(console)
            self.assertRegex(console, r"(?m)^guest: tandem-guest: userspace ready: eth0 10\.0\.2\.15/24")
            self.assertNotRegex(console, r"tandem-guest: cannot load")
            self.assertIn("tandem-guest: powering off", console)
            running = next(line for line in lines if "init running on Linux" in line)
            print(f"{cpu:26} {kernel:14} clean; {running.split('init running on ')[1]}; "
                  f"{len(lines)} guest lines", flush=True)


class PmlModels(MatrixCase):
    def test_linux_boots_clean_on_the_pml_models(self):
        self.cell("corei7_skylake_x", PML)
        self.cell("tigerlake", PML)  # PKU: the XSAVE leaves must agree (the WARNINGs issue 18 found)
        self.cell("corei7_icelake_u", PML)


class DirtyBitModels(MatrixCase):
    def test_linux_boots_clean_on_the_models_with_ept_dirty_bits_but_no_pml(self):
        self.cell("broadwell_ult", DIRTY_BITS)
        self.cell("corei7_haswell_4770", DIRTY_BITS)
        self.cell("corei3_cnl", DIRTY_BITS)


class WriteProtectionModels(MatrixCase):
    def test_linux_boots_clean_on_the_models_without_ept_ad_bits(self):
        self.cell("corei7_ivy_bridge_3770k", WRITE_PROTECTION)
        self.cell("corei7_sandy_bridge_2600k", WRITE_PROTECTION)


class CloudKernel(MatrixCase):
    """The second configuration: Debian's cloud kernel (bzImage: LZ4, decompressed by the guest)."""

    def test_the_cloud_kernel_boots_clean(self):
        self.cell("tigerlake", PML, kernel="cloud/bzImage", initrd="cloud/initramfs.cpio.gz")
        self.cell("corei7_sandy_bridge_2600k", WRITE_PROTECTION, kernel="cloud/bzImage",
                  initrd="cloud/initramfs.cpio.gz")


if __name__ == "__main__":
    unittest.main()
