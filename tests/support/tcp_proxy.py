"""A TCP byte relay on a loopback port of its own, in front of a real server, that a test can
cut, hold and restore: the honest way to take a shared PostgreSQL (or Redis) away from one
server under test without touching the service that other tests use.

- `cut()`: every relayed connection is closed and new ones are refused, as when the server
  is stopped or its host is gone;
- `hold()`: connections stay open and new ones are accepted, but no byte moves, as when the
  server hangs (only timeouts end the wait);
- `restore()`: relaying resumes (held bytes flow again; after a cut, new connections work).
"""

from __future__ import annotations

import contextlib
import socket
import threading

BUFFER = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = self._listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._relayed: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self._accepting(self._listener)

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            relayed, self._relayed = self._relayed, set()
        if listener is not None:
            _close(listener)
        for connection in relayed:
            _close(connection)

    def hold(self) -> None:
        self._flowing.clear()

    def restore(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listener = self._listen(self.port)
                self._accepting(self._listener)
        self._flowing.set()

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        return listener

    def _accepting(self, listener: socket.socket) -> None:
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # the listener was closed by cut()
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        self._flowing.wait()
        try:
            upstream = socket.create_connection(self._target, timeout=5)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        with self._lock:
            if self._listener is None:  # cut meanwhile
                _close(client)
                _close(upstream)
                return
            self._relayed |= {client, upstream}
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(BUFFER):
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
