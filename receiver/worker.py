"""The gunicorn worker `presence serve` runs: gthread, but a request reaches a thread only once it is whole.

gunicorn's gthread worker hands a connection to a thread as soon as its first byte arrives, and the thread then
reads headers and body with blocking reads: ten senders trickling a body at 1 byte/s held all eight threads of
two workers, and every AP's report in that time was lost (APs never retry). Here the worker's event loop reads
each request without blocking into a buffer until `receiver.framing` says it is whole, and only then gives it to
a thread, which parses it from memory and never waits on the client. A slow or stalled sender therefore costs a
socket and a buffer, not a thread, and the threads serve the APs that have finished sending.

Each request has a deadline for its headers and body together (PRESENCE_REQUEST_DEADLINE_SECONDS, per request,
not per byte): a connection that misses it gets a 408 in the receiver's error shape and is closed, and counts as
a refusal of its client. One request per connection (no keep-alive), so there is no idle connection to hold
either. Connections are closed as gunicorn closes them (write side first, then up to 2 s to drain what the client
still sends, so the answer is not lost to a reset), but from the event loop, not from a thread or while the loop
waits. The durability guarantee is unchanged: the application still answers 2xx only after its commit.
"""

from __future__ import annotations

import errno
import json
import selectors
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import partial

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

from receiver.framing import BODY_OVER_LIMIT, Framer, Framing

LINGER_SECONDS = 2.0  # as gunicorn's close_graceful: time for the client to read the answer and close
LINGER_DRAIN_BYTES = 64 * 1024
_READ_BYTES = 64 * 1024


class _Reading:
    """A connection whose request is still arriving."""

    __slots__ = ("conn", "buffer", "framer", "deadline", "continued")

    def __init__(self, conn: TConn, framer: Framer, deadline: float) -> None:
        self.conn = conn
        self.buffer = bytearray()
        self.framer = framer
        self.deadline = deadline
        self.continued = False


class BufferingWorker(ThreadWorker):
    """gthread with whole requests only; see the module docstring. Settings come from the gunicorn application
    (`receiver.server`): `request_deadline_seconds`, `max_body_bytes` and `refused` (how a timed-out request is
    counted and logged)."""

    def init_process(self) -> None:
        self.reading: OrderedDict[TConn, _Reading] = OrderedDict()  # by deadline: all share one duration
        self.lingering: OrderedDict[socket.socket, float] = OrderedDict()
        self.over_limit: set[socket.socket] = set()  # handed on as BODY_TOO_LARGE, until answered
        super().init_process()

    def load_wsgi(self) -> None:
        """The application, told in its environ (BODY_OVER_LIMIT) which requests came with a body over the limit."""
        super().load_wsgi()
        application: Callable[..., Iterable[bytes]] = self.wsgi  # type: ignore[has-type]

        def marked(environ, start_response):
            if environ.get("gunicorn.socket") in self.over_limit:
                environ[BODY_OVER_LIMIT] = True
            return application(environ, start_response)

        self.wsgi = marked

    # --- reading requests in the event loop ----------------------------------------------------------------

    def accept(self, listener) -> None:
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking from here
        state = _Reading(conn, Framer(self.app.max_body_bytes), time.monotonic() + self.app.request_deadline_seconds)
        self.reading[conn] = state
        self.poller.register(client, selectors.EVENT_READ, partial(self._readable, state))

    def _readable(self, state: _Reading, client: socket.socket) -> None:
        try:
            data = client.recv(_READ_BYTES)
        except BlockingIOError:
            return
        except OSError:  # reset by the client
            self._forget(state)
            self._done(state.conn.sock, linger=False)
            return
        if not data:  # the client stopped sending: what it sent is all there will be
            self._forget(state)
            if state.buffer:
                self._hand_to_thread(state)
            else:
                self._done(client, linger=False)
            return
        state.buffer += data
        framing = state.framer.feed(state.buffer)
        if framing is Framing.NEED_MORE:
            if state.framer.expects_continue and not state.continued:
                state.continued = True  # a client that waits for it before sending the body (curl does)
                _send_quietly(client, b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        self._forget(state)
        if framing is Framing.HEADERS_TOO_LARGE:
            self._refuse(state, 431, "Request Header Fields Too Large", "request headers are too large")
            return
        if framing is Framing.BODY_TOO_LARGE:
            self.over_limit.add(client)  # only the body's start is buffered: the application answers 413 unread
        self._hand_to_thread(state)  # WHOLE, BODY_TOO_LARGE, or HAND_ON for gunicorn's parser to refuse

    def _hand_to_thread(self, state: _Reading) -> None:
        conn = state.conn
        conn.parser = http.get_parser(self.cfg, [bytes(state.buffer)], conn.client)  # parses from memory only
        conn.initialized = True  # TConn.init would wrap the socket in a parser of its own
        conn.data_ready = True
        self.enqueue_req(conn)

    def _forget(self, state: _Reading) -> None:
        self.reading.pop(state.conn, None)
        try:
            self.poller.unregister(state.conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    # --- deadlines ----------------------------------------------------------------------------------------

    def murder_pending(self) -> None:
        """Called by the loop about every second: requests past their deadline, and lingering closes past theirs."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading:
            state = next(iter(self.reading.values()))
            if state.deadline > now:
                break
            self._forget(state)
            seconds = self.app.request_deadline_seconds
            self._refuse(
                state,
                408,
                "Request Timeout",
                f"the request was not received within {seconds:g} s (PRESENCE_REQUEST_DEADLINE_SECONDS); "
                "nothing was stored",
            )
        while self.lingering:
            sock, deadline = next(iter(self.lingering.items()))
            if deadline > now:
                break
            self._end_linger(sock)

    def _refuse(self, state: _Reading, status: int, reason: str, message: str) -> None:
        """Answer in the receiver's error shape from the event loop, count it as a refusal, and close."""
        body = json.dumps({"ok": False, "status": status, "error": message}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        _send_quietly(state.conn.sock, head + body)
        self.app.refused(state.conn.client, _path(state.buffer), status, message)
        self._done(state.conn.sock, linger=True)

    # --- closing --------------------------------------------------------------------------------------------

    def finish_request(self, conn, fs) -> None:
        """A thread has answered (or given up on) the connection's one request: close it, from the loop."""
        self._done(conn.sock, linger=True)

    def _done(self, sock: socket.socket, *, linger: bool) -> None:
        """The connection's request is over: it no longer counts against worker_connections; close it."""
        self.nr_conns -= 1
        self.over_limit.discard(sock)
        if not linger:
            _close_quietly(sock)
            return
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, self._drain)
        except (OSError, ValueError, KeyError):
            _close_quietly(sock)
            return
        self.lingering[sock] = time.monotonic() + LINGER_SECONDS

    def _drain(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(LINGER_DRAIN_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._end_linger(sock)

    def _end_linger(self, sock: socket.socket) -> None:
        self.lingering.pop(sock, None)
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass
        _close_quietly(sock)

    def run(self) -> None:
        try:
            super().run()
        finally:
            for sock in list(self.lingering):
                _close_quietly(sock)
            for state in list(self.reading.values()):
                _close_quietly(state.conn.sock)


def _path(buffer: bytes | bytearray) -> str:
    """The path of a request line, if one arrived (for the refusal's log line and metrics)."""
    line = bytes(buffer[:2048]).split(b"\r\n", 1)[0].split(b" ")
    return line[1].split(b"?", 1)[0].decode("latin-1")[:200] if len(line) >= 2 else ""


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.send(data)  # non-blocking: a few hundred bytes fit any socket buffer; a client that reads none loses it
    except OSError:
        pass


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
