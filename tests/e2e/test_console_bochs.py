"""tandemctl against both machines of a protected pair (issue 16), on two Bochs machines whose
COM1 is a pseudo-terminal behind a TCP console relay (tandem_lab.console_relay: the way a console
server offers a serial line), with the counter service's client running throughout.

Judged outside tandem: the JSON tandemctl returns is checked against docs/console-schema.json by
python3-jsonschema and against what the pair visibly does (the epoch it reports advances between
two asks, the backup's committed epoch keeps up with the primary's acknowledged one); the failover
that tandemctl issues is judged by the client's history (exactly 1..N across it) and by the wire
(the replies move from one machine's tap to the other's exactly once)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from tandem_lab.console_patterns import PROTECTED_BACKUP, TOOK_OVER
from tandem_lab.pair_lab import PairLab
from test_pair_bochs import STEP, PairCase, seed_for

SOURCE = Path(__file__).resolve().parents[2]
TANDEMCTL = SOURCE / "tools" / "tandemctl"
SCHEMA = json.loads((SOURCE / "docs" / "console-schema.json").read_text())

try:
    import jsonschema
except ImportError:  # a Python of its own (pyenv) beside Debian's: the package is Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
    import jsonschema


class TandemctlCase(PairCase):
    """A pair whose consoles tools/tandemctl reaches (tandem_lab's console relay)."""

    def tandemctl(self, port: str, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([sys.executable, str(TANDEMCTL), "--port", port, "--timeout", "30", *args],
                              capture_output=True, text=True, timeout=timeout)
        self.assertEqual(done.returncode, 0, f"tandemctl {' '.join(args)}: {done.stderr}{done.stdout}")
        return done.stdout

    def ask(self, port: str, command: str) -> dict:
        value = json.loads(self.tandemctl(port, command, "--json"))
        jsonschema.validate(value, SCHEMA)
        self.assertEqual(value["kind"], command)
        return value



class Tandemctl(TandemctlCase):
    def test_status_watch_and_failover_through_tandemctl(self):
        seed = seed_for("pair-tandemctl")
        self.start_pair(PairLab("pair-tandemctl", seed=seed, console_relay=True))
        lab = self.lab
        a, b = lab.machines[0], lab.machines[1]
        version = self.ask(a.console_url, "version")
        self.assertRegex(version["tandem"], r"^\d+\.\d+\.\d+$")

        first = self.ask(a.console_url, "status")
        self.assertEqual((first["role"], first["mode"], first["protection"], first["phase"], first["guest"]),
                         ("primary", "checkpoint", "protected", "protecting", "running"))
        backup = self.ask(b.console_url, "status")
        self.assertEqual((backup["role"], backup["protection"], backup["guest"]), ("backup", "protected", "not_here"))
        self.assertGreaterEqual(backup["epoch"]["committed"], first["epoch"]["acknowledged"])
        time.sleep(3)
        later = self.ask(a.console_url, "status")
        self.assertGreater(later["epoch"]["current"], first["epoch"]["current"], "the primary's epochs did not advance")
        self.assertGreater(later["epoch"]["acknowledged"], first["epoch"]["acknowledged"])
        self.assertGreater(later["uptime_ms"], first["uptime_ms"])
        stats = self.ask(a.console_url, "stats")
        self.assertGreater(stats["epochs"]["completed"], 0)
        self.assertEqual(stats["link"]["state"], "established")
        self.assertGreater(stats["link"]["stream_bytes"], 0)
        link = self.ask(b.console_url, "link")
        self.assertTrue(link["authenticated"])
        self.assertEqual(link["role"], "backup")

        rows = self.tandemctl(a.console_url, "watch", "--port", b.console_url, "--count", "2", "--interval", "1")
        print("tandemctl watch:\n" + rows, flush=True)
        self.assertEqual(sum(1 for row in rows.splitlines() if "primary" in row and "protected" in row), 2, rows)
        self.assertEqual(sum(1 for row in rows.splitlines() if "backup" in row and "protected" in row), 2, rows)

        # The failover, issued by tandemctl on the primary: the backup takes over at once.
        lab.wait_replies(len(lab.replies()) + 5, STEP)
        print(self.tandemctl(a.console_url, "failover"), flush=True)
        m = b.wait_for(TOOK_OVER, STEP)
        self.assertRegex(b.tandem_console(), r"pair: taking over from epoch \d+: the primary handed the guest over")
        lab.wait_replies(len(lab.replies()) + 10, STEP)
        wire = [w for w in lab.wire() if w["reply"].startswith("ok ")]
        gap = (min(w["t"] for w in wire if w["tap"] == lab.net.taps[1])
               - max(w["t"] for w in wire if w["tap"] == lab.net.taps[0]))
        now_primary = self.ask(b.console_url, "status")
        self.assertEqual((now_primary["role"], now_primary["guest"]), ("primary", "running"))
        self.assertEqual(now_primary["last_failover"]["cause"], "handover")
        self.assertEqual(now_primary["last_failover"]["epoch"], int(m.group(1)))
        old = self.ask(a.console_url, "status")
        self.assertEqual((old["phase"], old["guest"]), ("handed_over", "stopped"))
        lab.stop_client()
        replies = lab.check_history(self)
        self.check_one_machine_at_a_time(1)
        print(f"pair-tandemctl: {len(replies)} replies 1..{len(replies)} across a failover issued by tandemctl "
              f"(took over from epoch {m.group(1)}, client gap {gap * 1000:.0f} ms)", flush=True)


class SwitchoverCase(TandemctlCase):
    """Planned switchover (issues 15 and 16), issued by tandemctl under client load: each time the guest continues on the backup where it stopped and the old primary rejoins
    as the backup. Judged by the client's history (exactly 1..N across both), the wire (the replies
    move between the taps exactly once per switchover) and the gaps the client saw."""

    def switch(self, lab: PairLab, old: int, new: int, rejoin: bool = True) -> float:
        """One switchover from `old` to `new`, under the client's load; the client's gap. With
        `rejoin`, also waits for the old primary to be protecting the new one."""
        a, b = lab.machines[old], lab.machines[new]
        took_over_before = len(re.findall(TOOK_OVER, b.tandem_console(), re.M))
        protected_before = len(re.findall(PROTECTED_BACKUP, a.tandem_console(), re.M))
        lab.wait_replies(len(lab.replies()) + 5, STEP)
        print(self.tandemctl(a.console_url, "--timeout", "60", "switchover"), flush=True)
        deadline = time.monotonic() + STEP
        while len(re.findall(TOOK_OVER, b.tandem_console(), re.M)) <= took_over_before:
            self.assertLess(time.monotonic(), deadline, f"machine {new} did not take over")
            time.sleep(0.2)
        self.assertRegex(a.tandem_console(), r"switchover: the backup holds epoch \d+, all of the guest")
        lab.wait_replies(len(lab.replies()) + 5, STEP)
        status = self.ask(b.console_url, "status")
        self.assertEqual((status["role"], status["guest"]), ("primary", "running"))
        self.assertEqual(status["last_failover"]["cause"], "handover")
        if rejoin:
            # The old primary rejoins as the backup of the new one, and the pair is protected again.
            deadline = time.monotonic() + 3 * STEP
            while len(re.findall(PROTECTED_BACKUP, a.tandem_console(), re.M)) <= protected_before:
                self.assertLess(time.monotonic(), deadline, f"machine {old} did not become a protected backup")
                time.sleep(0.5)
            self.assertEqual(self.ask(a.console_url, "status")["role"], "backup")
        wire = [w for w in lab.wire() if w["reply"].startswith("ok ")]
        last_old = max(w["t"] for w in wire if w["tap"] == lab.net.taps[old])
        return min(w["t"] for w in wire if w["tap"] == lab.net.taps[new] and w["t"] > last_old) - last_old

    def switchovers(self, name: str, times: int, **lab_options) -> None:
        """`times` switchovers, alternating between the two machines."""
        seed = seed_for(name)
        self.start_pair(PairLab(name, seed=seed, console_relay=True, **lab_options))
        lab = self.lab
        gaps = [self.switch(lab, k % 2, 1 - k % 2) for k in range(times)]
        lab.wait_replies(len(lab.replies()) + 5, STEP)
        lab.stop_client()
        replies = lab.check_history(self)
        self.check_one_machine_at_a_time(times)
        for slot, m in lab.machines.items():
            self.assertNotRegex(m.tandem_console(), r"pair: no answer from the primary", f"machine {slot}")
        print(f"{name}: {len(replies)} replies 1..{len(replies)} across {times} switchover(s); client gaps "
              + " ".join(f"{g * 1000:.0f} ms" for g in gaps), flush=True)


class Switchover(SwitchoverCase):
    def test_switchover_there_and_back_under_load(self):
        self.switchovers("pair-switchover", 2)
