"""The multiboot 2 information block as tandem prints it on its console with dump_boot_info=1."""

from __future__ import annotations

from tandem_lab.console_patterns import MBI_DUMP, MBI_DUMP_BEGIN, MBI_DUMP_END


def multiboot2_dump(console: str) -> bytes:
    """The raw information block tandem printed with dump_boot_info=1."""
    lines = console.splitlines()
    try:
        begin = next(i for i, l in enumerate(lines) if l.startswith(MBI_DUMP_BEGIN))
        end = next(i for i, l in enumerate(lines) if l == MBI_DUMP_END)
    except StopIteration:
        raise AssertionError("no complete 'mbi-dump' block on the console") from None
    size = int(lines[begin].split()[2])
    data = bytes.fromhex("".join(l[len(MBI_DUMP):] for l in lines[begin + 1:end]))
    if len(data) != size:
        raise AssertionError(f"mbi-dump announced {size} bytes, printed {len(data)}")
    return data
