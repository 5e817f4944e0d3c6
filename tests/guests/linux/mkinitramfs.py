#!/usr/bin/env python3
"""Builds the initramfs of tandem's Linux test guest: a gzip-compressed cpio archive in the "newc"
format (Documentation/driver-api/early-userspace/buffer-format.rst) with busybox, the counter
service, /init, the virtio network modules and their dependencies, and /www for busybox httpd
(index.html, a 1 MiB file and its sha256). The archive is reproducible: entries sorted, owner 0,
mtime 0, gzip header without a time stamp.

    mkinitramfs.py --out initramfs.cpio.gz --busybox BUSYBOX --counter COUNTER_SERVICE --init INIT
                   --modules-dir ROOT/lib/modules/KVER --module virtio_net [--module ...]
                   [--blob-sha256-out FILE] [--manifest-out FILE]

Dependencies come from each module's .modinfo "depends=" entry (what depmod turns into modules.dep;
Debian's linux-image package ships no modules.dep, depmod writes it at install time). Modules
shipped compressed (.ko.xz, .ko.zst, .ko.gz) are decompressed: busybox insmod takes plain .ko.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import lzma
import os
import shutil
import struct
import subprocess
import sys

BLOB_SIZE = 1 << 20


class Archive:
    """A cpio "newc" archive built in memory."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, bytes, int, int]] = {}  # name -> (mode, data, rdev major, minor)

    def directory(self, name: str) -> None:
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self.entries.setdefault("/".join(parts[:i]), (0o040755, b"", 0, 0))

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.directory(os.path.dirname(name))
        self.entries[name.strip("/")] = (0o100000 | mode, data, 0, 0)

    def symlink(self, name: str, target: str) -> None:
        self.directory(os.path.dirname(name))
        self.entries[name.strip("/")] = (0o120777, target.encode(), 0, 0)

    def char_device(self, name: str, major: int, minor: int) -> None:
        self.directory(os.path.dirname(name))
        self.entries[name.strip("/")] = (0o020600, b"", major, minor)

    def bytes(self) -> bytes:
        out = io.BytesIO()

        def entry(ino: int, name: str, mode: int, data: bytes, rmajor: int, rminor: int) -> None:
            encoded = name.encode() + b"\0"
            fields = (ino, mode, 0, 0, 2 if (mode & 0o170000) == 0o040000 else 1, 0, len(data),
                      0, 0, rmajor, rminor, len(encoded), 0)
            out.write(b"070701" + b"".join(b"%08X" % f for f in fields) + encoded)
            out.write(b"\0" * (-out.tell() % 4))
            out.write(data)
            out.write(b"\0" * (-out.tell() % 4))

        for ino, name in enumerate(sorted(self.entries), start=1):
            mode, data, rmajor, rminor = self.entries[name]
            entry(ino, name, mode, data, rmajor, rminor)
        entry(0, "TRAILER!!!", 0, b"", 0, 0)
        return out.getvalue()


def modinfo(ko: bytes) -> dict[str, str]:
    """The key=value strings of a module's .modinfo section (ELF64 little-endian)."""
    if ko[:4] != b"\x7fELF" or ko[4] != 2:
        raise SystemExit("mkinitramfs: a module is not an ELF64 file")
    shoff, = struct.unpack_from("<Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _, _, _, offset, size = struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize)
        return name, offset, size

    _, names_at, _ = section(shstrndx)
    for i in range(shnum):
        name, offset, size = section(i)
        end = ko.index(b"\0", names_at + name)
        if ko[names_at + name:end] == b".modinfo":
            info: dict[str, str] = {}
            for item in ko[offset:offset + size].split(b"\0"):
                if b"=" in item:
                    key, value = item.decode(errors="replace").split("=", 1)
                    info.setdefault(key, value)
            return info
    raise SystemExit("mkinitramfs: a module has no .modinfo section")


def load_module(path: str) -> bytes:
    if path.endswith(".ko"):
        with open(path, "rb") as f:
            return f.read()
    if path.endswith(".ko.xz"):
        with lzma.open(path) as f:
            return f.read()
    if path.endswith(".ko.gz"):
        with gzip.open(path) as f:
            return f.read()
    if path.endswith(".ko.zst"):
        if not shutil.which("zstd"):
            raise SystemExit(f"mkinitramfs: {path} is zstd-compressed: install zstd")
        return subprocess.run(["zstd", "-dcq", path], check=True, capture_output=True).stdout
    raise SystemExit(f"mkinitramfs: unknown module file type: {path}")


def index_modules(modules_dir: str) -> dict[str, str]:
    """Module name (with '_') -> path of its file below modules_dir."""
    found: dict[str, str] = {}
    for root, _, files in os.walk(os.path.join(modules_dir, "kernel")):
        for f in files:
            for suffix in (".ko", ".ko.xz", ".ko.zst", ".ko.gz"):
                if f.endswith(suffix):
                    found.setdefault(f[: -len(suffix)].replace("-", "_"), os.path.join(root, f))
    return found


def resolve(wanted: list[str], modules_dir: str, kver: str) -> list[tuple[str, str, bytes]]:
    """The modules and their dependencies, each after what it depends on: (name, relative path, bytes)."""
    index = index_modules(modules_dir)
    ordered: list[tuple[str, str, bytes]] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str, needed_by: str) -> None:
        name = name.replace("-", "_")
        if name in done:
            return
        if name in visiting:
            raise SystemExit(f"mkinitramfs: module dependency cycle through {name}")
        if name not in index:
            raise SystemExit(f"mkinitramfs: module {name} (needed by {needed_by}) is not in {modules_dir}")
        visiting.add(name)
        path = index[name]
        data = load_module(path)
        info = modinfo(data)
        vermagic = info.get("vermagic", "")
        if not vermagic.startswith(kver + " "):
            raise SystemExit(f"mkinitramfs: {path} is for '{vermagic}', not {kver}")
        for dep in filter(None, info.get("depends", "").split(",")):
            visit(dep, name)
        visiting.discard(name)
        done.add(name)
        relative = os.path.relpath(path, modules_dir)
        for suffix in (".xz", ".zst", ".gz"):
            if relative.endswith(".ko" + suffix):
                relative = relative[: -len(suffix)]
        ordered.append((name, relative, data))

    for w in wanted:
        visit(w, "the command line")
    return ordered


def blob() -> bytes:
    """1 MiB of reproducible bytes: SHA-256 in counter mode."""
    return b"".join(hashlib.sha256(b"tandem-blob-%d" % i).digest() for i in range(BLOB_SIZE // 32))


def index_html(kver: str, blob_sha: str, modules: list[str]) -> bytes:
    return f"""<!doctype html>
<html><head><title>tandem Linux test guest</title></head>
<body>
<h1>tandem Linux test guest</h1>
<p>Debian's Linux {kver} with busybox, running under tandem.</p>
<ul>
<li><a href="blob.bin">blob.bin</a>: {BLOB_SIZE} bytes, sha256 {blob_sha}
(<a href="blob.bin.sha256">blob.bin.sha256</a>)</li>
<li>counter service: UDP, "inc &lt;id&gt;" answered by "ok &lt;id&gt; &lt;value&gt;"</li>
<li>modules: {", ".join(modules)}</li>
</ul>
</body></html>
""".encode()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--busybox", required=True)
    p.add_argument("--counter", required=True)
    p.add_argument("--init", required=True)
    p.add_argument("--modules-dir", required=True, help="ROOT/lib/modules/KVER of the unpacked kernel package")
    p.add_argument("--module", action="append", default=[], help="a module to include (repeatable)")
    p.add_argument("--blob-sha256-out")
    p.add_argument("--manifest-out")
    a = p.parse_args()

    kver = os.path.basename(os.path.normpath(a.modules_dir))
    modules = resolve(a.module, a.modules_dir, kver)
    archive = Archive()
    for d in ("bin", "sbin", "dev", "etc/tandem", "proc", "sys", "tmp", "run", "root", "www", f"lib/modules/{kver}"):
        archive.directory(d)
    # The kernel opens /dev/console for init's standard streams before devtmpfs is mounted.
    archive.char_device("dev/console", 5, 1)
    archive.char_device("dev/null", 1, 3)
    with open(a.busybox, "rb") as f:
        archive.file("bin/busybox", f.read(), 0o755)
    archive.symlink("bin/sh", "busybox")
    with open(a.counter, "rb") as f:
        archive.file("bin/counter_service", f.read(), 0o755)
    with open(a.init, "rb") as f:
        archive.file("init", f.read(), 0o755)
    for _, relative, data in modules:
        archive.file(f"lib/modules/{kver}/{relative}", data)
    archive.file("etc/tandem/modules", "".join(relative + "\n" for _, relative, _ in modules).encode())
    data = blob()
    sha = hashlib.sha256(data).hexdigest()
    archive.file("www/blob.bin", data)
    archive.file("www/blob.bin.sha256", f"{sha}  blob.bin\n".encode())
    archive.file("www/index.html", index_html(kver, sha, [name for name, _, _ in modules]))

    raw = archive.bytes()
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as z:
            z.write(raw)
    os.replace(tmp, a.out)
    if a.blob_sha256_out:
        with open(a.blob_sha256_out, "w") as f:
            f.write(f"{sha}  blob.bin\n")
    if a.manifest_out:
        with open(a.manifest_out, "w") as f:
            for name, relative, ko in modules:
                f.write(f"module {name} {relative} {len(ko)}\n")
            f.write(f"cpio {len(raw)}\n")
    print(f"mkinitramfs: {a.out}: {os.path.getsize(a.out)} bytes ({len(raw)} uncompressed), "
          f"modules in load order: {' '.join(name for name, _, _ in modules)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
