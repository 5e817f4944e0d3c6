"""The guest's network on one machine (issue 6, standalone): the counter-service guest on its
virtio-net card behind the client NIC, a real client in a network namespace. Judged by the
client's replies and by the frames seen on the machine's tap."""

from __future__ import annotations

import json
import os
import subprocess
import unittest

from e2e_common import GUESTS
from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import VIRTIO_NEEDS_RESET
from tandem_lab.media import make_iso
from tandem_lab.netns import ClientNetwork
from tandem_lab.paths import require_built, workdir
from tandem_lab.programs import program, program_env


class Standalone(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_built()
        if os.geteuid() != 0:
            raise AssertionError("the network tests need root (network namespaces); CI runs them as root")

    def test_counter_service_answers_a_client(self):
        wd = workdir("network-standalone")
        with ClientNetwork(taps=1) as net:
            iso = make_iso(wd / "tandem.iso", modules=[(GUESTS / "counter.elf", "counter")],
                           cmdline='guest_kernel=counter guest_mem=16M guest_mac=52:54:00:12:34:56 '
                                   '"guest_cmdline=ip=10.0.2.15 port=7777"')
            m = Bochs(wd, iso, sync="slowdown", hard_timeout=300, prefix=net.prefix(),
                      nics=[net.e1000(0, "52:54:00:00:02:01", card=0)])
            with m:
                m.wait_for(r"^guest: counter: serving UDP port 7777", 120)
                out = subprocess.run(net.prefix() + program("counter_client")
                                     + ["--count", "30", "--timeout", "0.5", "--until", "120", "--sniff", net.taps[0]],
                                     capture_output=True, text=True, timeout=180, env=program_env())
                # A retried id (a lost request or reply) must get the same value back.
                out2 = subprocess.run(net.prefix() + program("counter_client")
                                      + ["--count", "1", "--first-id", "30", "--timeout", "0.5", "--until", "60"],
                                      capture_output=True, text=True, timeout=90, env=program_env())
        records = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        replies = [r for r in records if r["event"] == "reply"]
        self.assertEqual([r["value"] for r in replies], list(range(1, 31)), out.stdout[-2000:])
        self.assertEqual([r["id"] for r in replies], list(range(1, 31)))
        wire = [r for r in records if r["event"] == "wire"]
        self.assertTrue(wire, "no reply seen on the machine's tap")
        self.assertTrue(all(w["mac"] == "52:54:00:12:34:56" for w in wire), wire[:3])
        again = [json.loads(line) for line in out2.stdout.splitlines() if line.startswith("{")]
        self.assertEqual([r["value"] for r in again if r["event"] == "reply"], [30], out2.stdout)
        console = m.tandem_console()
        self.assertIn("vm: virtio-net at 0xd0000000 with MAC 52:54:00:12:34:56 on the client NIC", console)
        self.assertNotIn(VIRTIO_NEEDS_RESET, console)  # no descriptor the guest gave was refused


if __name__ == "__main__":
    unittest.main()
