"""QEMU (x86_64) for the boot paths (ISO as CD, ISO as raw disk, PXE, -kernel, UEFI) under TCG,
or KVM on an Intel host with nested VT-x."""

from __future__ import annotations

from pathlib import Path

from tandem_lab.emulator import EmulatorRun


class Qemu(EmulatorRun):
    """QEMU (x86_64). boot: 'cdrom' | 'disk' (ISO attached as a raw hard disk: the USB-stick case)
    | 'pxe' (GRUB over TFTP from `tftp_dir`) | 'kernel' (multiboot 1 -kernel) | 'uefi' (OVMF).
    machine: 'pc' (i440fx, no ACPI MCFG table) or 'q35' (PCI Express, ECAM described by an MCFG)."""

    name = "qemu"

    def __init__(self, workdir: Path, boot: str = "cdrom", iso: Path | None = None,
                 tftp_dir: Path | None = None, kernel: Path | None = None, append: str = "",
                 memory_mib: int = 256, kvm: bool = False, hard_timeout: float = 120,
                 extra: list[str] | None = None, machine: str = "pc"):
        super().__init__(workdir, hard_timeout)
        self.machine = machine
        # Absolute paths, as Bochs has them: QEMU runs in the work directory, where a relative path
        # (run-qemu.sh passes build/tandem.iso) names nothing.
        self.iso, self.tftp_dir, self.kernel = (None if p is None else Path(p).resolve()
                                                for p in (iso, tftp_dir, kernel))
        self.boot, self.append = boot, append
        self.memory_mib, self.kvm = memory_mib, kvm
        self.extra = extra or []
        self.name = f"qemu ({boot}{', kvm' if kvm else ', tcg'})"

    def command(self) -> list[str]:
        cmd = ["qemu-system-x86_64", "-machine", self.machine, "-m", str(self.memory_mib), "-display", "none",
               "-no-reboot", "-monitor", "none", "-serial", f"file:{self.serial_path}"]
        cmd += ["-accel", "kvm", "-cpu", "host"] if self.kvm else ["-accel", "tcg"]
        if self.boot == "cdrom":
            cmd += ["-cdrom", str(self.iso), "-boot", "d"]
        elif self.boot == "disk":
            # snapshot=on: the run never writes to the image.
            cmd += ["-drive", f"file={self.iso},format=raw,if=ide,snapshot=on", "-boot", "c"]
        elif self.boot == "pxe":
            cmd += ["-netdev", f"user,id=n0,tftp={self.tftp_dir},bootfile=boot/grub/i386-pc/core.0",
                    "-device", "e1000,netdev=n0", "-boot", "n"]
        elif self.boot == "kernel":
            cmd += ["-kernel", str(self.kernel), "-append", self.append]
        elif self.boot == "uefi":
            cmd += ["-bios", ovmf_firmware(), "-cdrom", str(self.iso)]
        else:
            raise ValueError(f"unknown boot method {self.boot}")
        return cmd + self.extra


def ovmf_firmware() -> str:
    for candidate in ("/usr/share/ovmf/OVMF.fd", "/usr/share/qemu/OVMF.fd"):
        if Path(candidate).exists():
            return candidate
    raise FileNotFoundError("OVMF firmware not found (Debian package ovmf)")
