"""The lines of tandem's serial console that the harness, the tests and the benchmarks wait for
or match: regexes (for EmulatorRun.wait_for, multiline) and plain strings (for `in`)."""

from __future__ import annotations

# Bounds for one boot to tandem's verdict (HALTED). Bochs reaches it in ~3-5 s here; the margin
# covers a loaded CI machine. These are deadlines, not performance assertions.
BOOT_TIMEOUT = 90
HALTED = r"^tandem: halted$"
