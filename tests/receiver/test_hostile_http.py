"""Hostile HTTP against a real `presence serve` (gunicorn): malformed chunked bodies, bodies cut off by the client,
stalled and slow senders. Each gets a 400 (or a closed connection), never a 5xx or a traceback, and counts as a
refusal (issue 14, items 1 and 5)."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest
import requests

from tests.conftest import ENGENIUS_KEY
from tests.servers import running_receiver

pytestmark = pytest.mark.slow


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PRESENCE_DATA_DIR": str(tmp_path / "data"), "PRESENCE_ENGENIUS_KEY": ENGENIUS_KEY, **extra}


def exchange(base_url: str, raw: bytes, *, half_close: bool = False, timeout: float = 20.0) -> bytes:
    """Send `raw` on a fresh connection (then optionally shut our write side, as a client that gives up), and
    return everything the server answered until it closed the connection."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def head(path: str, *lines: str) -> bytes:
    return ("\r\n".join([f"POST {path} HTTP/1.1", "Host: receiver", *lines]) + "\r\n\r\n").encode()


def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else None


CHUNKED = ("Transfer-Encoding: chunked", f"Signature: {'0' * 64}")
MALFORMED = {
    "invalid-chunk-size": (head("/ingest/engenius", *CHUNKED) + b"zz\r\nhello\r\n0\r\n\r\n", False),
    "missing-chunk-terminator": (head("/ingest/engenius", *CHUNKED) + b"5\r\nhelloXX0\r\n\r\n", False),
    "chunked-cut-off": (head("/ingest/engenius", *CHUNKED) + b"64\r\n{\"probe", True),
    "length-cut-off": (head("/ingest/engenius", "Content-Length: 100", f"Signature: {'0' * 64}") + b"{}", True),
}


@pytest.mark.parametrize(("raw", "half_close"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_or_cut_off_bodies_get_400_or_a_closed_connection_never_500(tmp_path, raw, half_close):
    log = tmp_path / "server.log"
    with running_receiver(env_for(tmp_path), log=log) as base_url:
        answer = exchange(base_url, raw, half_close=half_close)
        assert status_of(answer) in {400, None}, answer[:300]
        if status_of(answer) == 400 and b"application/json" in answer:
            assert b'"ok":false' in answer.replace(b" ", b"")
        assert requests.get(f"{base_url}/healthz", timeout=5).status_code == 200
    text = log.read_text()
    assert "Traceback" not in text
    assert '"status": 500' not in text


def test_a_thousand_malformed_bodies_count_as_refusals_and_leave_no_traceback(tmp_path):
    log = tmp_path / "server.log"
    with running_receiver(env_for(tmp_path, PRESENCE_REFUSAL_LIMIT="5"), workers=1, log=log) as base_url:
        answers = [status_of(exchange(base_url, MALFORMED["invalid-chunk-size"][0])) for _ in range(1000)]
        assert set(answers) <= {400, 429}
        assert answers[:6] == [400] * 6
        assert answers[6:] == [429] * (1000 - 6)  # refused too often: turned away before its body is read
    text = log.read_text()
    assert "Traceback" not in text
    assert len(text) < 1_000_000  # one short line per refusal at most, not a traceback each
