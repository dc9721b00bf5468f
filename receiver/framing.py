"""Where an HTTP/1.1 request ends, told from the bytes received so far (for receiver.worker's buffering).

Not an HTTP parser: gunicorn parses the request once it is whole. This only answers "is it whole yet?", cheaply
and incrementally (each call resumes where the last stopped), and is conservative: anything it does not
understand is handed on at once (`Framing.HAND_ON`) for gunicorn's parser to refuse with its own 4xx.
"""

from __future__ import annotations

import enum
import re

MAX_HEADER_BYTES = 64 * 1024  # gunicorn's own limits allow about 800 KiB of fields; no AP sends a tenth of this
_HEADER_END = b"\r\n\r\n"
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(;[^\r\n]*)?\r\n")
_MAX_CHUNK_LINE = 4096


class Framing(enum.Enum):
    NEED_MORE = "need more bytes"
    WHOLE = "the request is whole"
    HAND_ON = "not framed as expected: let gunicorn's parser refuse it"
    HEADERS_TOO_LARGE = "no end of headers within MAX_HEADER_BYTES"
    BODY_TOO_LARGE = "the body is over max_body_bytes: handed on for the application's 413"


BODY_OVER_LIMIT = "presence.body_over_limit"
"""The WSGI environ key receiver.worker sets on a request it handed on as BODY_TOO_LARGE: its buffer holds only
the start of the body, so gunicorn's chunked reader runs out of bytes (a 400) wherever its pieces happen to end,
and the application must answer 413 without reading the body."""


class Framer:
    """Follows one request's bytes: headers, then a body of Content-Length bytes or chunked, up to its end.

    A body over `max_body_bytes` is handed on at once (BODY_TOO_LARGE) when its Content-Length says so, and a
    chunked one once one byte past the limit has arrived: the application refuses it with 413.
    """

    def __init__(self, max_body_bytes: int, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.header_end: int | None = None  # offset of the first body byte
        self.expects_continue = False
        self._length: int | None = None
        self._chunked = False
        self._cursor = 0  # chunked: offset of the next chunk-size line
        self._body_bytes = 0  # chunked: decoded bytes so far

    def feed(self, buffer: bytes | bytearray) -> Framing:
        """Where the request stands, given every byte received so far (the same growing buffer each time)."""
        if self.header_end is None:
            end = buffer.find(_HEADER_END)
            if end < 0:
                return Framing.HEADERS_TOO_LARGE if len(buffer) > self.max_header_bytes else Framing.NEED_MORE
            if end > self.max_header_bytes:
                return Framing.HEADERS_TOO_LARGE
            self.header_end = end + len(_HEADER_END)
            verdict = self._read_headers(bytes(buffer[:end]))
            if verdict is not None:
                return verdict
            self._cursor = self.header_end
        if self._length is not None:
            if self._length > self.max_body_bytes:  # refused (413) from its headers alone, not waiting for the body
                return Framing.BODY_TOO_LARGE
            return Framing.WHOLE if len(buffer) - self.header_end >= self._length else Framing.NEED_MORE
        if self._chunked:
            return self._follow_chunks(buffer)
        return Framing.WHOLE  # no body

    def _read_headers(self, head: bytes) -> Framing | None:
        lengths: list[bytes] = []
        codings: list[bytes] = []
        for line in head.split(b"\r\n")[1:]:
            name, separator, value = line.partition(b":")
            if not separator:
                return Framing.HAND_ON
            key = name.strip().lower()
            if key == b"content-length":
                lengths.append(value.strip())
            elif key == b"transfer-encoding":
                codings.extend(part.strip().lower() for part in value.split(b","))
            elif key == b"expect" and value.strip().lower() == b"100-continue":
                self.expects_continue = head.split(b"\r\n", 1)[0].endswith(b"HTTP/1.1")
        if codings and lengths:
            return Framing.HAND_ON  # request smuggling territory: gunicorn refuses it
        if codings:
            if codings[-1] != b"chunked":
                return Framing.HAND_ON
            self._chunked = True
            return None
        if lengths:
            if len(set(lengths)) != 1 or not lengths[0].isdigit() or len(lengths[0]) > 18:
                return Framing.HAND_ON
            self._length = int(lengths[0])
        return None

    def _follow_chunks(self, buffer: bytes | bytearray) -> Framing:
        while True:
            match = _CHUNK_SIZE.match(buffer, self._cursor)
            if match is None:
                line_end = buffer.find(b"\r\n", self._cursor, self._cursor + _MAX_CHUNK_LINE)
                if line_end >= 0 or len(buffer) - self._cursor > _MAX_CHUNK_LINE:
                    return Framing.HAND_ON  # a chunk-size line that is not one
                return Framing.NEED_MORE
            size = int(match.group(1), 16)
            if size == 0:  # the last chunk, then trailer fields up to an empty line
                trailers = match.end()
                if buffer.startswith(b"\r\n", trailers):
                    return Framing.WHOLE
                end = buffer.find(_HEADER_END, trailers - 2)
                if end >= 0:
                    return Framing.WHOLE
                too_long = len(buffer) - trailers > self.max_header_bytes
                return Framing.HAND_ON if too_long else Framing.NEED_MORE
            data_end = match.end() + size
            if self._body_bytes + size > self.max_body_bytes:
                # Over the limit once one byte past it is here (a chunk size alone may be a lie until then).
                wanted = match.end() + self.max_body_bytes - self._body_bytes + 1
                return Framing.BODY_TOO_LARGE if len(buffer) >= wanted else Framing.NEED_MORE
            if len(buffer) < data_end + 2:
                return Framing.NEED_MORE
            if buffer[data_end : data_end + 2] != b"\r\n":
                return Framing.HAND_ON
            self._body_bytes += size
            self._cursor = data_end + 2
