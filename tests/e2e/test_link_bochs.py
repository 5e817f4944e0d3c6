"""The replication link on two Bochs machines joined by the fault-injecting test hub (issue 5):
mode=linktest streams data both ways over the e1000 driver and the authenticated transport.
Judged by both consoles: each side's byte count and digest of what it received must equal what
the other side says it sent; mismatched keys and protocol versions are refused on both sides
with a clear message while tandem keeps running; a missing key or NIC is a clear refusal."""

from __future__ import annotations

import os
import re
import unittest

from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import (CANNOT_START, HALTED, HALTED_LINE, LINK_CANNOT_CONNECT, LINK_REFUSED,
                                         LINKTEST_COMPLETE,
                                         LINKTEST_RESULT)
from tandem_lab.linktest import KEY, pair
from tandem_lab.media import make_iso
from tandem_lab.paths import require_built, workdir

OTHER_KEY = "a5" * 32
# Bochs' socket NIC hands the guest one received frame per emulated millisecond (about 1.4 MB/s
# each way at best): the clean run is sized for CI; the faulty one is the 64 MiB.
CLEAN_MIB = int(os.environ.get("TANDEM_LINKTEST_MIB", "8"))
FAULT_MIB = int(os.environ.get("TANDEM_LINKTEST_FAULT_MIB", "64"))


class BulkTransfer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_built()

    def check_both_ways(self, primary: str, backup: str, mib: int):
        results = {}
        for name, console in (("primary", primary), ("backup", backup)):
            m = LINKTEST_RESULT.search(console)
            self.assertIsNotNone(m, f"{name} did not finish:\n" + console[-2500:])
            results[name] = m.groups()
            self.assertEqual(m.group(8), "verified", console[-2500:])
            self.assertIn(LINKTEST_COMPLETE, console)
        # What each side received is what the other sent (counts and digests, as each printed).
        p, b = results["primary"], results["backup"]
        self.assertEqual((p[0], p[1]), (b[2], b[4]))
        self.assertEqual((b[0], b[1]), (p[2], p[4]))
        self.assertEqual(int(p[0]), mib << 20)
        for console in (primary, backup):
            self.assertIn("authenticated and encrypted", console)
            self.assertRegex(console, r"linktest: [\d.]+ \w+ in \d+ ms: \d+ KiB/s both directions together")

    def test_clean_link_with_the_key_from_a_module(self):
        # The backup reads the same key from a GRUB module instead of key=.
        wd = workdir("link-key-file")
        key_file = wd / "link.key"
        key_file.write_text(KEY + "\n")
        primary, backup, _ = pair("link-clean", (f"key={KEY} linktest_mib={CLEAN_MIB}", f"linktest_mib={CLEAN_MIB}"),
                                  900, modules=((), ((key_file, "link_key"),)))
        self.check_both_ways(primary, backup, CLEAN_MIB)
        self.assertIn('module: ', backup)

    def test_loss_reordering_and_corruption(self):
        primary, backup, hub = pair("link-faults", (f"key={KEY} linktest_mib={FAULT_MIB}",) * 2, 1500,
                                    loss=0.05, reorder=0.05, corrupt=0.01, filter_ethertype=0x88B5)
        self.check_both_ways(primary, backup, FAULT_MIB)
        counters = hub.get("counters", {})
        self.assertGreater(counters.get("dropped_loss", 0), 0)
        self.assertGreater(counters.get("corrupted", 0), 0)
        # Corrupted frames were caught by authentication, not delivered.
        rejected = [int(x) for x in re.findall(r"link: rejected: bad tag (\d+)", primary + backup)]
        self.assertGreater(sum(rejected), 0)


class Refusals(unittest.TestCase):
    def test_mismatched_keys_are_reported_on_both_sides(self):
        # Neither side can authenticate the other's frames, so neither is refused by them (a
        # forger could send the same, issue 14): each says why it cannot connect and keeps
        # listening for a peer that holds its key.
        primary, backup, _ = pair("link-keys", (f"key={KEY}", f"key={OTHER_KEY}"), 300)
        for console in (primary, backup):
            self.assertIn("linktest: authentication failure: the peer does not hold this link key", console)
            self.assertRegex(console, r"linktest: link not connected: link key mismatch .*: local key id 0x[0-9a-f]+, "
                                      r"peer key id 0x[0-9a-f]+ \(not authenticated with this link key")
            self.assertIn(LINK_CANNOT_CONNECT, console)
            self.assertNotIn(LINK_REFUSED, console)
            self.assertNotIn(HALTED_LINE, console)
            self.assertNotIn(LINKTEST_COMPLETE, console)

    def test_mismatched_protocol_version_is_refused(self):
        primary, backup, _ = pair("link-version", ("insecure_link=1", "insecure_link=1 link_version=2"), 300)
        self.assertIn("link refused: protocol version mismatch: local 1, peer 2", primary)
        self.assertIn("link refused: protocol version mismatch: local 2, peer 1", backup)
        for console in (primary, backup):
            self.assertIn("INSECURE (insecure_link=1)", console)
            self.assertIn("link: WARNING: insecure_link=1: no key, so anyone on the link's network", console)
            self.assertNotIn(HALTED_LINE, console)

    def test_no_key_is_refused(self):
        wd = workdir("link-no-key")
        iso = make_iso(wd / "tandem.iso", cmdline="mode=linktest role=primary")
        console = Bochs(wd, iso, nics=["e1000: card=0, enabled=1, mac=52:54:00:00:02:01, ethmod=null"]).run_until(
            HALTED, 120)
        self.assertRegex(console, r"link: .*(no key|key=).*insecure_link=1")
        self.assertIn(CANNOT_START + "no usable link key", console)

    def test_missing_link_nic_is_named(self):
        wd = workdir("link-no-nic")
        iso = make_iso(wd / "tandem.iso", cmdline=f"mode=linktest role=primary key={KEY} link_nic=00:09.0")
        console = Bochs(wd, iso, nics=["e1000: card=0, enabled=1, mac=52:54:00:00:02:01, ethmod=null"]).run_until(
            HALTED, 120)
        self.assertRegex(console, r"nic: link_nic: no suitable NIC matches the value given \(NICs found: "
                                  r"00:0[0-9a-f]\.0 \(52:54:00:00:02:01\)\)")
        self.assertIn(CANNOT_START + "no NIC for the replication link (link_nic=)", console)


if __name__ == "__main__":
    unittest.main()
