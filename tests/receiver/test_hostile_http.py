"""Hostile HTTP against a real `presence serve` (gunicorn): malformed chunked bodies, bodies cut off by the client,
stalled and slow senders. Each gets a 400 (or a closed connection), never a 5xx or a traceback, and counts as a
refusal (issue 14, items 1 and 5)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ENGENIUS_KEY, sign
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
    "chunk-size-overflow": (head("/ingest/engenius", *CHUNKED) + b"f" * 40 + b"\r\nhello\r\n0\r\n\r\n", False),
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


# --- slow and stalled senders (item 1) -----------------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENGENIUS_BODY = (FIXTURES / "engenius_sample.json").read_bytes()


def connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def read_all(sock: socket.socket) -> bytes:
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_stalled_request_gets_408_within_its_deadline_and_is_closed(tmp_path):
    log = tmp_path / "server.log"
    env = env_for(tmp_path, PRESENCE_REQUEST_DEADLINE_SECONDS="2")
    with running_receiver(env, log=log) as base_url:
        stalled_body = connect(base_url)  # 2 of 100 promised bytes, then nothing
        stalled_body.sendall(head("/ingest/engenius", "Content-Length: 100", f"Signature: {'0' * 64}") + b"{}")
        stalled_head = connect(base_url)  # a request line and half a header, then nothing
        stalled_head.sendall(b"POST /ingest/engenius HTTP/1.1\r\nHost: rec")
        for sock in (stalled_body, stalled_head):
            with sock:
                answer = read_all(sock)  # returns only when the server closes the connection
                assert status_of(answer) == 408
                body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
                assert body["ok"] is False
                assert body["status"] == 408
                assert "PRESENCE_REQUEST_DEADLINE_SECONDS" in body["error"]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"time"')]
    assert [line["status"] for line in lines if line.get("message") == "ingest"] == [408, 408]


def test_slow_senders_hold_no_thread_while_aps_are_served(tmp_path):
    """Four times as many connections as the receiver has threads, each sending a forged body a byte at a time,
    while an AP posts: every one of the AP's posts is answered 200, and /healthz stays up."""
    log = tmp_path / "server.log"
    env = env_for(tmp_path, PRESENCE_REQUEST_DEADLINE_SECONDS="60")
    stop = threading.Event()
    slow_count = 32  # two workers of four threads: eight threads

    def slow_sender(base_url: str) -> None:
        body = ENGENIUS_BODY
        with connect(base_url) as sock:
            sock.sendall(head("/ingest/engenius", f"Content-Length: {len(body)}", f"Signature: {'0' * 64}"))
            for byte in body:
                if stop.wait(0.5):
                    return
                sock.sendall(bytes([byte]))

    with running_receiver(env, log=log) as base_url:
        senders = [threading.Thread(target=slow_sender, args=(base_url,)) for _ in range(slow_count)]
        for sender in senders:
            sender.start()
        try:
            time.sleep(1.0)  # every slow connection is open and trickling before the AP posts
            answers = []
            for number in range(10):
                document = json.loads(ENGENIUS_BODY)
                document["probe_requests"][0]["first_seen"] += number + 1  # ten distinct reports
                body = json.dumps(document).encode()
                answers.append(
                    requests.post(
                        f"{base_url}/ingest/engenius", data=body, headers={"Signature": sign(body)}, timeout=10
                    ).json()
                )
            assert requests.get(f"{base_url}/healthz", timeout=10).status_code == 200
        finally:
            stop.set()
            for sender in senders:
                sender.join()
    assert [answer["ok"] for answer in answers] == [True] * 10
    assert sum(answer["stored"] for answer in answers) == 10 + 2  # the first also stores the other two records


def test_a_real_ap_on_a_slow_link_is_served_within_the_deadline(tmp_path):
    with running_receiver(env_for(tmp_path, PRESENCE_REQUEST_DEADLINE_SECONDS="10")) as base_url:
        body = ENGENIUS_BODY
        with connect(base_url) as sock:
            sock.sendall(head("/ingest/engenius", f"Content-Length: {len(body)}", f"Signature: {sign(body)}")[:30])
            time.sleep(0.3)
            rest = head("/ingest/engenius", f"Content-Length: {len(body)}", f"Signature: {sign(body)}")[30:]
            sock.sendall(rest)
            for start in range(0, len(body), 100):
                time.sleep(0.1)
                sock.sendall(body[start : start + 100])
            answer = read_all(sock)
    assert status_of(answer) == 200
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"ok": True, "stored": 3, "duplicates": 0}
