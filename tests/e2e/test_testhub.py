"""The fault-injecting test hub (tandem_lab.testhub) driven by plain UDP sockets that behave exactly like a
Bochs NIC with `ethmod=socket, ethdev=P`: bind P, send to P+1 (Bochs 2.7 eth_socket.cc). No Bochs needed;
BxhubParity compares against Debian's `bxhub` and BochsNic puts a real Bochs e1000 on the hub; each
fails when its tool is missing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import unittest
import zlib

from tandem_lab.paths import workdir
from tandem_lab.testhub import HubError, TestHub
from tandem_lab.testhub.endpoint import BCAST, REPL, Endpoint
from tandem_lab.testhub.faults import Faults, decide, delivery_rng
from tandem_lab.testhub.pxe import IPXE_ROM, PxeBochs, dhcp_message, dhcp_offer, wait_for_dhcp


def payload(seq: int, size: int = 100) -> bytes:
    return seq.to_bytes(4, "big") + bytes((seq * 7 + i) & 0xFF for i in range(size - 4))


def settle(quiet: float = 0.3) -> None:
    time.sleep(quiet)  # the hub forwards within microseconds; callers add any delay they configured


class HubCase(unittest.TestCase):
    """Starts a hub with `ports` emulated Bochs endpoints; a test's logs stay in build/e2e/testhub-<test>."""

    def hub(self, ports: int = 2, seed: int = 1, **kw) -> tuple[TestHub, list[Endpoint]]:
        hub = TestHub(workdir("testhub-" + self.id().split(".")[-1]), ports=ports, seed=seed, **kw).start()
        self.addCleanup(hub.stop)
        eps = [Endpoint(hub.base, i) for i in range(ports)]
        for ep in eps:
            self.addCleanup(ep.close)
        return hub, eps

    def stream(self, n: int = 400, gap: float = 0.0005, seed: int = 1, **faults):
        """Port 1 announces itself, then port 0 sends frames 0..n-1 to it. Checks that the arrivals at
        port 1 are exactly the logged forwards, in order; returns (hub, arrivals, ids, arrival_ids) with
        ids[seq] the hub's id of frame seq and arrival_ids[i] that of the i-th arrival."""
        hub, (a, b) = self.hub(seed=seed, **faults)
        b.send(BCAST, b"hello", etype=0x9000)
        settle(0.1)
        sent = {zlib.crc32(a.frame(b.mac, payload(s))): s for s in range(n)}
        for s in range(n):
            a.send(b.mac, payload(s))
            time.sleep(gap)
        settle(0.3 + (faults.get("delay_ms", 0) + faults.get("jitter_ms", 0) + faults.get("reorder_max_ms", 0)) / 1000)
        hub.stop()
        ids = {sent[int(r["crc"], 16)]: r["id"] for r in hub.events("rx") if r["port"] == 0}
        self.assertEqual(len(ids), n)
        forwards = [r for r in hub.events("forward") if r["out"] == 1]
        self.assertEqual([zlib.crc32(f) for f in b.frames()], [int(r["crc"], 16) for r in forwards],
                         "arrivals differ from the logged forwards")
        return hub, b.frames(), ids, [r["id"] for r in forwards]

    def wait_rx(self, hub: TestHub, count: int, timeout: float = 5) -> None:
        """Until the hub has logged `count` frames: loopback UDP does not order datagrams across sockets."""
        deadline = time.monotonic() + timeout
        while len(hub.events("rx")) < count:
            self.assertLess(time.monotonic(), deadline, f"the hub did not receive {count} frames")
            time.sleep(0.01)

    def by_id(self, hub: TestHub, kind: str) -> dict[int, dict]:
        return {r["id"]: r for r in hub.events(kind)}


class Forwarding(HubCase):
    def test_broadcast_reaches_every_other_port_from_its_hub_port(self):
        hub, eps = self.hub(ports=3)
        frame = eps[0].frame(BCAST, payload(1))
        eps[0].send(BCAST, payload(1))  # nobody else has sent yet: flooded anyway, as bxhub does
        settle()
        self.assertEqual(eps[0].got, [])
        for ep in eps[1:]:
            self.assertEqual(ep.frames(), [frame])
            self.assertEqual(ep.got[0][2], hub.ethdev(ep.port) + 1, "hub port i sends from base+2i+1")

    def test_learned_unicast_goes_to_one_port_only(self):
        hub, eps = self.hub(ports=3)
        eps[1].send(BCAST, b"i am one")
        eps[0].send(BCAST, b"i am zero")
        settle(0.1)
        before = [len(ep.got) for ep in eps]
        eps[0].send(eps[1].mac, payload(2))
        eps[0].send(eps[0].mac, payload(3))  # to its own port: goes nowhere
        settle()
        self.assertEqual([len(ep.got) - n for ep, n in zip(eps, before)], [0, 1, 0])
        self.assertEqual(hub.stats()["counters"]["no_target"], 1)
        self.assertEqual({(r["mac"], r["port"]) for r in hub.events("learn")},
                         {("02:00:00:00:10:01", 0), ("02:00:00:00:10:02", 1)})

    def test_unknown_unicast_and_multicast_are_flooded(self):
        hub, eps = self.hub(ports=3)
        eps[0].send(bytes([2, 9, 9, 9, 9, 9]), payload(4))
        eps[0].send(bytes([1, 0, 0x5E, 0, 0, 1]), payload(5))
        settle()
        self.assertEqual([len(ep.got) for ep in eps], [0, 2, 2])
        self.assertEqual([r["how"] for r in hub.events("rx")], ["unknown", "multicast"])

    def test_malformed_datagrams_are_ignored(self):
        hub, (a, b) = self.hub()
        for junk in (b"", b"\x01", b"\xff" * 13):
            a.sock.sendto(junk, a.hub_addr)
        a.send(BCAST, payload(6))
        settle()
        self.assertEqual(b.frames(), [a.frame(BCAST, payload(6))])
        self.assertEqual([r["len"] for r in hub.events("malformed")], [0, 1, 13])
        self.assertTrue(hub.running())

    def test_large_frames_pass_unchanged(self):
        hub, (a, b) = self.hub()
        for size in (1500, 9000):
            a.send(BCAST, payload(7, size))
        settle()
        self.assertEqual([len(f) for f in b.frames()], [1514, 9014])
        self.assertEqual(hub.stats()["counters"]["oversize"], 1)  # Bochs itself would truncate it to 1514

    def test_sigterm_ends_with_summary(self):
        hub, (a, b) = self.hub()
        a.send(BCAST, payload(8))
        settle(0.1)
        summary = hub.stop()
        self.assertEqual(hub.proc.returncode, 0)
        self.assertEqual((summary["counters"]["rx"], summary["counters"]["forwarded"]), (1, 1))
        self.assertIn("testhub: summary", hub.output())
        self.assertIn("seed=1 ", hub.output())


class FaultInjection(HubCase):
    def test_loss_is_seeded_and_logged(self):
        hub, got, ids, _ = self.stream(loss=0.1, seed=1234)
        drops = {seq for seq, i in ids.items() if i in self.by_id(hub, "drop")}
        self.assertTrue(20 <= len(drops) <= 70, len(drops))
        self.assertEqual([int.from_bytes(f[14:18], "big") for f in got], [s for s in range(400) if s not in drops])
        # The fate of the k-th frame 0->1 is a function of (seed, k) alone.
        f = Faults(loss=0.1)
        self.assertEqual(drops, {k for k in range(400) if decide(f, delivery_rng(1234, 0, 1, k), 114).drop})

    def test_same_seed_same_faults_other_seed_differs(self):
        faults = dict(loss=0.1, dup=0.1, corrupt=0.1, corrupt_bits=2, reorder=0.1, reorder_max_ms=20)

        def decisions(seed):
            hub, _, _, _ = self.stream(n=200, seed=seed, **faults)
            return [{k: v for k, v in r.items() if k not in ("t", "id")}
                    for r in hub.events("drop", "corrupt", "duplicate", "delay")]
        first = decisions(77)
        self.assertEqual(first, decisions(77))
        self.assertNotEqual(first, decisions(78))

    def test_duplication(self):
        hub, got, ids, _ = self.stream(dup=0.25)
        dups = {seq for seq, i in ids.items() if i in self.by_id(hub, "duplicate")}
        seqs = [int.from_bytes(f[14:18], "big") for f in got]
        self.assertTrue(50 <= len(dups) <= 150, len(dups))
        self.assertEqual({s for s in set(seqs) if seqs.count(s) == 2}, dups)
        self.assertEqual(set(seqs), set(range(400)))

    def test_reordering(self):
        hub, got, ids, _ = self.stream(n=150, gap=0.002, reorder=0.3, reorder_max_ms=40)
        seqs = [int.from_bytes(f[14:18], "big") for f in got]
        self.assertEqual(sorted(seqs), list(range(150)))
        self.assertNotEqual(seqs, sorted(seqs), "no reordering observed")
        delayed = {seq for seq, i in ids.items() if self.by_id(hub, "delay").get(i, {}).get("reorder_ms", 0) > 0}
        late = {s for pos, s in enumerate(seqs) if any(earlier > s for earlier in seqs[:pos])}
        self.assertTrue(late and late <= delayed, late - delayed)  # only held-back frames arrive late
        self.assertEqual([s for s in seqs if s not in delayed], sorted(set(range(150)) - delayed))

    def test_corruption_flips_exactly_the_logged_bits(self):
        hub, got, ids, arrival_ids = self.stream(corrupt=0.2, corrupt_bits=3)
        corrupt = self.by_id(hub, "corrupt")
        seq_of = {i: seq for seq, i in ids.items()}
        a_mac, b_mac = bytes([2, 0, 0, 0, 0x10, 1]), bytes([2, 0, 0, 0, 0x10, 2])
        for frame, fid in zip(got, arrival_ids):
            orig = b_mac + a_mac + REPL.to_bytes(2, "big") + payload(seq_of[fid])
            diff = int.from_bytes(orig, "little") ^ int.from_bytes(frame, "little")
            bits = [b for b in range(8 * len(orig)) if diff >> b & 1]  # bit b: byte b // 8, mask 1 << b % 8
            self.assertEqual(bits, corrupt.get(fid, {}).get("bits", []), f"frame {seq_of[fid]}")
        self.assertTrue(all(len(r["bits"]) == 3 and min(r["bits"]) >= 14 * 8 for r in corrupt.values()))
        self.assertTrue(40 <= len(corrupt) <= 120, len(corrupt))

    def test_delay_and_jitter(self):
        hub, (a, b) = self.hub(delay_ms=80, jitter_ms=40)
        sent = [a.send(BCAST, payload(s)) for s in range(10)]
        settle(0.5)
        delays = [r["ms"] for r in hub.events("delay")]
        self.assertEqual(len(delays), 10)
        self.assertTrue(all(80 <= ms <= 120 for ms in delays), delays)
        arrived = {int.from_bytes(f[14:18], "big"): t for t, f, _ in b.got}
        for seq, ms in enumerate(delays):
            self.assertGreaterEqual(arrived[seq] - sent[seq], ms / 1000 - 0.002)

    def test_filter_ethertype_limits_faults_to_replication_frames(self):
        hub, (a, b) = self.hub(loss=1.0, filter_ethertype=REPL)
        for s in range(20):
            a.send(BCAST, payload(s), etype=REPL if s % 2 else 0x0800)
        settle()
        self.assertEqual([int.from_bytes(f[14:18], "big") for f in b.frames()], list(range(0, 20, 2)))
        self.assertEqual(hub.stats()["counters"]["dropped_loss"], 10)


class ControlAndSchedule(HubCase):
    def check_partition_window(self, hub: TestHub, got: list[bytes]):
        """Frames seen between the partition and heal records are dropped, all others forwarded."""
        cut, expected = False, []
        for r in hub.events("partition", "heal", "rx"):
            if r["ev"] != "rx":
                cut = r["ev"] == "partition"
            elif r["port"] == 0:
                expected.append((r["id"], cut))
        drops = self.by_id(hub, "drop")
        self.assertEqual([i for i, c in expected if c], [i for i in drops if drops[i]["why"] == "partition"])
        self.assertEqual(len(got), sum(not c for _, c in expected))

    def test_scheduled_partition_starts_and_heals_on_time(self):
        hub, (a, b) = self.hub(partitions=["0.5:1.0"])
        deadline = time.monotonic() + 1.5
        seq = 0
        while time.monotonic() < deadline:
            a.send(BCAST, payload(seq))
            seq += 1
            time.sleep(0.01)
        settle()
        (on,), (off,) = hub.events("partition"), hub.events("heal")
        self.assertTrue(0.5 <= on["t"] < 0.8 and 1.0 <= off["t"] < 1.3, (on, off))
        self.assertEqual(on["by"], "schedule")
        self.check_partition_window(hub, b.frames())
        self.assertGreater(hub.stats()["counters"]["dropped_partition"], 5)

    def test_partition_by_command_per_direction_and_port_on_four_ports(self):
        hub, eps = self.hub(ports=4)
        for ep in eps:
            ep.send(BCAST, b"announce")
        settle(0.1)
        def exchange() -> set[tuple[int, int]]:
            marks = [len(ep.got) for ep in eps]
            for s in eps:
                for d in eps:
                    if s is not d:
                        s.send(d.mac, b"%d>%d" % (s.port, d.port))
            settle(0.2)
            return {(int(f[14:15]), d.port) for d, n in zip(eps, marks) for f in d.frames()[n:]}
        everything = {(s, d) for s in range(4) for d in range(4) if s != d}
        self.assertEqual(exchange(), everything)  # learned unicast between all pairs
        port2 = {pair for pair in everything if 2 in pair}
        hub.partition("0>1")
        self.assertEqual(exchange(), everything - {(0, 1)})
        hub.partition("2")
        self.assertEqual(exchange(), everything - {(0, 1)} - port2)
        hub.heal("0>1")
        self.assertEqual(exchange(), everything - port2)
        hub.heal()
        self.assertEqual(exchange(), everything)
        self.assertEqual(sum(r["why"] == "partition" for r in hub.events("drop")), 1 + 7 + 6)

    def test_partition_scheduled_by_command(self):
        hub, (a, b) = self.hub()
        hub.partition(after=0.3)
        hub.heal(at=hub.stats()["t"] + 0.6)
        for seq in range(90):
            a.send(BCAST, payload(seq))
            time.sleep(0.01)
        settle()
        (on,), (off,) = hub.events("partition"), hub.events("heal")
        self.assertEqual(on["by"], "control")
        self.assertAlmostEqual(off["t"] - on["t"], 0.3, delta=0.1)
        self.check_partition_window(hub, b.frames())

    def test_set_changes_faults_while_running(self):
        hub, (a, b) = self.hub()
        hub.set(loss=1.0)
        a.send(BCAST, payload(1))
        self.wait_rx(hub, 1)
        hub.set(loss=0, filter_ethertype="0x88b5")
        a.send(BCAST, payload(2))
        settle()
        self.assertEqual(b.frames(), [a.frame(BCAST, payload(2))])
        self.assertEqual([r["changes"] for r in hub.events("set")],
                         [{"loss": 1.0}, {"loss": 0.0, "filter_ethertype": "0x88b5"}])

    def test_bad_commands_are_refused_and_hub_keeps_running(self):
        hub, (a, b) = self.hub(loss=0.0)
        bad = [b"not json", b"[1, 2]", b"\xff\xfe", b'{"cmd": "explode"}', b'{"cmd": "set", "loss": 2}',
               b'{"cmd": "set", "loss": 0.5, "colour": 1}', b'{"cmd": "set", "loss": "x"}',
               b'{"cmd": "partition", "spec": "0>7"}', b'{"cmd": "partition", "on": "yes"}',
               b'{"cmd": "partition", "after": "soon"}']
        for raw in bad:
            reply = hub.control_raw(raw)
            self.assertFalse(reply["ok"], raw)
            self.assertTrue(reply["error"])
        with self.assertRaises(HubError):
            hub.set(dup=-1)
        stats = hub.stats()
        self.assertEqual(stats["faults"]["loss"], 0.0)
        self.assertEqual(stats["cut"], [])
        self.assertEqual(stats["counters"]["control_errors"], len(bad) + 1)
        a.send(BCAST, payload(3))
        settle()
        self.assertEqual(len(b.got), 1)

    def test_mark_stats_and_bochs_line(self):
        hub, _ = self.hub()
        hub.mark("phase 2")
        self.assertEqual((hub.events("mark")[0]["text"], hub.stats()["seed"]), ("phase 2", 1))
        self.assertEqual(hub.e1000(1, "b0:c4:20:00:00:02"),
                         f"e1000: card=0, enabled=1, mac=b0:c4:20:00:00:02, ethmod=socket, ethdev={hub.base + 2}")


def require_tools(case: type, tools: list[str], files: list = ()) -> None:
    """Fails the class (never skips it) when a tool or file it exists to exercise is missing: a test
    that passes without running what it names is a defect. The packages are in
    tools/require-packages.sh (TANDEM_RUN_PACKAGES), which ./run-tests.sh installs."""
    missing = [t for t in tools if shutil.which(t) is None] + [str(f) for f in files if not os.path.exists(f)]
    if missing:
        raise AssertionError(f"{case.__name__} cannot run: missing {', '.join(missing)} "
                             "(Debian packages bochs and ipxe-qemu; see tools/require-packages.sh)")


class BxhubParity(HubCase):
    """The same UDP clients against Debian's bxhub and against the test hub: same deliveries, from
    the same hub ports. Only broadcasts and learned unicasts: there the two agree by design."""

    @classmethod
    def setUpClass(cls):
        require_tools(cls, ["bxhub"])
        super().setUpClass()

    def scenario(self, base: int) -> list[list[tuple[bytes, int]]]:
        eps = [Endpoint(base, i) for i in range(3)]
        try:
            steps = [(0, None, b"a"), (1, None, b"b"), (0, 1, b"c"), (2, None, b"d"), (1, 2, b"e"),
                     (2, 0, b"f"), (1, 0, b"g")]
            for src, dst, tag in steps:
                eps[src].send(BCAST if dst is None else eps[dst].mac, tag * 40)
                time.sleep(0.1)
            settle()
            return [[(f[14:15], port - base) for _, f, port in ep.got] for ep in eps]
        finally:
            for ep in eps:
                ep.close()

    def wait_bound(self, port: int) -> None:
        """Until someone (bxhub binds its last RX port last) holds UDP `port`."""
        for _ in range(200):
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind(("127.0.0.1", port))
            except OSError:
                return
            time.sleep(0.05)
        self.fail(f"bxhub did not bind UDP port {port}")

    def test_same_deliveries_as_bxhub(self):
        ours = TestHub(workdir("testhub-parity"), ports=3).start()
        base = ours.base
        try:
            mine = self.scenario(base)
        finally:
            ours.stop()
        with open(ours.workdir / "bxhub-output.log", "wb") as out:
            bx = subprocess.Popen(["timeout", "-s", "KILL", "60", "bxhub", "-ports=3", f"-base={base}"],
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.wait_bound(base + 5)
            theirs = self.scenario(base)
        finally:
            os.killpg(bx.pid, signal.SIGTERM)
            bx.wait()
        # Each endpoint hears from its own hub port, base+2i+1 (as offsets from base).
        self.assertEqual(mine, [[(b"b", 1), (b"d", 1), (b"f", 1), (b"g", 1)],
                                [(b"a", 3), (b"c", 3), (b"d", 3)],
                                [(b"a", 5), (b"b", 5), (b"e", 5)]])
        self.assertEqual(theirs, mine)


class BochsNic(HubCase):
    """A real Bochs 2.7 e1000 (ethmod=socket, ethdev=base) on hub port 0, a DHCP server endpoint on
    port 1: the ROM's DHCPDISCOVER crosses the hub one way, our DHCPOFFER the other way (Bochs got it
    when the ROM follows up with a DHCPREQUEST for the same transaction)."""

    @classmethod
    def setUpClass(cls):
        require_tools(cls, ["bochs"], [IPXE_ROM])
        super().setUpClass()

    def test_dhcp_round_trip_through_the_hub(self):
        hub = TestHub(workdir("testhub-bochs-nic"), ports=2).start()
        self.addCleanup(hub.stop)
        server = Endpoint(hub.base, 1)  # port 0's UDP port is Bochs' own
        self.addCleanup(server.close)
        mac = "52:54:00:12:34:56"
        run = PxeBochs(hub.workdir / "bochs", f"{hub.e1000(0, mac)}, bootrom={IPXE_ROM}").start()
        self.addCleanup(run.stop)
        discover = wait_for_dhcp(server, 1, run)
        self.assertEqual(discover[6:12], bytes.fromhex(mac.replace(":", "")))
        server.sock.sendto(dhcp_offer(discover, server.mac), server.hub_addr)
        wait_for_dhcp(server, 3, run, xid=dhcp_message(discover)[0])
        run.stop()
        self.assertEqual(hub.events("port_up")[0]["addr"], f"127.0.0.1:{hub.ethdev(0)}")  # Bochs sends from ethdev
        offer = next(r for r in hub.events("rx") if r["port"] == 1)
        self.assertIn({"id": offer["id"], "port": 1, "out": 0, "copy": 0},
                      [{k: r[k] for k in ("id", "port", "out", "copy")} for r in hub.events("forward")])


if __name__ == "__main__":
    unittest.main()
