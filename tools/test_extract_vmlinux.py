#!/usr/bin/env python3
"""Tests tools/extract_vmlinux against synthetic bzImages: a minimal ELF64 kernel (with a fake
relocation table after it, as a relocatable kernel's payload has) compressed with gzip, xz, lzma and
zstd the way the kernel build does it (size appended to xz, lzma and zstd), plus every failure the
tool must explain: unsupported and unknown compression, corrupt and truncated data, a wrong
appended size, a payload that is not an x86-64 ELF executable, a malformed setup header.

    test_extract_vmlinux.py PATH/TO/extract_vmlinux
"""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile

FAILURES: list[str] = []
PASSED = 0


def elf64(machine: int = 62, etype: int = 2, cls: int = 2) -> bytes:
    """An ELF64 executable: header, one PT_LOAD, 0x100 bytes of 'text', no sections."""
    text = bytes((i * 7 + 1) & 0xFF for i in range(0x100))
    phoff, phnum = 64, 1
    offset = 0x80
    header = b"\x7fELF" + bytes([cls, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, 0x1000000, phoff, 0, 0, 64, 56, phnum, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, offset, 0xFFFFFFFF81000000, 0x1000000, len(text), len(text), 0x200000)
    body = header + ph
    return body + bytes(offset - len(body)) + text


RELOCS = struct.pack("<4I", 0, 0x1234, 0x5678, 0)  # what vmlinux.relocs looks like: 32-bit words


def bzimage(payload: bytes, version: int = 0x020F) -> bytes:
    """A bzImage with 4 setup sectors and `payload` at offset 0x100 of the protected-mode code."""
    setup = 5 * 512
    kernel = bytes(0x100) + payload + bytes(0x40)
    kernel += bytes(-len(kernel) % 16)  # syssize counts whole paragraphs
    f = bytearray(setup + len(kernel))
    f[setup:] = kernel
    struct.pack_into("<B", f, 0x1F1, 4)
    struct.pack_into("<I", f, 0x1F4, (len(kernel) + 15) // 16)
    struct.pack_into("<H", f, 0x1FE, 0xAA55)
    f[0x200:0x202] = b"\xeb\x6a"
    f[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", f, 0x206, version)
    struct.pack_into("<B", f, 0x211, 1)
    struct.pack_into("<I", f, 0x230, 0x200000)
    struct.pack_into("<B", f, 0x234, 1)
    struct.pack_into("<H", f, 0x236, 3)
    struct.pack_into("<I", f, 0x238, 2047)
    struct.pack_into("<II", f, 0x248, 0x100, len(payload))
    struct.pack_into("<Q", f, 0x258, 0x1000000)
    struct.pack_into("<I", f, 0x260, 0x1000000)
    return bytes(f)


def size_append(data: bytes, size: int) -> bytes:
    return data + struct.pack("<I", size)


def run(tool: str, work: str, name: str, image: bytes) -> tuple[int, str, str]:
    src = os.path.join(work, name + ".bzImage")
    out = os.path.join(work, name + ".vmlinux")
    with open(src, "wb") as f:
        f.write(image)
    p = subprocess.run([tool, src, out], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr, out


def expect_ok(tool: str, work: str, name: str, image: bytes, kernel: bytes) -> None:
    rc, text, out = run(tool, work, name, image)
    if rc != 0:
        FAILURES.append(f"{name}: exit {rc}: {text.strip()}")
        return
    with open(out, "rb") as f:
        got = f.read()
    if got != kernel:
        FAILURES.append(f"{name}: output differs from the kernel ({len(got)} vs {len(kernel)} bytes)")
    if os.path.exists(out + ".tmp"):
        FAILURES.append(f"{name}: temporary file left behind")
    global PASSED
    PASSED += 1
    print(f"ok   {name}: {text.strip()}")


def expect_fail(tool: str, work: str, name: str, image: bytes, message: str) -> None:
    rc, text, out = run(tool, work, name, image)
    if rc == 0:
        FAILURES.append(f"{name}: accepted, expected '{message}'")
    elif message not in text:
        FAILURES.append(f"{name}: message '{text.strip()}' lacks '{message}'")
    elif os.path.exists(out) or os.path.exists(out + ".tmp"):
        FAILURES.append(f"{name}: output written despite the failure")
    else:
        global PASSED
        PASSED += 1
        print(f"ok   {name}: {text.strip()}")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tool = sys.argv[1]
    kernel = elf64()
    raw = kernel + RELOCS
    xz = lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    with tempfile.TemporaryDirectory() as work:
        expect_ok(tool, work, "gzip", bzimage(gzip.compress(raw, mtime=0)), kernel)
        expect_ok(tool, work, "xz", bzimage(size_append(xz, len(raw))), kernel)
        expect_ok(tool, work, "lzma", bzimage(size_append(lzma.compress(raw, format=lzma.FORMAT_ALONE), len(raw))), kernel)
        expect_ok(tool, work, "uncompressed", bzimage(kernel), kernel)
        # The zstd cases need the zstd command (Debian package zstd, in tools/require-packages.sh):
        # without it they fail, never skip.
        if shutil.which("zstd"):
            z = subprocess.run(["zstd", "-19", "-c", "-q"], input=raw, capture_output=True, check=True).stdout
            expect_ok(tool, work, "zstd", bzimage(size_append(z, len(raw))), kernel)
            expect_fail(tool, work, "zstd_truncated", bzimage(z[: len(z) // 2]), "zstd: truncated data")
        else:
            FAILURES.append("zstd, zstd_truncated: no zstd command to compress the payload "
                            "(install Debian's zstd: tools/require-packages.sh)")

        expect_fail(tool, work, "bzip2", bzimage(b"BZh91AY&SY" + bytes(32)), "bzip2-compressed, which extract_vmlinux")
        expect_fail(tool, work, "lz4", bzimage(b"\x02\x21\x4c\x18" + bytes(32)), "lz4-compressed")
        expect_fail(tool, work, "unknown", bzimage(b"\x12\x34\x56\x78" + bytes(32)), "unknown payload compression")
        expect_fail(tool, work, "xz_truncated", bzimage(xz[: len(xz) // 2]), "xz: truncated data")
        corrupt = bytearray(xz)
        corrupt[len(xz) // 2] ^= 0xFF
        expect_fail(tool, work, "xz_corrupt", bzimage(size_append(bytes(corrupt), len(raw))), "xz: corrupt data")
        expect_fail(tool, work, "gzip_truncated", bzimage(gzip.compress(raw)[:40]), "gzip: truncated data")
        expect_fail(tool, work, "xz_wrong_size", bzimage(size_append(xz, len(raw) + 1)),
                    f"decompressed to {len(raw)} bytes, but the kernel build recorded {len(raw) + 1}")
        expect_fail(tool, work, "not_elf", bzimage(gzip.compress(b"just text" * 20)),
                    "the decompressed payload is not an ELF file")
        expect_fail(tool, work, "elf32", bzimage(gzip.compress(elf64(cls=1))), "is not ELF64")
        expect_fail(tool, work, "arm64", bzimage(gzip.compress(elf64(machine=183))), "not for x86-64 (e_machine 183)")
        expect_fail(tool, work, "shared_object", bzimage(gzip.compress(elf64(etype=3))), "not an executable (e_type 3)")
        expect_fail(tool, work, "old_protocol", bzimage(gzip.compress(raw), version=0x0207),
                    "boot protocol older than 2.12")
        expect_fail(tool, work, "not_a_kernel", b"\x00" * 4096, "no boot flag 0xaa55")
        no_payload = bytearray(bzimage(gzip.compress(raw)))
        struct.pack_into("<II", no_payload, 0x248, 0, 0)
        expect_fail(tool, work, "no_payload", bytes(no_payload), "the setup header gives no payload")
        expect_fail(tool, work, "empty", b"", "file is shorter than a boot sector")
        p = subprocess.run([tool, os.path.join(work, "does-not-exist"), os.path.join(work, "x")],
                           capture_output=True, text=True)
        if p.returncode == 0 or "cannot open" not in p.stderr:
            FAILURES.append(f"missing input: {p.returncode} {p.stderr.strip()}")
        p = subprocess.run([tool], capture_output=True, text=True)
        if p.returncode != 2 or "usage" not in p.stderr:
            FAILURES.append("no arguments: expected usage and exit 2")
    for f in FAILURES:
        print("FAIL " + f)
    print(f"extract_vmlinux: {PASSED} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
