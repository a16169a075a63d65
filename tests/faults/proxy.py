"""A TCP proxy the fault suite puts between a function and a service, that can turn the
service slow at will: once stalled it accepts connections and never answers, and stops
forwarding on connections already open (what a hung SSM looks like to a warm client)."""

from __future__ import annotations

import socket
import threading

__all__ = ["SwitchableProxy"]


class SwitchableProxy:
    def __init__(self, target: str) -> None:
        host, port = target.split("//", 1)[-1].rstrip("/").split(":")
        self._target = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stalled = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="switchable-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def stall(self) -> None:
        self._stalled.set()

    def resume(self) -> None:
        self._stalled.clear()

    def close(self) -> None:
        self._closed.set()
        for sock in [self._listener, *self._sockets]:
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self._sockets.append(client)
            if self._stalled.is_set():
                continue  # accepted, never answered
            upstream = socket.create_connection(self._target)
            self._sockets.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                data = source.recv(65536)
                if not data:
                    break
                while self._stalled.is_set() and not self._closed.is_set():
                    self._closed.wait(0.1)  # hold what arrived
                sink.sendall(data)
        except OSError:
            pass
