"""Debian's stock kernel under tandem (issue 7, standalone): booted from its uncompressed vmlinux
and from its bzImage to the test initramfs' userspace, serving the counter service and HTTP on its
virtio-net card to real clients in a network namespace, and powering itself off through ACPI.
Judged by the guest's own console (its kernel log and its init's lines), the clients' results
checked against the assets' blob digest, and tandem's report of the guest's end.

The assets come from tests/guests/linux/fetch_assets.sh (the CTest fixture e2e.linux_assets runs it
first: Debian's packages fetched with apt, never installed)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
import time
import unittest

from e2e_common import BUILD
from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import CHECKPOINTING_FAILED, CONSOLE_READY, POWERED_OFF, TOOK_OVER, VIRTIO_NEEDS_RESET
from tandem_lab.media import make_iso
from tandem_lab.netns import ClientNetwork
from tandem_lab.pair_lab import PairLab
from tandem_lab.paths import require_built, workdir
from tandem_lab.programs import program, program_env
from test_pair_bochs import PairCase, seed_for

ASSETS = BUILD / "guest-assets"
GUEST_MAC = "52:54:00:12:34:56"

# What the kernel must never print under tandem: WARN_ON splats, MSR accesses it did not expect
# to fault, and clocksource or timer trouble.
KERNEL_TROUBLE = re.compile(
    r"WARNING: CPU:|Call Trace:|unchecked MSR access|BUG:|Oops|Kernel panic|"
    r"clocksource.*unstable|Marking TSC unstable|timekeeping watchdog|Unstable clock|"
    r"TSC.*(?:skew|not reliable)|APIC timer.*(?:disabled|broken)|hrtimer: interrupt took", re.I)


def guest_lines(console: str) -> list[str]:
    return [line[len("guest: "):] for line in console.splitlines() if line.startswith("guest: ")]


def linux_iso(wd, kernel: str, guest_cmdline: str, extra: str = "", initrd: str = "initramfs.cpio.gz"):
    cmdline = f'guest_kernel=linux guest_initrd=initrd guest_mem=128M {extra} "guest_cmdline={guest_cmdline}"'
    return make_iso(wd / "tandem.iso", cmdline, [(ASSETS / kernel, "linux"), (ASSETS / initrd, "initrd")])


class PacedDownload:
    """The 1 MiB blob fetched over HTTP from the guest by curl in the client namespace, paced by
    the client: a small TCP receive buffer and a reader taking `rate` bytes/s from curl, so the
    guest's sending follows the client's window and the transfer lasts as long as the test needs
    (unpaced, the guest's TCP sends the whole file in a few epochs, and curl's --limit-rate does not
    hold back a transfer this small). `hold_at(n)` stops reading at n bytes (the connection then
    waits on a closed window) until `release()`."""

    def __init__(self, net: ClientNetwork, rate: int = 128_000):
        subprocess.run(net.prefix() + ["sysctl", "-q", "-w", "net.ipv4.tcp_rmem=4096 32768 65536"], check=True)
        self.curl = subprocess.Popen(net.prefix() + ["curl", "--silent", "--show-error", "--max-time", "900", "-o", "-",
                                                     "-w", "%{stderr}connects=%{num_connects}\n",
                                                     "http://10.0.2.15/blob.bin"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.data = bytearray()
        self.rate = rate
        self.limit = 1 << 30
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            while len(self.data) >= self.limit:
                time.sleep(0.05)
            chunk = self.curl.stdout.read1(min(16384, self.limit - len(self.data)))
            if not chunk:
                return
            self.data.extend(chunk)
            time.sleep(len(chunk) / self.rate)

    def received(self) -> int:
        return len(self.data)

    def hold_at(self, limit: int) -> None:
        self.limit = limit

    def release(self, rate: int = 128_000) -> None:
        self.rate, self.limit = rate, 1 << 30

    def wait_received(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.data) < count:
            if self.curl.poll() is not None and not self.reader.is_alive():
                raise AssertionError(f"curl ended early: {self.curl.stderr.read().decode(errors='replace')}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the download did not reach {count} bytes ({len(self.data)} in {timeout} s)")
            time.sleep(0.02)
        if self.curl.poll() is not None:
            raise AssertionError("curl ended before the move")

    def check_complete(self, case: unittest.TestCase, timeout: float) -> None:
        """The whole blob, right by the digest computed outside tandem, on one TCP connection."""
        self.reader.join(timeout)
        self.curl.wait(60)
        err = self.curl.stderr.read().decode(errors="replace")
        self.curl.stdout.close()
        self.curl.stderr.close()
        case.assertEqual(self.curl.returncode, 0, f"curl failed: {err}")
        case.assertEqual(len(self.data), 1 << 20)
        case.assertEqual(hashlib.sha256(self.data).hexdigest(), (ASSETS / "blob.sha256").read_text().split()[0])
        case.assertIn("connects=1", err, "curl had to connect again: the TCP connection did not survive")


class LinuxTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_built()
        for name in ("vmlinux", "bzImage", "initramfs.cpio.gz", "blob.sha256"):
            if not (ASSETS / name).exists():
                raise AssertionError(f"{ASSETS / name} is missing: run tests/guests/linux/fetch_assets.sh "
                                     "(the e2e.linux_assets fixture does)")

    def check_clean_kernel_log(self, console: str) -> list[str]:
        lines = guest_lines(console)
        trouble = [line for line in lines if KERNEL_TROUBLE.search(line)]
        self.assertEqual(trouble, [], "the kernel complained")
        self.assertIn("TSC deadline timer available", console)
        self.assertRegex(console, r"clocksource: Switched to clocksource tsc\n")
        # ... without tsc=reliable (issue 18): CPUID's invariant TSC and IA32_TSC_ADJUST suffice.
        self.assertRegex(console, r"Kernel command line: ")
        self.assertNotIn("tsc=reliable", console)
        self.assertIn("tandem-guest: init running on Linux 6.1", console)
        self.assertRegex(console, r"rtc_cmos 00:\d\d: registered as rtc0")  # the DSDT's PNP0B00
        return lines


class Standalone(LinuxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if os.geteuid() != 0:
            raise AssertionError("the network tests need root (network namespaces); CI runs them as root")

    def test_vmlinux_serves_counter_and_http_then_powers_off(self):
        wd = workdir("linux-standalone")
        blob_sha = (ASSETS / "blob.sha256").read_text().split()[0]
        with ClientNetwork(taps=1) as net:
            iso = linux_iso(wd, "vmlinux", "console=ttyS0 nokaslr tandem.poweroff=60",
                            extra=f"guest_mac={GUEST_MAC}")
            m = Bochs(wd, iso, sync="slowdown", megs=512, hard_timeout=600, prefix=net.prefix(),
                      nics=[net.e1000(0, "52:54:00:00:02:01", card=0)])
            with m:
                m.wait_for(r"^guest: tandem-guest: userspace ready: eth0", 300)
                counter = subprocess.run(net.prefix() + program("counter_client")
                                         + ["--count", "20", "--timeout", "1", "--until", "120"],
                                         capture_output=True, text=True, timeout=180, env=program_env())
                body = wd / "blob.bin"
                curl = subprocess.run(net.prefix() + ["curl", "--silent", "--show-error", "--max-time", "120",
                                                      "--retry", "3", "-o", str(body), "http://10.0.2.15/blob.bin"],
                                      capture_output=True, text=True, timeout=400)
                m.wait_for(re.escape(POWERED_OFF), 240)
        console = m.tandem_console()
        records = [json.loads(line) for line in counter.stdout.splitlines() if line.startswith("{")]
        self.assertEqual([r["value"] for r in records if r["event"] == "reply"], list(range(1, 21)),
                         counter.stdout[-2000:] + counter.stderr[-2000:])
        self.assertEqual(curl.returncode, 0, curl.stderr)
        data = body.read_bytes()
        self.assertEqual(len(data), 1 << 20)
        self.assertEqual(hashlib.sha256(data).hexdigest(), blob_sha)
        self.check_clean_kernel_log(console)
        self.assertIn("vm: Linux guest 'linux' (vmlinux at 0x1000000", console)
        self.assertIn("tandem-guest: powering off", console)
        self.assertIn(POWERED_OFF, console)
        self.assertNotIn(VIRTIO_NEEDS_RESET, console)  # no descriptor the kernel gave was refused
        self.assertRegex(console, r"vm: virtio-net: [1-9]\d* frames sent, [1-9]\d* received")


class BzImage(LinuxTestCase):
    """The bzImage boot path, and the guest's console on tandem's serial line (issue 16): the guest's
    shell takes what is typed, Ctrl-A c switches to tandem's shell and back, and the guest powers
    itself off when told to on its console."""

    def test_bzimage_boots_to_a_shell_typed_into_over_tandems_serial_line(self):
        wd = workdir("linux-bzimage")
        iso = linux_iso(wd, "bzImage", "console=ttyS0 nokaslr tandem.shell=1")
        m = Bochs(wd, iso, sync="none", megs=512, hard_timeout=600, interactive=True)
        with m:
            m.wait_for(r"^guest: tandem-guest: userspace up", 500)
            m.wait_for(CONSOLE_READY, 5)
            # Only the guest's shell can turn what is typed into this line (its echo of the
            # command shows the unexpanded text): proof the keys reached the guest's userspace.
            m.send("echo tandem-$((6*7))-$(uname -m)\r")
            m.wait_for(r"^guest: tandem-42-x86_64", 120)
            m.send("\x01c")
            m.wait_for(r"^console: tandem's shell \(Ctrl-A c: back to the guest's console\)", 60)
            m.send("status\r")
            m.wait_for(r"^status: guest running, \d+ exits so far", 60)
            m.send("version\r")
            m.wait_for(r"^version: tandem \d+\.\d+", 60)
            m.send("log x\r")
            m.wait_for(r"^log: N is a number of lines from 1 to 1000 \(not 'x'\)", 60)
            # tandem's boot message about the guest, once as printed and once from the log
            m.send("log 1000\r")
            m.wait_for(r"vm: Linux guest 'linux' \(bzImage[^\n]*\n(?:.*\n)*.*vm: Linux guest 'linux' \(bzImage", 60)
            m.send("\x01c")
            m.wait_for(r"^console: the guest's console \(Ctrl-A c: tandem's shell\)", 60)
            m.send("poweroff -f\r")
            m.wait_for(re.escape(POWERED_OFF), 240)
        console = m.tandem_console()
        self.assertIn("vm: Linux guest 'linux' (bzImage at 0x1000000", console)
        self.check_clean_kernel_log(console)
        self.assertIn("tandem-guest: userspace up WITHOUT network", console)  # no guest_mac: no card
        self.assertRegex(console, r"guest: [^\n]*# echo tandem-\$\(\(6\*7\)\)-\$\(uname -m\)")  # the guest's echo
        self.assertNotIn("typed input dropped", console)
        self.assertNotIn("^@", console)  # the guest's tty echoes a received NUL so: nothing was added
        self.assertNotRegex(console, r"guest: [^\n]*(not found|can't)")  # nothing typed was garbled


class Checkpointed(LinuxTestCase):
    """Local loopback checkpointing (issue 4's mode) of the Linux guest: every 10 ms epoch of its
    boot captured, encoded, decoded and applied to a second image, and the running guest restored
    from that image at every epoch (restore_every=1: vCPU, every device model and the epoch's
    pages, 1000 times); every 100th epoch the two compared (memory hash and vCPU/device state
    digest); at epoch 1001 the primary stops and the guest resumes from the backup image, and
    must go on to userspace, hash its 1 MiB blob right (the guest's own check, against the digest
    computed outside tandem) and power off with a clean kernel log."""

    def test_linux_checkpointed_and_restored_every_10_ms_then_resumed_from_the_backup(self):
        wd = workdir("linux-checkpointed")
        iso = linux_iso(wd, "vmlinux", "console=ttyS0 nokaslr tandem.poweroff=1 tandem.rehash=1",
                        extra="mode=checkpoint peer=local epoch_ms=10 verify_every=100 failover_at=1001 "
                              "restore_every=1")
        m = Bochs(wd, iso, sync="none", megs=1024, hard_timeout=840)
        with m:
            m.wait_for(re.escape(POWERED_OFF), 800)
        console = m.tandem_console()
        self.assertIn("the guest restored from the backup image every 1 epochs", console)
        verified = re.findall(r"^checkpoint: verify epoch (\d+): .*: (\w+)$", console, re.M)
        self.assertEqual([int(e) for e, _ in verified], list(range(0, 1001, 100)), console[-3000:])
        self.assertTrue(all(result == "equal" for _, result in verified), verified)
        self.assertRegex(console, r"failover: the guest resumes from the backup's epoch 1000 ")
        restores = re.search(r"^checkpoint: (\d+) restores from the backup image", console, re.M)
        self.assertIsNotNone(restores, console[-3000:])
        self.assertEqual(int(restores.group(1)), 1000)
        after = console[console.index("failover: the guest resumes"):]
        self.assertIn("tandem-guest: init running on Linux 6.1", after)  # userspace came after the failover
        self.assertIn("tandem-guest: powering off", after)
        # From outside tandem: the guest hashes its 1 MiB blob again after running on restored
        # state, against the digest the assets script computed.
        rehash = re.search(r"tandem-guest: blob.bin read back by the guest: sha256 ([0-9a-f]{64})", after)
        self.assertIsNotNone(rehash, after[-2000:])
        self.assertEqual(rehash.group(1), (ASSETS / "blob.sha256").read_text().split()[0])
        self.assertRegex(console, r"checkpoint: 1001 epochs committed")
        self.check_clean_kernel_log(console)


class Pair(PairCase):
    """The protected pair (issue 6's history check) with the Linux counter service, its link as
    UDP over IPv4 through the client namespace's router (issue 15: link_ip=, peer_ip=,
    link_gateway=; every join and takeover crosses it): the primary killed at 3 random points
    (seeded and printed), each time the backup takes over and the killed machine rejoins as the
    backup; the client's replies must be exactly 1..N. Then a 1 MiB HTTP download runs across a
    4th failover: the same TCP connection must survive it (no retry is allowed: curl's connection
    count is 1) and the file's sha256 must be right."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        LinuxTestCase.setUpClass.__func__(cls)

    def test_kill_points_then_a_download_across_a_failover(self):
        import random
        name = "linux-pair"
        seed = seed_for(name)
        rng = random.Random(seed)
        self.start_pair(PairLab(name, seed=seed, guest="linux", link="udp"))
        gaps = self.failover_cycles(3, rng)
        lab = self.lab
        primary = 1 if len(gaps) % 2 else 0
        lab.wait_replies(len(lab.replies()) + 5, 240)

        download = PacedDownload(lab.net)
        download.wait_received(256 * 1024, 240)
        got_before = download.received()
        lab.kill(primary)
        print(f"kill 4/4 (during the download, {got_before} bytes in): machine {primary}", flush=True)
        lab.machines[1 - primary].wait_for(TOOK_OVER, 240)
        # More than the client side can hold (64 KiB socket buffer, 64 KiB pipe, curl's buffer) was
        # still to come at the takeover: the new primary sent the rest.
        got_at_takeover = download.received()
        self.assertLess(got_at_takeover + 256 * 1024, 1 << 20, "too little of the download was left for the new primary")
        download.check_complete(self, 420)
        print(f"{name}: 1 MiB downloaded across the failover on one TCP connection ({got_before} bytes before the "
              f"kill, {got_at_takeover} at the takeover), sha256 correct", flush=True)

        lab.wait_replies(len(lab.replies()) + 5, 240)
        lab.stop_client()
        replies = lab.check_history(self)
        self.check_one_machine_at_a_time(4)
        # The router forwarded the link: four full copies of the guest's ~58 MB crossed it (each
        # some 40000 datagrams of at most 1500 bytes).
        routed = lab.net.forwarded_datagrams()
        self.assertGreater(routed, 4 * 30000, "the link's datagrams did not cross the router")
        print(f"{name}: {len(replies)} replies 1..{len(replies)}, failover gaps "
              + ", ".join(f"{g * 1000:.0f} ms" for g in gaps) + f"; {routed} link datagrams routed", flush=True)
        for slot, m in lab.machines.items():
            console = m.tandem_console()
            self.assertNotIn(CHECKPOINTING_FAILED, console, f"machine {slot}")
            trouble = [line for line in guest_lines(console) if KERNEL_TROUBLE.search(line) or "soft lockup" in line]
            self.assertEqual(trouble, [], f"the kernel complained on machine {slot}")
        # The joins (~70 s each) were shown with their pace on both machines (issue 16).
        consoles = "".join(m.tandem_console() for m in lab.machines.values())
        self.assertRegex(consoles, r"pair: full copy from the primary: \d+ of \d+ guest pages received "
                                   r"\(\d+ pages/s, about \d+ s left\)")
        self.assertRegex(consoles, r"pair: full copy to the backup: page \d+ of \d+ guest pages encoded "
                                   r"\(\d+ pages/s, about \d+ s left\), ")


if __name__ == "__main__":
    unittest.main()
