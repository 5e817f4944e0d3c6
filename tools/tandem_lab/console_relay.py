"""ConsoleRelay: an emulated machine's serial console over TCP, for one client at a time, so that
tools/tandemctl (`--port socket://127.0.0.1:PORT`) and people (`nc 127.0.0.1 PORT`) can use a
console whose pseudo-terminal the lab already holds (Bochs' COM1: bochs.py).

The relay does not read the console itself: whoever reads it (Bochs' copy thread, which also
writes serial.log) hands each chunk to forward(). What the client sends is typed into the file
descriptor one byte per `pace` seconds (Bochs reads one character per serial poll), holding
`lock` for the whole chunk so that it never interleaves with another writer's sequence (Bochs.send()
takes the same lock). A second client while one is connected is told so in one line and hung up
on: two programs typing into one console would garble each other's commands.
"""

from __future__ import annotations

import os
import socket
import threading
import time

BUSY = b"tandem_lab: console busy: another client is connected\n"
ACCEPT_POLL = 0.2      # how often the accepting thread looks at stop()
REFUSE_LINGER = 1.0    # how long a refused client may take to read the busy line and go


class ConsoleRelay:
    """One TCP client (127.0.0.1, an ephemeral port: `url`) bridged to a file descriptor."""

    def __init__(self, fd: int, pace: float = 0.01, lock: threading.Lock | None = None):
        self._fd = fd
        self._pace = pace
        self._lock = lock if lock is not None else threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(ACCEPT_POLL)
        self._client: socket.socket | None = None
        self._client_lock = threading.Lock()  # _client, between accept, forward() and the client's thread
        self._stopping = threading.Event()
        self._accepting: threading.Thread | None = None
        self._threads: list[threading.Thread] = []  # the clients' (served or refused)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self._server.getsockname()[1]}"

    @property
    def has_client(self) -> bool:
        with self._client_lock:
            return self._client is not None

    def start(self) -> "ConsoleRelay":
        self._accepting = threading.Thread(target=self._accept_loop, name="console-relay-accept", daemon=True)
        self._accepting.start()
        return self

    def forward(self, data: bytes) -> None:
        """The console's output, to the client if one is connected. Never blocks: a client that
        does not read loses what its socket buffer cannot take (serial.log still has it)."""
        with self._client_lock:
            client = self._client
        if client is None:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[client.send(view, socket.MSG_DONTWAIT):]
        except OSError:
            pass  # full (BlockingIOError) or gone: the client's thread notices a closed connection

    def stop(self) -> None:
        """Closes the listening socket and the client, and waits for the relay's threads."""
        self._stopping.set()
        if self._accepting is not None:
            self._accepting.join(timeout=5)  # no client threads start after this
        self._server.close()
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            _hang_up(client)
        for thread in list(self._threads):
            thread.join(timeout=5)

    def _spawn(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._client_lock:
                taken = self._client is not None or self._stopping.is_set()
                if not taken:
                    self._client = conn
            if taken:
                self._spawn(self._refuse, "console-relay-refuse", conn)
            else:
                self._spawn(self._serve, "console-relay-client", conn)

    def _refuse(self, conn: socket.socket) -> None:
        """The busy line, then the end of the connection once the client has read it (closing with
        its bytes unread would reset the connection, and the line might never arrive)."""
        try:
            conn.sendall(BUSY)
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(REFUSE_LINGER)
            while conn.recv(4096):
                pass
        except OSError:
            pass
        finally:
            conn.close()

    def _serve(self, conn: socket.socket) -> None:
        """The client's bytes into the console until it hangs up (or stop())."""
        try:
            while not self._stopping.is_set():
                data = conn.recv(4096)
                if not data:
                    return
                self._type(data)
        except OSError:
            return
        finally:
            with self._client_lock:
                if self._client is conn:
                    self._client = None
            conn.close()

    def _type(self, data: bytes) -> None:
        with self._lock:
            for byte in data:
                if self._stopping.is_set():
                    return
                os.write(self._fd, bytes([byte]))
                time.sleep(self._pace)


def _hang_up(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)  # wakes the client's thread in recv()
    except OSError:
        pass
