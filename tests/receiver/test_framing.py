"""receiver.framing: when a request's bytes are whole, fed the way a socket delivers them (any split)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.framing import Framer, Framing

HEAD = b"POST /ingest/engenius HTTP/1.1\r\nHost: r\r\n"


def request(*headers: bytes, body: bytes = b"") -> bytes:
    return HEAD + b"".join(header + b"\r\n" for header in headers) + b"\r\n" + body


WHOLE = {
    "no-body": request(),
    "content-length": request(b"Content-Length: 5", body=b"hello"),
    "chunked": request(b"Transfer-Encoding: chunked", body=b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n"),
    "chunked-trailers": request(b"Transfer-Encoding: chunked", body=b"2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n"),
}


@pytest.mark.parametrize("raw", WHOLE.values(), ids=WHOLE.keys())
def test_whole_requests_are_whole_only_at_their_last_byte(raw):
    framer = Framer(max_body_bytes=100)
    for end in range(1, len(raw)):
        assert framer.feed(raw[:end]) is Framing.NEED_MORE, raw[:end]
    assert framer.feed(raw) is Framing.WHOLE


@given(
    body=st.binary(max_size=300),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=20),
    cuts=st.lists(st.integers(1, 50), max_size=30),
)
def test_any_chunking_of_any_body_split_anywhere_is_whole_exactly_at_its_end(body, sizes, cuts):
    chunks, rest = [], body
    for size in sizes:
        if rest:
            chunks.append(rest[:size])
            rest = rest[size:]
    if rest:
        chunks.append(rest)
    encoded = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for chunk in chunks) + b"0\r\n\r\n"
    raw = request(b"Transfer-Encoding: chunked", body=encoded)
    framer = Framer(max_body_bytes=10_000)
    end = 0
    for cut in cuts:
        end = min(end + cut, len(raw) - 1)
        assert framer.feed(raw[:end]) is Framing.NEED_MORE
    assert framer.feed(raw) is Framing.WHOLE


HAND_ON = {
    "invalid-chunk-size": request(b"Transfer-Encoding: chunked", body=b"zz\r\nhello\r\n"),
    "chunk-size-too-long": request(b"Transfer-Encoding: chunked", body=b"f" * 40 + b"\r\n"),
    "missing-terminator": request(b"Transfer-Encoding: chunked", body=b"5\r\nhelloXX"),
    "length-and-chunked": request(b"Content-Length: 5", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    "two-lengths": request(b"Content-Length: 5", b"Content-Length: 6", body=b"hello"),
    "bad-length": request(b"Content-Length: -5", body=b"hello"),
    "gzip-last": request(b"Transfer-Encoding: chunked, gzip", body=b"0\r\n\r\n"),
    "header-without-colon": request(b"Nonsense", body=b""),
}


@pytest.mark.parametrize("raw", HAND_ON.values(), ids=HAND_ON.keys())
def test_what_is_not_framed_as_expected_is_handed_on_for_gunicorn_to_refuse(raw):
    assert Framer(max_body_bytes=100).feed(raw) is Framing.HAND_ON


def test_endless_headers_are_refused_and_a_chunked_body_over_the_limit_is_too_large_one_byte_past_it():
    assert Framer(100, max_header_bytes=1000).feed(HEAD + b"X: " + b"a" * 2000) is Framing.HEADERS_TOO_LARGE
    framer = Framer(max_body_bytes=10)
    start = request(b"Transfer-Encoding: chunked", body=b"ff\r\n")
    assert framer.feed(start + b"a" * 10) is Framing.NEED_MORE
    assert framer.feed(start + b"a" * 11) is Framing.BODY_TOO_LARGE


def test_a_chunked_body_over_the_limit_across_chunks_is_too_large_once_the_limit_is_passed():
    framer = Framer(max_body_bytes=10)
    start = request(b"Transfer-Encoding: chunked", body=b"6\r\naaaaaa\r\n6\r\n")
    assert framer.feed(start + b"bbbb") is Framing.NEED_MORE  # 10 bytes: at the limit, not past it
    assert framer.feed(start + b"bbbbb") is Framing.BODY_TOO_LARGE


def test_a_content_length_over_the_limit_is_too_large_from_its_headers_alone():
    assert Framer(max_body_bytes=100).feed(request(b"Content-Length: 1000")) is Framing.BODY_TOO_LARGE
    assert Framer(max_body_bytes=100).feed(request(b"Content-Length: 100")) is Framing.NEED_MORE


def test_expect_continue_is_noticed_for_http_1_1():
    framer = Framer(100)
    assert framer.feed(request(b"Expect: 100-continue", b"Content-Length: 5")) is Framing.NEED_MORE
    assert framer.expects_continue is True
