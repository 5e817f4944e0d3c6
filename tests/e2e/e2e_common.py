"""Shared set-up for the end-to-end tests: tandem's build products, ISO variants, running a test
guest, and what the test guests and the image compute. The harness itself is the tandem_lab
package (tools/tandem_lab; CTest puts tools/ on PYTHONPATH)."""

from __future__ import annotations

from pathlib import Path

from tandem_lab.bochs import Bochs
from tandem_lab.console_patterns import BOOT_TIMEOUT, HALTED  # run_guest's deadline and end
from tandem_lab.media import make_iso
from tandem_lab.paths import build_dir, guests_dir, image, workdir

BUILD = build_dir()
IMAGE = image()
IMAGE32 = BUILD / "tandem32.elf"
GUESTS = guests_dir()


def iso_with(name: str, cmdline: str = "", modules: list[tuple[Path, str]] | None = None) -> tuple[Path, Path]:
    """(workdir, iso) for a test that needs its own command line or modules."""
    wd = workdir(name)
    return wd, make_iso(wd / "tandem.iso", cmdline=cmdline, modules=modules)


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def image_text_rodata_hash(elf: Path = IMAGE) -> int:
    """FNV-1a over tandem.elf's read-only loadable segments (text, rodata) as stored in the file:
    what tandem prints as its image hash, if its memory still holds exactly what was loaded."""
    import struct
    data = elf.read_bytes()
    phoff, = struct.unpack_from("<Q", data, 32)
    count, = struct.unpack_from("<H", data, 56)
    segments = []
    for i in range(count):
        p_type, p_flags, offset, vaddr, _paddr, filesz, _memsz, _align = struct.unpack_from("<IIQQQQQQ", data, phoff + 56 * i)
        if p_type == 1 and not p_flags & 2:
            segments.append((vaddr, data[offset:offset + filesz]))
    return fnv1a64(b"".join(seg for _, seg in sorted(segments)))


def image_load_address(elf: Path = IMAGE) -> int:
    import struct
    data = elf.read_bytes()
    phoff, = struct.unpack_from("<Q", data, 32)
    count, = struct.unpack_from("<H", data, 56)
    return min(struct.unpack_from("<IIQQ", data, phoff + 56 * i)[3] for i in range(count)
               if struct.unpack_from("<I", data, phoff + 56 * i)[0] == 1)


def run_guest(name: str, guest: str, cmdline: str = "", guest_cmdline: str = "", cpu: str = "corei7_skylake_x",
              guest_mem: str = "16M", extra_modules=None) -> str:
    """Boots tandem in Bochs with test guest `guest` as a module and returns tandem's console."""
    wd = workdir(name)
    modules = [(GUESTS / f"{guest}.elf", guest)] + list(extra_modules or [])
    full = f"guest_kernel={guest} guest_mem={guest_mem} {cmdline}".strip()
    if guest_cmdline:
        full += f' "guest_cmdline={guest_cmdline}"'
    iso = make_iso(wd / "tandem.iso", cmdline=full, modules=modules)
    return Bochs(wd, iso, cpu=cpu).run_until(HALTED, BOOT_TIMEOUT)


def memwalk_checksum(pages: int, passes: int = 1, pattern: int = 0x5A5A5A5A5A5A5A5A) -> int:
    """What tests/guests/memwalk.cpp prints: FNV-1a over the region after the last pass."""
    import struct
    mask = (1 << 64) - 1
    last = passes - 1
    base_value = (pattern ^ (last * 0x0101010101010101)) & mask
    region = bytearray()
    for page in range(pages):
        region += struct.pack("<512Q", *[(base_value + page * 512 + i) & mask for i in range(512)])
    return fnv1a64(bytes(region))
