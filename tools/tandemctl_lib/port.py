"""Opening tandem's console: a serial device (/dev/ttyS0, /dev/ttyUSB0), a pseudo-terminal
(/dev/pts/N, e.g. an emulator's COM1) or a pyserial URL (socket://HOST:PORT for a TCP console
server such as tandem_lab's relay, rfc2217://HOST:PORT). Local devices are opened with an
exclusive lock, so two programs never type into one console at once."""

from __future__ import annotations

import errno
import os
import sys
import time

from tandemctl_lib.errors import ConnectionLost, PortBusy, PortMissing, TandemctlError

# Debian's python3-serial lives here; a Python of its own (pyenv, a venv) does not look there,
# and pyserial is pure Python, so it works from any Python 3.
DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"

# A 16550's receive FIFO holds 16 bytes and tandem empties it at its timer tick: typed text goes
# out in chunks that fit, with a pause between them, so no byte is lost to an overrun.
WRITE_CHUNK = 8
WRITE_PAUSE = 0.01

# How long one read waits for the first byte: short, so deadlines are kept to within this.
READ_POLL = 0.05


def import_serial():
    """pyserial, from this Python's packages or from Debian's (see DEBIAN_DIST_PACKAGES)."""
    try:
        import serial
    except ImportError:
        if not os.path.isdir(os.path.join(DEBIAN_DIST_PACKAGES, "serial")):
            raise TandemctlError("needs pyserial (Debian: apt-get install python3-serial)") from None
        sys.path.append(DEBIAN_DIST_PACKAGES)
        import serial
    return serial


def is_url(port: str) -> bool:
    return "://" in port


def open_port(port: str, baud: int):
    """The open console; PortMissing, PortBusy or TandemctlError with the reason otherwise."""
    serial = import_serial()
    if not is_url(port) and not os.path.exists(port):
        raise PortMissing(f"{port} does not exist (a serial device such as /dev/ttyS0 or /dev/ttyUSB0, "
                          f"a pseudo-terminal /dev/pts/N, or socket://HOST:PORT)")
    options = {"baudrate": baud, "timeout": READ_POLL, "write_timeout": 5}
    if not is_url(port):
        options["exclusive"] = True
    try:
        handle = serial.serial_for_url(port, do_not_open=True, **options)
        open_keeping_input(handle, port)
        return handle
    except serial.SerialException as e:
        raise open_error(port, e) from None
    except ValueError as e:  # a malformed URL or setting
        raise TandemctlError(f"cannot open {port}: {e}") from None


def open_keeping_input(handle, port: str) -> None:
    """handle.open(), but for socket:// without the input flush pyserial's open() ends with: a
    console server that serves one client at a time (tandem_lab's relay) says it is busy in its
    first line and hangs up, and that line must reach the stream (stream.BUSY_LINE)."""
    if not port.startswith("socket://"):
        handle.open()
        return
    handle.reset_input_buffer = lambda: None  # this instance only, during open()
    try:
        handle.open()
    finally:
        del handle.reset_input_buffer


def open_error(port: str, e: Exception) -> TandemctlError:
    """The reason pyserial gave, as tandemctl says it."""
    text = str(e)
    code = getattr(e, "errno", None)
    lowered = text.lower()
    if "exclusively lock" in lowered or code == errno.EBUSY or "already open" in lowered or "busy" in lowered:
        return PortBusy(f"{port} is busy: another program has it open (a terminal, another tandemctl)")
    if code == errno.ENOENT or "no such file" in lowered:
        return PortMissing(f"{port} does not exist")
    if code == errno.EACCES or "permission denied" in lowered:
        return TandemctlError(f"cannot open {port}: permission denied (is your user in the dialout group?)")
    if "connection refused" in lowered:
        return TandemctlError(f"cannot connect to {port}: connection refused (is the console server running?)")
    if code == errno.ENOTTY or "inappropriate ioctl" in lowered:
        return TandemctlError(f"{port} is not a serial port or terminal")
    return TandemctlError(f"cannot open {port}: {text.removeprefix(f'Could not open port {port}: ')}")


def write_paced(handle, port: str, data: bytes) -> None:
    """Types `data` on the console in FIFO-sized chunks (WRITE_CHUNK says why)."""
    serial = import_serial()
    for start in range(0, len(data), WRITE_CHUNK):
        if start:
            time.sleep(WRITE_PAUSE)
        try:
            # write() returns once all is handed over (or after write_timeout); no flush(): on a
            # pseudo-terminal that waits for the other side to read, forever if it never does.
            handle.write(data[start:start + WRITE_CHUNK])
        except (serial.SerialException, OSError) as e:
            raise ConnectionLost(f"cannot write to {port}: {e}") from None
