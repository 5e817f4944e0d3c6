"""Fault settings, partition specs and the per-delivery fault decision of the test hub.

Determinism: every delivery (one ingress frame copied towards one egress port) draws its fate from
its own generator, seeded with (seed, ingress port, egress port, k) where k counts the frames seen
so far in that direction. The fate of the k-th frame from port A to port B therefore depends only
on the seed and the fault settings in force, not on how traffic in other directions interleaves.
A fixed number of draws is taken per delivery, so changing one probability never shifts the
random stream of another.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field, fields

PROBABILITIES = ("loss", "dup", "reorder", "corrupt")


@dataclass
class Faults:
    loss: float = 0.0            # probability a delivery is dropped
    dup: float = 0.0             # probability a delivery is sent twice (same time, same bytes)
    reorder: float = 0.0         # probability a delivery is held back by an extra delay
    reorder_max_ms: float = 50.0  # that extra delay is uniform in (0, reorder_max_ms]
    corrupt: float = 0.0         # probability a delivery gets bits flipped
    corrupt_bits: int = 1        # distinct bits flipped in a corrupted frame
    corrupt_offset: int = 14     # first byte that may be flipped (14: the Ethernet header is kept)
    delay_ms: float = 0.0        # fixed delay of every delivery
    jitter_ms: float = 0.0       # plus uniform [0, jitter_ms) (jitter alone can reorder frames)
    filter_ethertype: int | None = None  # faults (partition included) only for this EtherType

    def to_json(self) -> dict:
        out = asdict(self)
        if self.filter_ethertype is not None:
            out["filter_ethertype"] = f"0x{self.filter_ethertype:04x}"
        return out

    def update(self, changes: dict) -> dict:
        """Validates every change first, then applies them all; returns the normalised changes.
        Raises ValueError (nothing applied) on an unknown key or a bad value."""
        names = {f.name for f in fields(self)}
        clean = {}
        for key, value in changes.items():
            if key not in names:
                raise ValueError(f"unknown setting {key!r} (known: {', '.join(sorted(names))})")
            clean[key] = _check(key, value)
        for key, value in clean.items():
            setattr(self, key, value)
        return {k: (f"0x{v:04x}" if k == "filter_ethertype" and v is not None else v) for k, v in clean.items()}


def _check(key: str, value):
    if key == "filter_ethertype":
        if value is None or value in ("", "none", "off"):
            return None
        number = int(value, 0) if isinstance(value, str) else value
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 0xFFFF:
            raise ValueError(f"filter_ethertype must be 0..0xffff or null, not {value!r}")
        return number
    if isinstance(value, str):  # command-line flags (and lenient JSON)
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{key} must be a number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number, not {value!r}")
    if key in PROBABILITIES and not 0.0 <= value <= 1.0:
        raise ValueError(f"{key} is a probability (0..1), not {value}")
    if key in ("corrupt_bits", "corrupt_offset"):
        if int(value) != value or value < (1 if key == "corrupt_bits" else 0):
            raise ValueError(f"{key} must be a whole number >= {1 if key == 'corrupt_bits' else 0}")
        return int(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{key} must be >= 0, not {value}")
    return float(value)


def add_arguments(parser) -> None:
    """One flag per setting (--loss, --reorder-max-ms, ..., --filter-ethertype 0x88b5)."""
    for f in fields(Faults):
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None,
                            metavar="X", help=f"default {f.default}")


def from_arguments(args) -> Faults:
    faults = Faults()
    faults.update({f.name: getattr(args, f.name) for f in fields(Faults) if getattr(args, f.name) is not None})
    return faults


@dataclass
class Decision:
    drop: bool = False
    dup: bool = False
    bits: list[int] = field(default_factory=list)  # bit b: byte b // 8, mask 1 << (b % 8)
    delay_ms: float = 0.0   # total hold time before sending
    reorder_ms: float = 0.0  # the part of delay_ms added by the reorder fault


def delivery_rng(seed: int, in_port: int, out_port: int, k: int) -> random.Random:
    # A string seed is hashed with SHA-512 by random.Random: stable across runs and processes.
    return random.Random(f"testhub/{seed}/{in_port}/{out_port}/{k}")


def decide(faults: Faults, rng: random.Random, frame_len: int) -> Decision:
    u_loss, u_dup, u_corrupt, u_reorder, u_amount, u_jitter = (rng.random() for _ in range(6))
    if u_loss < faults.loss:
        return Decision(drop=True)
    d = Decision(dup=u_dup < faults.dup)
    if u_corrupt < faults.corrupt:
        first, end = faults.corrupt_offset * 8, frame_len * 8
        if end > first:
            d.bits = sorted(rng.sample(range(first, end), min(faults.corrupt_bits, end - first)))
    if u_reorder < faults.reorder and faults.reorder_max_ms > 0:
        d.reorder_ms = faults.reorder_max_ms * (1.0 - u_amount)
    d.delay_ms = faults.delay_ms + faults.jitter_ms * u_jitter + d.reorder_ms
    return d


def flip_bits(data: bytes, bits: list[int]) -> bytes:
    out = bytearray(data)
    for b in bits:
        out[b // 8] ^= 1 << (b % 8)
    return bytes(out)


def parse_pairs(spec: str | None, nports: int) -> set[tuple[int, int]]:
    """Directed (from, to) port pairs a partition cuts. spec: None/'all' (every pair), or a comma
    list of 'A>B' (A to B only), 'A-B' (both ways between A and B), 'A' (port A isolated)."""
    every = {(a, b) for a in range(nports) for b in range(nports) if a != b}
    if spec is None or str(spec).strip() in ("", "all"):
        return every
    pairs: set[tuple[int, int]] = set()
    for item in str(spec).split(","):
        item = item.strip()
        try:
            if ">" in item:
                a, b = (int(x) for x in item.split(">"))
                new = {(a, b)}
            elif "-" in item:
                a, b = (int(x) for x in item.split("-"))
                new = {(a, b), (b, a)}
            else:
                a = b = int(item)
                new = {p for p in every if a in p}
        except ValueError:
            raise ValueError(f"bad partition spec item {item!r} (use A>B, A-B, A or all)") from None
        for x in (a, b):
            if not 0 <= x < nports:
                raise ValueError(f"partition spec {item!r}: port {x} not in 0..{nports - 1}")
        pairs |= new - {(x, x) for x in range(nports)}
    return pairs


def parse_schedule(text: str) -> tuple[float, float | None, str | None]:
    """'START[:END][@SPEC]' in seconds since hub start: (start, end or None, spec or None)."""
    times, _, spec = text.partition("@")
    start, _, end = times.partition(":")
    try:
        t0 = float(start)
        t1 = float(end) if end.strip() else None
    except ValueError:
        raise ValueError(f"bad partition schedule {text!r} (use START[:END][@SPEC])") from None
    if t0 < 0 or (t1 is not None and t1 < t0):
        raise ValueError(f"bad partition schedule {text!r}: need 0 <= START <= END")
    return t0, t1, (spec or None)
