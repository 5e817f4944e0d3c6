"""The multiboot 2 information block as tandem prints it on its console with dump_boot_info=1."""

from __future__ import annotations


def multiboot2_dump(console: str) -> bytes:
    """The raw information block tandem printed with dump_boot_info=1."""
    lines = console.splitlines()
    try:
        begin = next(i for i, l in enumerate(lines) if l.startswith("mbi-dump: begin "))
        end = next(i for i, l in enumerate(lines) if l == "mbi-dump: end")
    except StopIteration:
        raise AssertionError("no complete 'mbi-dump' block on the console") from None
    size = int(lines[begin].split()[2])
    data = bytes.fromhex("".join(l[len("mbi-dump: "):] for l in lines[begin + 1:end]))
    if len(data) != size:
        raise AssertionError(f"mbi-dump announced {size} bytes, printed {len(data)}")
    return data
