"""The lines of tandem's serial console that the harness, the tests, the benchmarks and the demo
wait for or match, in one place: regexes (for EmulatorRun.wait_for, which searches multiline, and
re.search) and plain strings (for `in`). A line one test alone matches, meaningful only there,
stays in that test."""

from __future__ import annotations

import re

# --- tandem's own lines ----------------------------------------------------------------------------
# Bounds for one boot to tandem's verdict (HALTED). Bochs reaches it in ~3-5 s here; the margin
# covers a loaded CI machine. These are deadlines, not performance assertions.
BOOT_TIMEOUT = 90
BANNER_START = "\ntandem "  # where tandem's console begins: its banner, after the boot loader's screen
BANNER = r"^tandem \d+\.\d+\.\d+ \(build [0-9a-f:]{23}\) - "
BOOT_COMPLETE = "tandem: boot complete"
CONSOLE_READY = r"^tandem: console ready"
HALTED_LINE = "tandem: halted"
HALTED = r"^tandem: halted$"
CANNOT_START = "tandem: cannot start: "  # + the reason: tandem refuses to go on and halts
CANNOT_START_GUEST = "tandem: cannot start the guest: "  # + the reason
GUEST_STOPPED = "tandem: guest stopped: "  # + why the guest ended other than by its exit hypercall
POWERED_OFF = GUEST_STOPPED + "the guest powered itself off (ACPI S5)"
LINK_REFUSED = "tandem: the link was refused; tandem keeps running"
# A reason seen in handshake frames that could not be authenticated (another key, another version):
# nothing was refused, the link keeps listening for a peer that holds this key.
LINK_CANNOT_CONNECT = "tandem: the link cannot connect; tandem keeps running and listening"


def guest_exited(code: int) -> str:
    """What tandem prints when a test guest ends through its exit hypercall."""
    return f"tandem: guest exited with code {code}"


# --- the boot report -------------------------------------------------------------------------------
PAGING_WX = "paging: W^X host page tables active"
PCI_MECHANISM1 = "pci: configuration mechanism #1 (no ACPI MCFG table)"
I440FX_HOST_BRIDGE = r"(?m)^pci: 00:00\.0 8086:1237 class 06\.00 \(Host bridge\)"  # Bochs and QEMU's pc
# dump_boot_info=1: "mbi-dump: begin SIZE at ADDRESS", lines of hex, "mbi-dump: end".
MBI_DUMP = "mbi-dump: "
MBI_DUMP_BEGIN = "mbi-dump: begin "
MBI_DUMP_END = "mbi-dump: end"

# --- checkpoints, the guest's network, the protected pair ------------------------------------------
# epoch_report=1: one line per epoch; groups: epoch, dirty pages, pause ticks, backlog ticks, stream
# bytes, full / delta / zero pages, copy-on-write copies.
EPOCH_REPORT = re.compile(r"^checkpoint-epoch: (\d+) dirty=(\d+) pause_ticks=(\d+) backlog_ticks=(\d+) bytes=(\d+) "
                          r"full=(\d+) delta=(\d+) zero=(\d+) cow=(\d+)$", re.M)
CHECKPOINTING_FAILED = "checkpointing failed"
VIRTIO_NEEDS_RESET = "the device needs a reset"  # virtio-net refused something the guest gave it
PROTECTED_PRIMARY = r"^pair: PROTECTED: the backup holds epoch"
PROTECTED_BACKUP = r"^pair: PROTECTED: epoch \d+ committed"
JOIN_PROGRESS = r"^pair: full copy from the primary: \d+ of \d+ guest pages received"  # the backup's join
TOOK_OVER = r"^pair: the guest resumes here from epoch (\d+)"
LOCKSTEP_RUNNING = r"^lockstep: the backup's guest runs from epoch (\d+)"  # a lockstep backup's guest runs

# --- mode=linktest ---------------------------------------------------------------------------------
LINKTEST_COMPLETE = "linktest: complete"
LINKTEST_DONE = (r"linktest: complete|tandem: the link was refused|tandem: the link cannot connect|"
                 r"tandem: halted")  # one side has finished (or cannot go on)
# groups: sent bytes, sent digest, received bytes, expected bytes, received digest, the peer's
# count and digest, the verdict ("verified", ...).
LINKTEST_RESULT = re.compile(r"^linktest: sent (\d+) bytes \(digest (0x[0-9a-f]{16})\), received (\d+) of (\d+) bytes "
                             r"\(digest (0x[0-9a-f]{16}), peer says (\d+) bytes digest (0x[0-9a-f]{16})\): "
                             r"(\w+(?: \w+)?)$", re.M)
# groups: the amount ("8.0 MiB"), milliseconds, KiB/s for both directions together.
LINKTEST_SPEED = re.compile(r"^linktest: (\S+ \w+) in (\d+) ms: (\d+) KiB/s both directions together$", re.M)
