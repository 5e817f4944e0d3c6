"""Local loopback checkpointing on Bochs (mode=checkpoint peer=local): memwalk runs many passes
over a working set larger than one epoch's writes while every 10 ms epoch is captured, encoded,
decoded and applied to a backup image. Judged by the console: the primary's and the backup's
memory and CPU-state digests at verified epochs (and at the end) must be equal, memwalk's
checksum must equal the one computed here, and after failover_at= the guest must finish from the
backup image with the same checksum."""

from __future__ import annotations

import json
import re
import sys
import unittest
from pathlib import Path

from e2e_common import GUESTS, memwalk_checksum, run_guest
from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import BOOT_TIMEOUT, CONSOLE_READY, HALTED, guest_exited
from tandem_lab.media import make_iso
from tandem_lab.paths import require_built, workdir

PAGES, PASSES = 300, 3
GUEST_CMDLINE = f"pages={PAGES} passes={PASSES}"
METHOD_TEXT = {"pml": "PML", "ad": "EPT dirty-bit scan", "wp": "EPT write-protection"}
CPU_FOR = {"pml": "corei7_skylake_x", "ad": "corei7_haswell_4770", "wp": "corei7_ivy_bridge_3770k"}
VERIFY = re.compile(r"^checkpoint: verify epoch (\d+): primary memory (0x[0-9a-f]{16}) state (0x[0-9a-f]{16}); "
                    r"backup memory (0x[0-9a-f]{16}) state (0x[0-9a-f]{16}): (\w+)$", re.M)


def checkpointed_memwalk(name: str, method: str, capture: str, extra: str = "") -> str:
    return run_guest(name, "memwalk", cpu=CPU_FOR[method], guest_mem="16M", guest_cmdline=GUEST_CMDLINE,
                     cmdline=f"mode=checkpoint peer=local epoch_ms=10 capture={capture} {extra}".strip())


class Checkpointing(unittest.TestCase):
    """Each dirty-tracking method on the CPU model that has it as its best, with both captures.
    Beside tandem's own verification (memory hash and state digest, primary against backup), the
    evidence from outside: every 3rd epoch the running guest is put back to what the backup image
    committed (restore_every=3: its vCPU, devices and the epoch's pages come from the image), so
    the guest's own checksum of the data it wrote, computed at its end, is right only if the
    backup image held exactly what the guest had."""

    @classmethod
    def setUpClass(cls):
        require_built()

    def check_run(self, method: str, capture: str):
        console = checkpointed_memwalk(f"ckpt-{method}-{capture}", method, capture, "verify_every=10 restore_every=3")
        self.assertIn(f"dirty tracking by {METHOD_TEXT[method]}", console)
        self.assertIn("capture by " + ("copy-on-write" if capture == "cow" else "copy during the pause"), console)
        self.assertIn("EPT over 16 MiB of guest RAM in 1 chunk(s) with 4 KiB pages", console)
        checks = VERIFY.findall(console)
        self.assertGreaterEqual(len(checks), 4, console[-2000:])
        for epoch, primary_mem, primary_state, backup_mem, backup_state, verdict in checks:
            self.assertEqual(primary_mem, backup_mem, f"memory differs at epoch {epoch}")
            self.assertEqual(primary_state, backup_state, f"CPU state differs at epoch {epoch}")
        # The last verification is the final state, after the guest's exit hypercall.
        committed = re.search(r"checkpoint: (\d+) epochs committed \(last (\d+)\)", console)
        self.assertEqual(int(checks[-1][0]), int(committed.group(2)))
        m = re.search(r"guest: memwalk: .* checksum=(0x[0-9a-f]+)", console)
        self.assertEqual(int(m.group(1), 16), memwalk_checksum(PAGES, PASSES))
        self.assertIn(guest_exited(0), console)
        restores = re.search(r"^checkpoint: (\d+) restores from the backup image", console, re.M)
        self.assertIsNotNone(restores, console[-2000:])
        self.assertGreaterEqual(int(restores.group(1)), int(committed.group(1)) // 3 - 1)
        if capture == "cow":
            self.assertRegex(console, r"\d+ copy-on-write copies")
        return console

    def test_pml_cow(self):
        self.check_run("pml", "cow")

    def test_pml_copy(self):
        self.check_run("pml", "copy")

    def test_ad_cow(self):
        self.check_run("ad", "cow")

    def test_ad_copy(self):
        self.check_run("ad", "copy")

    def test_wp_cow(self):
        self.check_run("wp", "cow")

    def test_wp_copy(self):
        self.check_run("wp", "copy")


class Failover(unittest.TestCase):
    """failover_at= stops the primary mid-run; the guest continues from the backup image."""

    def check_failover(self, method: str, capture: str, at: int):
        console = checkpointed_memwalk(f"failover-{method}-{capture}", method, capture, f"failover_at={at}")
        stopped = re.search(r"failover: primary stopped in epoch (\d+) .* backup committed epoch (\d+)", console)
        self.assertIsNotNone(stopped, console[-2000:])
        self.assertEqual(int(stopped.group(1)), at)
        committed = int(stopped.group(2))
        self.assertLess(committed, at)
        resumed = re.search(r"failover: the guest resumes from the backup's epoch (\d+) at rip (0x[0-9a-f]+) "
                            r"\(the primary was at (0x[0-9a-f]+)\)", console)
        self.assertEqual(int(resumed.group(1)), committed)
        # The guest finishes from the backup image with the right result and nothing after the
        # failover is checkpointed (no backup is left).
        m = re.search(r"guest: memwalk: .* checksum=(0x[0-9a-f]+)", console)
        self.assertIsNotNone(m, console[-2000:])
        self.assertEqual(int(m.group(1), 16), memwalk_checksum(PAGES, PASSES))
        self.assertIn(guest_exited(0), console)
        self.assertRegex(console, rf"checkpoint: \d+ epochs committed \(last {committed}\)")
        return console

    def test_failover_pml(self):
        self.check_failover("pml", "cow", 25)

    def test_failover_ad_copy(self):
        self.check_failover("ad", "copy", 30)

    def test_failover_wp(self):
        self.check_failover("wp", "cow", 20)  # the run is about 31 epochs long


def check_console_schema(test: unittest.TestCase, value: dict) -> None:
    """docs/console-schema.json, by python3-jsonschema (Debian's, also from another Python)."""
    try:
        import jsonschema
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        import jsonschema
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "console-schema.json").read_text())
    jsonschema.validate(value, schema)


class ConsoleFailover(unittest.TestCase):
    """The serial console's 'failover' command does what failover_at= does. The console starts on
    the guest's console; Ctrl-A c reaches tandem's shell (issue 16)."""

    def test_failover_command(self):
        wd = workdir("failover-console")
        iso = make_iso(wd / "tandem.iso", modules=[(GUESTS / "memwalk.elf", "memwalk")],
                       cmdline=f'guest_kernel=memwalk guest_mem=16M mode=checkpoint peer=local epoch_ms=10 '
                               f'"guest_cmdline=pages={PAGES} passes=6"')
        machine = Bochs(wd, iso, megs=512, interactive=True, hard_timeout=300)
        with machine:
            machine.wait_for(CONSOLE_READY, BOOT_TIMEOUT)
            machine.send("\x01c")
            machine.wait_for(r"^console: tandem's shell", 60)
            machine.send("status\r")
            machine.wait_for(r"^checkpoint: epoch \d+ in progress; backup committed epoch", 60)
            machine.send("status --json\r")
            status = json.loads(machine.wait_for(r'^\{"schema":1,"kind":"status".*\}$', 60).group(0))
            machine.send("nonsense\r")
            machine.wait_for(r"shell: unknown command 'nonsense'; commands: version log status failover help", 60)
            machine.send("failover\r")
            machine.wait_for(HALTED, 200)
            # The guest's output waited while the shell was shown; tandem halting shows it.
            machine.wait_for(r"^console: the guest's console[^\n]*\n(?:.*\n)*guest: memwalk: .* checksum=", 30)
            console = machine.tandem_console()
        self.assertIn("failover: requested on the console", console)
        check_console_schema(self, status)
        self.assertEqual((status["mode"], status["protection"], status["phase"]), ("checkpoint_local", "protected",
                                                                                  "running"))
        self.assertEqual(status["epoch"]["length_ms"], 10)
        self.assertLess(status["epoch"]["committed"], status["epoch"]["current"] + 1)
        stopped = re.search(r"failover: primary stopped in epoch (\d+) .* backup committed epoch (\d+)", console)
        self.assertIsNotNone(stopped, console[-2000:])
        self.assertLess(int(stopped.group(2)), int(stopped.group(1)))
        m = re.search(r"guest: memwalk: .* checksum=(0x[0-9a-f]+)", console)
        self.assertEqual(int(m.group(1), 16), memwalk_checksum(PAGES, 6))
        self.assertIn(guest_exited(0), console)


if __name__ == "__main__":
    unittest.main()
