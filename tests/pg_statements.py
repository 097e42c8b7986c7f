"""A TCP proxy in front of PostgreSQL that records every statement its clients send.

psycopg2 sends each statement, ``BEGIN``, ``COMMIT`` and a pool's ``SELECT 1``
included, as one simple-query (``Q``) message, one round trip each, so the
recorded list is exactly the round trips a piece of code costs.
"""

import socket
import struct
import threading
from typing import List, Optional, Tuple

from sqlalchemy.engine import make_url

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


class StatementRecorder:
    """Forwards 127.0.0.1:``port`` to PostgreSQL and records the statements.

    Args:
        upstream: PostgreSQL's host and port.
    """

    def __init__(self, upstream: Tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._statements: List[str] = []
        self._sockets: List[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def in_front_of(cls, url: str) -> "StatementRecorder":
        """A recorder forwarding to the PostgreSQL of a SQLAlchemy ``url``."""
        target = make_url(url)
        return cls((target.host or "127.0.0.1", target.port or 5432))

    def proxied(self, url: str) -> str:
        """``url`` with its host and port replaced by this recorder's."""
        through = make_url(url).set(host="127.0.0.1", port=self.port)
        return through.render_as_string(hide_password=False)

    @property
    def statements(self) -> List[str]:
        """The statements recorded since the last :meth:`clear`, whitespace collapsed."""
        with self._lock:
            return list(self._statements)

    def clear(self) -> None:
        """Forget the statements recorded so far."""
        with self._lock:
            self._statements.clear()

    def drop_connections(self) -> None:
        """Cut every open connection, as a database restart does."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def close(self) -> None:
        """Stop listening and cut every connection."""
        self._closed = True
        _close(self._listener)
        self.drop_connections()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(
                target=self._client_to_server, args=(client, server), daemon=True
            ).start()
            threading.Thread(target=_pipe, args=(server, client), daemon=True).start()

    def _client_to_server(self, client: socket.socket, server: socket.socket) -> None:
        buffer = b""
        started = False  # the first messages (SSL request, startup) have no type byte
        while True:
            data = _recv(client)
            if not data:
                break
            buffer += data
            while True:
                message, buffer, started = _next_message(buffer, started)
                if message is None:
                    break
                if message[:1] == b"Q":
                    statement = message[5:].rstrip(b"\0").decode("utf-8", "replace")
                    with self._lock:
                        self._statements.append(" ".join(statement.split()))
            try:
                server.sendall(data)
            except OSError:
                break
        _close(server)
        _close(client)


def _next_message(buffer: bytes, started: bool) -> Tuple[Optional[bytes], bytes, bool]:
    """Split one protocol message off ``buffer``; None when it is not complete yet."""
    if not started:
        if len(buffer) < 8:
            return None, buffer, started
        (length,) = struct.unpack("!I", buffer[:4])
        (code,) = struct.unpack("!I", buffer[4:8])
        if len(buffer) < length:
            return None, buffer, started
        # After an SSL or GSS request (refused by this local server) the startup follows.
        return buffer[:length], buffer[length:], code not in (_SSL_REQUEST, _GSSENC_REQUEST)
    if len(buffer) < 5:
        return None, buffer, started
    (length,) = struct.unpack("!I", buffer[1:5])
    if len(buffer) < 1 + length:
        return None, buffer, started
    return buffer[: 1 + length], buffer[1 + length :], started


def _pipe(source: socket.socket, target: socket.socket) -> None:
    while True:
        data = _recv(source)
        if not data:
            break
        try:
            target.sendall(data)
        except OSError:
            break
    _close(source)
    _close(target)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
