"""A lockstep pair (issue 13) on two Bochs machines (tandem_lab.pair_lab): both guests run the
counter service, the primary forwards every client request over the link and releases a reply
once the backup's guest produced the same one. Judged by what the client saw and what crossed the
wire: the reply values are exactly 1..N across every failover, replies come from one machine at a
time, and the link carried the forwarded requests and the backup guest's replies (the hub's log
of link frame types, which travel in the clear in the authenticated header)."""

from __future__ import annotations

import random
import unittest

from tandem_lab.console_patterns import LOCKSTEP_RUNNING
from tandem_lab.pair_lab import PairLab

from test_pair_bochs import STEP, PairCase, seed_for

KILLS = 2


class LockstepCounter(PairCase):
    def test_counter_service_in_lockstep_with_kill_points(self):
        seed = seed_for("lockstep-counter")
        rng = random.Random(seed)
        self.start_pair(PairLab("lockstep-counter", seed=seed, pair_mode="lockstep"))
        lab = self.lab
        lab.machines[1].wait_for(LOCKSTEP_RUNNING, STEP)
        before = len(lab.replies())
        lab.wait_replies(before + 40, STEP)
        gaps = self.failover_cycles(KILLS, rng, wait_ready=LOCKSTEP_RUNNING)
        lab.wait_replies(len(lab.replies()) + 20, STEP)
        lab.stop_client()
        replies = lab.check_history(self)
        self.check_one_machine_at_a_time(KILLS)
        forwarded = lab.hub_frame_types().get(11, 0)
        print(f"lockstep-counter: {len(replies)} replies 1..{len(replies)} across {KILLS} failovers; gaps (ms): "
              + " ".join(f"{g * 1000:.0f}" for g in gaps) + f"; {forwarded} forward frames on the link", flush=True)
        # Every request after a join crossed the link, and every reply of the backup's guest back.
        self.assertGreater(forwarded, 2 * 40)


if __name__ == "__main__":
    unittest.main()
